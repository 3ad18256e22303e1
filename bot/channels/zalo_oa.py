"""Zalo Official Account (OA API v3) adapter: a signed webhook in, customer-service messages out.

Receiving. Zalo POSTs each event to our webhook and wants 200 within 2 seconds. The request is checked
first: ``X-ZEvent-Signature`` must equal ``"mac=" + hex(sha256(app_id + raw body + timestamp + OA secret
key))`` (plain SHA-256, compared in constant time) and the body's timestamp must be recent; anything else
gets 403 and changes nothing. The event is then handled in a background task. Zalo retries a delivery it
thinks failed: each event id (the message's ``msg_id``) is claimed in ``zalo_seen_events`` under a unique
key before it is handled, so a retry or a replay, on this worker or another, after a restart too, is
handled once. ``user_send_text`` and ``user_send_image`` (``message.attachments[].payload.url``) become
neutral messages; stickers, files and other user messages are answered politely by the dispatcher;
``follow`` greets the new follower; everything else (the OA's own messages echoed back, "seen", …) is
ignored.

Sending. ``POST {api}/v3.0/oa/message/cs`` with the ``access_token`` header; texts are split to 2,000
characters; photos go as a media template (a URL as it is; a file on this server uploaded first with
``/v2.0/oa/upload/image``). An OA may message a user only within 7 days of the user's last interaction:
errors -230/-232 raise :class:`OutsideMessagingWindow` (an :class:`Unreachable`: never retried).

Tokens. The access token lives 25 hours and is refreshed (the refresh token rotating) by one process at a
time; the pair is stored encrypted: :mod:`bot.channels.zalo_oa_tokens`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import DeliveryError, OutsideMessagingWindow, RateLimited
from bot.channels.texts import split_text
from bot.channels.zalo_common import (
    DEFAULT_CHOICES_TTL,
    MAX_TEXT,
    Handle,
    Now,
    ZaloChannelBase,
    is_url,
    send_replies,
    utc_now,
    with_choices,
    with_photos_note,
)
from bot.channels.zalo_oa_tokens import RATE_LIMIT_PAUSE, OATokens, ZaloOAError, error_code, oa_post
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.types import IncomingMessage, MediaRef, MessageKind, Reply
from storage.db import Database
from storage.media import sniff

logger = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"

INVALID_TOKEN = -216
EXPIRED_TOKEN = -220
OUTSIDE_WINDOW = frozenset({-230, -232})
RATE_LIMIT = -32
UPLOAD_LIMIT = 1024 * 1024  # the OA image upload takes JPEG/PNG up to 1 MB
UPLOAD_TYPES = frozenset({"image/jpeg", "image/png"})
# The signed timestamp is found in the raw body, so the signature is checked before any JSON is parsed.
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,17})"?')
USER_MESSAGE_EVENTS = frozenset(
    {
        "user_send_gif",
        "user_send_audio",
        "user_send_video",
        "user_send_location",
        "user_send_link",
        "user_send_business_card",
    }
)


def signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """The ``X-ZEvent-Signature`` Zalo sends: plain SHA-256 (not an HMAC) over the four parts."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret_key.encode()).hexdigest()
    return f"mac={digest}"


def _timestamp(value: Any) -> datetime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 10**11:  # milliseconds, as Zalo sends them
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def event_id(event: dict[str, Any]) -> str:
    """The id a retried delivery shares with the first one: the message id, else event + user + time."""
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    if message.get("msg_id"):
        return f"msg:{message['msg_id']}"
    sender = _sender_id(event)
    return f"{event.get('event_name')}:{sender}:{event.get('timestamp')}"


def _sender_id(event: dict[str, Any]) -> str:
    for key in ("sender", "follower", "user"):
        value = event.get(key)
        if isinstance(value, dict) and value.get("id"):
            return str(value["id"])
    return ""


def to_incoming(event: dict[str, Any]) -> IncomingMessage | None:
    """Translate one OA webhook event into a neutral message; None for events we ignore."""
    name = str(event.get("event_name") or "")
    user_id = _sender_id(event)
    if not user_id or not (name.startswith("user_send_") or name == "follow"):
        return None  # the OA's own messages echoed back, "seen"/"received" receipts, unfollow, ...
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "chat_id": user_id,
        "user_id": user_id,
        "message_id": str(message["msg_id"]) if message.get("msg_id") else None,
        "timestamp": _timestamp(event.get("timestamp")),
    }
    text = str(message.get("text") or "")
    if name == "follow":
        return IncomingMessage(**base, kind=MessageKind.TEXT, text="/start")
    if name == "user_send_text":
        return IncomingMessage(**base, kind=MessageKind.TEXT, text=text)
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    if name == "user_send_image":
        urls = [
            str(a["payload"]["url"])
            for a in attachments
            if isinstance(a.get("payload"), dict) and a["payload"].get("url") and a.get("type", "image") == "image"
        ]
        if not urls:
            return IncomingMessage(**base, kind=MessageKind.OTHER)
        return IncomingMessage(**base, kind=MessageKind.PHOTO, text=text, photos=[MediaRef(u, url=u) for u in urls])
    if name == "user_send_sticker":
        return IncomingMessage(**base, kind=MessageKind.STICKER)
    if name == "user_send_file":
        first = attachments[0].get("payload") if attachments else None
        payload = first if isinstance(first, dict) else {}
        url = str(payload.get("url") or "")
        size = payload.get("size")
        ref = MediaRef(
            url, url=url or None, file_name=payload.get("name"), size=int(size) if str(size).isdigit() else None
        )
        return IncomingMessage(**base, kind=MessageKind.DOCUMENT, text=text, document=ref)
    if name in USER_MESSAGE_EVENTS or name.startswith("user_send_"):
        return IncomingMessage(**base, kind=MessageKind.OTHER)
    return None


def _mapped_error(code: int, message: str) -> DeliveryError:
    if code in OUTSIDE_WINDOW:
        return OutsideMessagingWindow(f"Zalo OA: error {code}: the user is outside the OA's 7-day window")
    if code == RATE_LIMIT:
        return RateLimited(RATE_LIMIT_PAUSE, f"Zalo OA: error {code}: rate limit")
    return ZaloOAError(code, message)


# --------------------------------------------------------------------------------------------------------
# The channel
# --------------------------------------------------------------------------------------------------------


class ZaloOAChannel(ZaloChannelBase):
    name = CHANNEL
    label = "zalo oa"

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        db: Database,
        *,
        now: Now = utc_now,
        wall_clock: Callable[[], float] = time.time,
        keepalive_seconds: float = 900,
        choices_ttl=DEFAULT_CHOICES_TTL,
        inbox: Inbox | None = None,
    ) -> None:
        if not settings.zalo_oa_enabled or settings.zalo_oa_secret_key is None or not settings.zalo_oa_app_id:
            raise ValueError("ZALO_OA_APP_ID and ZALO_OA_SECRET_KEY are required")
        self._setup(settings, handle, db, choices_ttl=choices_ttl, now=now, inbox=inbox)
        self.app_id = settings.zalo_oa_app_id
        self._secret_key = settings.zalo_oa_secret_key.get_secret_value()
        self.api_base = settings.zalo_oa_api_base_url.rstrip("/")
        self.max_age = settings.zalo_oa_webhook_max_age_seconds
        self.wall_clock = wall_clock
        self.keepalive_seconds = keepalive_seconds
        self.tokens = OATokens(settings, db, self._http, now=now)
        self._keepalive: asyncio.Task | None = None
        self._ready = asyncio.Event()  # set once the token pair is loaded: events wait for it

    # -- lifecycle -----------------------------------------------------------------------------------------

    def attach(self, server: WebhookServer) -> None:
        """Serve the webhook route on the process's shared server (call before it starts)."""
        self._attach_route(server, self.settings.zalo_oa_webhook_path, self._webhook)

    async def start(self) -> None:
        await self.tokens.seed()
        await self._resume()
        await self._start_server(self.settings.zalo_oa_webhook_path, self._webhook)
        self._keepalive = asyncio.create_task(self._keep_tokens_fresh(), name="zalo-oa-tokens")
        self._ready.set()
        logger.info("zalo oa: webhook at %s", self.settings.zalo_oa_webhook_path)

    async def stop(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            await asyncio.gather(self._keepalive, return_exceptions=True)
            self._keepalive = None
        await self._close()

    async def _keep_tokens_fresh(self) -> None:
        """Refresh ahead of expiry even when nobody writes: an unused refresh token dies after 3 months."""
        while True:
            await asyncio.sleep(self.keepalive_seconds)
            try:
                await self.tokens.get()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("zalo oa: could not keep the access token fresh: %s", exc)

    # -- receiving -----------------------------------------------------------------------------------------

    def verify(self, body: bytes, timestamp: str, given: str) -> bool:
        expected = signature(self.app_id, body, timestamp, self._secret_key)
        return secrets.compare_digest(given.strip().lower().encode(), expected.encode())

    def fresh(self, timestamp: str) -> bool:
        at = _timestamp(timestamp)
        return at is not None and abs(self.wall_clock() - at.timestamp()) <= self.max_age

    def signed_timestamp(self, body: bytes, given: str) -> str | None:
        """The body's timestamp the signature was made with, or None: checked on the raw bytes, before any
        JSON is parsed (a deeply nested body without a valid signature costs a regex scan, no more)."""
        if not given:
            return None
        for match in itertools.islice(_TIMESTAMP.finditer(body), 4):
            timestamp = match.group(1).decode()
            if self.verify(body, timestamp, given):
                return timestamp
        return None

    async def _webhook(self, request: web.Request) -> web.Response:
        """Signature, freshness, then the body: malformed → 400, a kind we ignore → 200, else stored (committed)
        → 200; the database unreachable → 503 (Zalo delivers again). Never a 500."""
        body = await request.read()
        timestamp = self.signed_timestamp(body, request.headers.get(SIGNATURE_HEADER, ""))
        if timestamp is None:
            self.refusals.note("wrong signature")
            return web.Response(status=403)
        if not self.fresh(timestamp):
            self.refusals.note(f"timestamp outside the {self.max_age:g}s window")
            return web.Response(status=403)
        try:
            event = json.loads(body)
            if not isinstance(event, dict) or str(event.get("timestamp")) != timestamp:
                raise ValueError("not a signed event")
            key = event_id(event)
        except (ValueError, RecursionError, TypeError) as exc:
            self.refusals.note(f"malformed event ({type(exc).__name__})")
            return web.Response(status=400)
        try:
            await self.receive(event, key)
        except Exception as exc:  # the database is unreachable: not acknowledged, delivered again
            self.refusals.note(f"not stored ({type(exc).__name__})")
            return web.Response(status=503)
        return web.json_response({"error": 0, "message": "Success"})

    def translate(self, update: dict[str, Any]) -> IncomingMessage | None:
        return to_incoming(update)

    async def _process(self, incoming: IncomingMessage, key: str | None) -> None:
        await self._ready.wait()  # an event can arrive on the shared server before this channel started
        await super()._process(incoming, key)

    # -- sending -------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, replies: list[Reply]) -> None:
        """Answer a user right after their message (inside the 7-day window by definition)."""
        await send_replies(self.choices, self._send_one, chat_id, replies, max_wait=5.0, sent=self._sent)

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Send one outbox reply; -230/-232 raise :class:`OutsideMessagingWindow` (never retried).

        ``reply.photos`` are URLs or paths of local files (e.g. ``MediaStore.path(sha256)``). It opens its own
        short transactions (options, token refresh): never call it inside a unit of work.
        """
        await self.choices.remember(chat_id, [reply])
        return await self._send_one(chat_id, reply)

    async def _send_one(self, chat_id: str, reply: Reply) -> str | None:
        message_id: str | None = None
        unsent = 0
        for photo in reply.photos:
            element = await self._image_element(photo)
            if element is None:
                unsent += 1
                continue
            attachment = {"type": "template", "payload": {"template_type": "media", "elements": [element]}}
            message_id = await self._post_message(chat_id, {"attachment": attachment}) or message_id
        text = with_choices(with_photos_note(reply.text, unsent), reply.flat_buttons())
        if text.strip():
            for part in split_text(text, MAX_TEXT):
                message_id = await self._post_message(chat_id, {"text": part}) or message_id
        return message_id

    async def _post_message(self, user_id: str, message: dict[str, Any]) -> str | None:
        data = await self.api(CS_MESSAGE_PATH, json_body={"recipient": {"user_id": user_id}, "message": message})
        result = data.get("data") if isinstance(data.get("data"), dict) else {}
        return str(result["message_id"]) if result.get("message_id") else None

    async def _image_element(self, photo: str) -> dict[str, str] | None:
        """A media-template element for a photo: a URL as it is, a local JPEG/PNG up to 1 MB uploaded."""
        if is_url(photo):
            return {"media_type": "image", "url": photo}
        path = Path(photo)
        if not path.is_file() or path.stat().st_size > UPLOAD_LIMIT:
            return None
        data = await asyncio.to_thread(path.read_bytes)
        mime = sniff(data[:64])
        if mime not in UPLOAD_TYPES:
            return None

        def form() -> aiohttp.FormData:
            payload = aiohttp.FormData()
            extension = "png" if mime == "image/png" else "jpg"
            payload.add_field("file", data, filename=f"photo.{extension}", content_type=mime)
            return payload

        uploaded = await self.api(UPLOAD_IMAGE_PATH, form=form)
        result = uploaded.get("data") if isinstance(uploaded.get("data"), dict) else {}
        attachment_id = result.get("attachment_id")
        if not attachment_id:
            raise ZaloOAError(-1, "the image upload returned no attachment_id")
        return {"media_type": "image", "attachment_id": str(attachment_id)}

    async def api(
        self,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> dict[str, Any]:
        """POST to the OA API with the current access token; on -216/-220 refresh once and try again."""
        token = await self.tokens.get()
        for attempt in range(2):
            data = await self._request(path, token, json_body, form)
            code = error_code(data)
            if code == 0:
                return data
            if code in (INVALID_TOKEN, EXPIRED_TOKEN) and attempt == 0:
                token = await self.tokens.refresh(rejected=token)
                continue
            raise _mapped_error(code, str(data.get("message") or ""))
        raise AssertionError("unreachable")

    async def _request(
        self,
        path: str,
        token: str,
        json_body: dict[str, Any] | None,
        form: Callable[[], aiohttp.FormData] | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"data": form()} if form is not None else {"json": json_body or {}}
        return await oa_post(
            self._http(),
            self.api_base + path,
            f"Zalo OA {path}",
            total=30,
            connect=10,
            headers={"access_token": token},
            **kwargs,
        )
