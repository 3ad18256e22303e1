"""Zalo Bot API adapter (bot.zaloplatforms.com, Telegram-like) on aiohttp's client and server.

* **Polling** (default): ``getUpdates`` returns ONE update per call and takes no offset; an idle long poll
  ends with HTTP 408, which is normal: poll again at once. Other failures back off exponentially.
* **Webhook** (``ZALO_BOT_WEBHOOK_URL``): ``setWebhook`` with a ``secret_token``; every request's
  ``X-Bot-Api-Secret-Token`` is compared in constant time (403 otherwise), answered 200 at once, and the
  update is handled in a background task.

Events ``message.text.received``, ``message.image.received`` (the image in ``photo`` or ``photo_url``),
``message.sticker.received`` and ``message.unsupported.received`` become neutral messages; the dispatcher
answers stickers and unsupported messages politely. Replies go out with ``sendMessage`` (split over 2,000
characters) and ``sendPhoto`` (by URL only: photos stored on this server are mentioned in a note instead).
Buttons become numbered options (see :mod:`bot.channels.zalo_common`). The token is part of every URL:
it never appears in our log lines, and ``Settings.secrets()`` masks it in anyone else's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.channels.base import DeliveryError, RateLimited, TemporaryFailure, Unreachable
from bot.channels.texts import split_text
from bot.channels.zalo_common import (
    DEFAULT_CHOICES_TTL,
    MAX_TEXT,
    Handle,
    Now,
    ZaloChannelBase,
    is_url,
    post_json,
    send_replies,
    utc_now,
    with_choices,
    with_photos_note,
)
from bot.inbox import Inbox
from bot.locks import LeaderLock, while_held
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.types import ChatKind, IncomingMessage, MediaRef, MessageKind, Reply
from storage.db import Database

logger = logging.getLogger(__name__)

CHANNEL = "zalo_bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"

TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
STICKER_EVENT = "message.sticker.received"
UNSUPPORTED_EVENT = "message.unsupported.received"

IDLE_POLL = 408  # an idle long poll ends with this code: not an error
DEFAULT_RETRY_AFTER = 5.0


class ZaloBotError(DeliveryError):
    """The Bot API answered ``ok: false``."""

    def __init__(self, method: str, code: int, description: str = "") -> None:
        super().__init__(f"Zalo Bot API {method}: error {code} {description}".rstrip())
        self.method = method
        self.code = code
        self.description = description


def _timestamp(value: Any) -> datetime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 10**11:  # milliseconds
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def _photo_url(message: dict[str, Any]) -> str | None:
    for key in ("photo_url", "photo"):
        value = message.get(key)
        if isinstance(value, list) and value:  # some clients send sizes; take the last (largest)
            value = value[-1]
        if isinstance(value, dict):
            value = value.get("url") or value.get("photo_url")
        if isinstance(value, str) and value:
            return value
    return None


def to_incoming(update: dict[str, Any]) -> IncomingMessage | None:
    """Translate one Bot API update into a neutral message; None for what we do not handle."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if sender.get("is_bot"):
        return None
    user_id = str(sender.get("id") or "")
    if not user_id:
        return None
    message_id = message.get("message_id")
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "chat_id": str(chat.get("id") or user_id),
        "user_id": user_id,
        "display_name": str(sender.get("display_name") or sender.get("name") or ""),
        "chat_kind": ChatKind.GROUP if str(chat.get("chat_type", "")).upper() == "GROUP" else ChatKind.PRIVATE,
        "message_id": str(message_id) if message_id is not None else None,
        "timestamp": _timestamp(message.get("date")),
    }
    event = str(update.get("event_name") or "")
    if event == TEXT_EVENT:
        return IncomingMessage(**base, kind=MessageKind.TEXT, text=str(message.get("text") or ""))
    if event == IMAGE_EVENT:
        url = _photo_url(message)
        if url is None:
            return IncomingMessage(**base, kind=MessageKind.OTHER)
        caption = str(message.get("caption") or message.get("text") or "")
        return IncomingMessage(**base, kind=MessageKind.PHOTO, text=caption, photos=[MediaRef(url, url=url)])
    if event == STICKER_EVENT:
        return IncomingMessage(**base, kind=MessageKind.STICKER)
    if event == UNSUPPORTED_EVENT or event.startswith("message."):
        return IncomingMessage(**base, kind=MessageKind.OTHER)
    return None


def updates_in(result: Any) -> list[dict[str, Any]]:
    """getUpdates answers one update (documented); accept a list too."""
    if isinstance(result, dict):
        return [result]
    if isinstance(result, list):
        return [item for item in result if isinstance(item, dict)]
    return []


def _message_id(result: Any) -> str | None:
    if isinstance(result, dict) and result.get("message_id") is not None:
        return str(result["message_id"])
    return None


class ZaloBotChannel(ZaloChannelBase):
    name = CHANNEL
    label = "zalo bot"

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        db: Database,
        *,
        poll_timeout: int = 30,
        backoff: tuple[float, float] = (1.0, 60.0),
        choices_ttl=DEFAULT_CHOICES_TTL,
        now: Now = utc_now,
        inbox: Inbox | None = None,
    ) -> None:
        if not settings.zalo_bot_enabled or settings.zalo_bot_token is None:
            raise ValueError("ZALO_BOT_TOKEN is not set")
        self._setup(settings, handle, db, choices_ttl=choices_ttl, now=now, inbox=inbox)
        self._token = settings.zalo_bot_token.get_secret_value()
        self.base_url = settings.zalo_bot_api_base_url.rstrip("/")
        self.poll_timeout = poll_timeout
        self.backoff = backoff
        self.webhook_secret = (
            settings.zalo_bot_webhook_secret.get_secret_value()
            if settings.zalo_bot_webhook_secret and settings.zalo_bot_webhook_secret.get_secret_value()
            else secrets.token_urlsafe(32)
        )
        self.bot_info: dict[str, Any] | None = None
        self._poller: asyncio.Task | None = None

    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.zalo_bot_webhook_url)

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30.0) -> Any:
        """One Bot API call; the ``result`` on ``ok``, else :class:`ZaloBotError`, :class:`RateLimited` or
        :class:`TemporaryFailure` (network errors, 5xx). Messages never carry the URL (it holds the token)."""
        url = f"{self.base_url}/bot{self._token}/{method}"
        status, data = await post_json(
            self._http(), url, f"Zalo Bot API {method}", total=timeout, connect=10, json=params or {}
        )
        body = data if isinstance(data, dict) else {}
        code = body.get("error_code")
        code = int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else status
        if status == 429 or code == 429:
            parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
            retry = parameters.get("retry_after")
            raise RateLimited(float(retry) if isinstance(retry, int | float) and retry > 0 else DEFAULT_RETRY_AFTER)
        if status == IDLE_POLL or code == IDLE_POLL:
            raise ZaloBotError(method, IDLE_POLL, "idle poll")
        if status >= 500 or code >= 500:
            raise TemporaryFailure(f"Zalo Bot API {method}: HTTP {status}")
        if not body:
            raise TemporaryFailure(f"Zalo Bot API {method}: HTTP {status} without a JSON answer")
        if body.get("ok"):
            return body.get("result")
        raise ZaloBotError(method, code, str(body.get("description") or ""))

    # -- lifecycle -----------------------------------------------------------------------------------------

    def attach(self, server: WebhookServer) -> None:
        """Serve the webhook route on the process's shared server (call before it starts); polling: nothing."""
        if self.webhook_mode:
            self._attach_route(server, self.settings.zalo_bot_webhook_path, self._webhook)

    async def start(self) -> None:
        self.bot_info = await self.call("getMe")
        name = (self.bot_info or {}).get("account_name") or (self.bot_info or {}).get("display_name") or "?"
        await self._resume()
        if self.webhook_mode:
            await self._start_server(self.settings.zalo_bot_webhook_path, self._webhook)
            await self.call(
                "setWebhook", {"url": self.settings.zalo_bot_webhook_url, "secret_token": self.webhook_secret}
            )
            logger.info("zalo bot: webhook set for %s", name)
        else:
            try:
                await self.call("deleteWebhook")
            except DeliveryError as exc:  # no webhook to delete is fine
                logger.debug("zalo bot: deleteWebhook: %s", exc)
            if self.inbox is not None and self.inbox.shared:  # one process of the bot polls, every one handles
                lock = LeaderLock(self.settings.database_url, f"sct-assistant:poll:{self.name}", file_suffix="poll")
                retry = self.settings.leader_retry_seconds
                poll = while_held(lock, self._poll_loop, retry_seconds=retry, what="zalo bot polling")
            else:
                poll = self._poll_loop()
            self._poller = asyncio.create_task(poll, name="zalo-bot-poll")
            logger.info("zalo bot: long polling as %s", name)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self._close()

    # -- receiving -----------------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        failures = 0
        while True:
            try:
                result = await self.call(
                    "getUpdates", {"timeout": str(self.poll_timeout)}, timeout=self.poll_timeout + 15
                )
            except asyncio.CancelledError:
                raise
            except ZaloBotError as exc:
                if exc.code == IDLE_POLL:
                    failures = 0
                    continue
                failures += 1
                logger.warning("zalo bot: getUpdates failed (%s); retrying", exc)
                await self._sleep_backoff(failures)
                continue
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except Exception as exc:
                failures += 1
                logger.warning("zalo bot: getUpdates failed (%s); retrying", exc)
                await self._sleep_backoff(failures)
                continue
            failures = 0
            for update in updates_in(result):
                await self._take(update)

    async def _take(self, update: dict[str, Any]) -> None:
        """A polled update (getUpdates hands each one out once): stored at once; a database failure is retried
        for a while rather than dropping what Zalo will not hand out again."""
        for failures in range(1, 8):
            try:
                await self.receive(update, self.update_key(update))
                return
            except Exception as exc:
                logger.warning("zalo bot: an update could not be stored (%s); retrying", type(exc).__name__)
                await self._sleep_backoff(failures)
        logger.error("zalo bot: an update was dropped: the database stayed unreachable")

    async def _sleep_backoff(self, failures: int) -> None:
        base, cap = self.backoff
        delay = min(cap, base * 2 ** (failures - 1))
        await asyncio.sleep(delay * random.uniform(0.8, 1.0))

    async def _webhook(self, request: web.Request) -> web.Response:
        """Secret first; then the body: malformed → 400, a kind we ignore → 200, else stored (committed) → 200;
        the database unreachable → 503. Never a 500."""
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.webhook_secret.encode()):
            self.refusals.note("wrong secret")
            return web.Response(status=403)
        try:
            body = json.loads(await request.read())
            update = body.get("result", body) if isinstance(body, dict) else None
            if not isinstance(update, dict):
                raise ValueError("not an update")
        except (ValueError, RecursionError) as exc:
            self.refusals.note(f"malformed update ({type(exc).__name__})")
            return web.Response(status=400)
        try:
            await self.receive(update, self.update_key(update))
        except Exception as exc:  # the database is unreachable: not acknowledged, delivered again
            self.refusals.note(f"not stored ({type(exc).__name__})")
            return web.Response(status=503)
        return web.json_response({"message": "Success"})

    def translate(self, update: dict[str, Any]) -> IncomingMessage | None:
        return to_incoming(update)

    @staticmethod
    def update_key(update: dict[str, Any]) -> str | None:
        """What a redelivered update shares with the first delivery: its chat and message id."""
        incoming = to_incoming(update)
        return f"{incoming.chat_id}:{incoming.message_id}" if incoming and incoming.message_id else None

    # -- sending -------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, replies: list[Reply]) -> None:
        """Answer a user: the options are remembered first, so a quick "1" already finds them."""
        await send_replies(self.choices, self._send_one, chat_id, replies, sent=self._sent)

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Send one outbox reply (button payloads already signed); failures in the common terms.

        It opens its own short transactions (the numbered options are stored): never call it inside a unit
        of work (on SQLite that would wait for itself).
        """
        await self.choices.remember(chat_id, [reply])
        try:
            return await self._send_one(chat_id, reply)
        except ZaloBotError as exc:
            if exc.code in (403, 404):  # blocked, or no such user for this bot
                raise Unreachable(str(exc)) from exc
            raise

    async def _send_one(self, chat_id: str, reply: Reply) -> str | None:
        message_id: str | None = None
        urls = [photo for photo in reply.photos if is_url(photo)]
        for url in urls:
            message_id = _message_id(await self.call("sendPhoto", {"chat_id": chat_id, "photo": url})) or message_id
        # The Bot API takes photos by URL only, and evidence photos are not published on the internet.
        text = with_choices(with_photos_note(reply.text, len(reply.photos) - len(urls)), reply.flat_buttons())
        if text.strip():
            for part in split_text(text, MAX_TEXT):
                result = await self.call("sendMessage", {"chat_id": chat_id, "text": part})
                message_id = _message_id(result) or message_id
        return message_id
