"""A recording fake of the Zalo Bot API (bot-api.zaloplatforms.com), served by aiohttp on 127.0.0.1.

Point the channel at it with ``ZALO_BOT_API_BASE_URL=fake.api_base_url`` and ``ZALO_BOT_TOKEN=fake.token``.
Requests arrive as ``POST {base}/bot{token}/{method}`` with a JSON body (GET with a query string works
too) and are answered in the Bot API envelope ``{"ok", "result", "description", "error_code"}``.

Like the real service, ``getUpdates`` hands out ONE update per call and takes no offset: an update is
gone once answered. A poll with nothing to hand out waits (at most ``idle_after`` seconds, whatever
``timeout`` the client asked for, so tests stay fast) and then ends with HTTP 408. While a webhook is set,
``getUpdates`` is refused with 409. ``sendMessage`` refuses texts over 2,000 characters; chats in
``blocked_chats`` get 403. ``fail_next`` injects errors (an HTTP status, an ``error_code`` in a 200
envelope, or ``"network"`` to drop the connection). Images registered with ``add_image`` are served at
``/images/NAME`` for the channel's downloads. Every request is recorded as a :class:`Call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from typing import Any

from aiohttp import web

from tests.support.fakes.loopback import Call, LoopbackFake, _Failure
from tests.support.fakes.loopback import Recorder as Recorder  # re-exported: tests and older imports find it here

DEFAULT_TOKEN = "2024110101:zalo-TEST-token"
MAX_TEXT = 2000

_ids = itertools.count(1)


def _message(user_id: str, chat_id: str | None, name: str, message_id: str | None) -> dict[str, Any]:
    return {
        "from": {"id": user_id, "display_name": name, "is_bot": False},
        "chat": {"id": chat_id or user_id, "chat_type": "PRIVATE"},
        "message_id": message_id or f"mid{next(_ids):06d}",
        "date": int(time.time() * 1000),
    }


def text_update(
    text: str, *, user_id: str = "zu1", chat_id: str | None = None, name: str = "Lan", message_id: str | None = None
) -> dict[str, Any]:
    message = _message(user_id, chat_id, name, message_id)
    message["text"] = text
    return {"event_name": "message.text.received", "message": message}


def image_update(
    url: str,
    *,
    key: str = "photo_url",
    caption: str | None = None,
    user_id: str = "zu1",
    chat_id: str | None = None,
    name: str = "Lan",
    message_id: str | None = None,
) -> dict[str, Any]:
    """An image message; the URL is in ``photo_url`` (what Zalo sends in practice) or ``photo``."""
    message = _message(user_id, chat_id, name, message_id)
    message[key] = url
    if caption is not None:
        message["caption"] = caption
    return {"event_name": "message.image.received", "message": message}


def sticker_update(*, user_id: str = "zu1", name: str = "Lan", message_id: str | None = None) -> dict[str, Any]:
    message = _message(user_id, None, name, message_id)
    message["sticker"] = "sticker-id-1"
    return {"event_name": "message.sticker.received", "message": message}


def unsupported_update(*, user_id: str = "zu1", name: str = "Lan", message_id: str | None = None) -> dict[str, Any]:
    return {"event_name": "message.unsupported.received", "message": _message(user_id, None, name, message_id)}


class FakeZaloBotAPI(LoopbackFake):
    def __init__(self, token: str = DEFAULT_TOKEN, *, idle_after: float = 0.3) -> None:
        super().__init__()
        self.token = token
        self.idle_after = idle_after
        self.webhook: dict[str, Any] | None = None
        self.blocked_chats: set[str] = set()
        self.idle_polls = 0
        self._updates: deque[dict[str, Any]] = deque()
        self._update_event = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    async def start(self) -> None:
        self._update_event = asyncio.Event()
        await super().start()

    async def stop(self) -> None:
        if self._runner is not None:
            self._update_event.set()  # release pending long polls
        await super().stop()

    @property
    def api_base_url(self) -> str:
        return self.base_url

    # -- test side -----------------------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates and wake a pending long poll."""
        self._updates.append(update)
        self._update_event.set()

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def fail_next(
        self, method: str, status: int | str = 500, times: int = 1, *, error_code: int | None = None, description=""
    ) -> None:
        """The next ``times`` calls of ``method`` fail: HTTP ``status`` (200 with ``error_code`` for an
        ``ok: false`` envelope), or ``"network"`` (connection dropped)."""
        self._queue_failure(method, _Failure(status, error_code, description), times)

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        return [
            c.params.get("text", "")
            for c in self.calls
            if c.method == "sendMessage" and c.status == 200 and c.error_code is None
            and (chat_id is None or str(c.params.get("chat_id")) == chat_id)
        ]  # fmt: skip

    # -- server --------------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    params.update(body)
        return params

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        if request.match_info["token"] != self.token:
            return self._answer(call, 401, error_code=401, description="Unauthorized")
        failure = self._next_failure(method)
        if failure is not None:
            if failure.status == "network":
                return self._drop(call, request)
            assert isinstance(failure.status, int)
            return self._answer(
                call, failure.status, error_code=failure.error_code or failure.status, description=failure.description
            )
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._answer(call, 404, error_code=404, description="Not Found: method not found")
        return await handler(call, request)

    def _answer(
        self, call: Call, status: int, *, result: Any = None, error_code: int | None = None, description: str = ""
    ) -> web.Response:
        call.status = status
        if error_code is not None:
            call.error_code = error_code
            payload = {"ok": False, "error_code": error_code, "description": description}
        else:
            payload = {"ok": True, "result": result}
        self.recorder.record(call)
        return web.json_response(payload, status=status)

    async def _m_getMe(self, call: Call, request: web.Request) -> web.Response:
        return self._answer(call, 200, result={"id": "bot-1", "account_name": "sct.test.bot", "account_type": "BASIC"})

    async def _m_getUpdates(self, call: Call, request: web.Request) -> web.Response:
        if self.webhook is not None:
            return self._answer(call, 409, error_code=409, description="Conflict: webhook is active")
        if not self._updates:
            self._update_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), self.idle_after)
        if request.transport is None or request.transport.is_closing():
            # The client gave up on this poll (e.g. it stopped): do not hand an update to nobody.
            call.status = 0
            self.recorder.record(call)
            return web.Response(status=408)
        if not self._updates:
            self.idle_polls += 1
            return self._answer(call, 408, error_code=408, description="Request timeout")
        return self._answer(call, 200, result=self._updates.popleft())

    async def _m_setWebhook(self, call: Call, request: web.Request) -> web.Response:
        secret = str(call.params.get("secret_token") or "")
        if not call.params.get("url") or not 8 <= len(secret) <= 256:
            return self._answer(call, 400, error_code=400, description="Bad Request: url and secret_token required")
        self.webhook = {"url": call.params["url"], "secret_token": secret}
        return self._answer(call, 200, result={"url": call.params["url"]})

    async def _m_deleteWebhook(self, call: Call, request: web.Request) -> web.Response:
        self.webhook = None
        return self._answer(call, 200, result=True)

    async def _m_getWebhookInfo(self, call: Call, request: web.Request) -> web.Response:
        return self._answer(call, 200, result={"url": (self.webhook or {}).get("url", "")})

    def _new_message(self, call: Call) -> dict[str, Any]:
        return {"message_id": f"bm{next(_ids):06d}", "date": int(time.time() * 1000)}

    async def _m_sendMessage(self, call: Call, request: web.Request) -> web.Response:
        chat_id = str(call.params.get("chat_id") or "")
        text = call.params.get("text")
        if not chat_id or not isinstance(text, str) or not text:
            return self._answer(call, 400, error_code=400, description="Bad Request: chat_id and text required")
        if len(text) > MAX_TEXT:
            return self._answer(call, 400, error_code=400, description="Bad Request: text is too long")
        if chat_id in self.blocked_chats:
            return self._answer(call, 403, error_code=403, description="Forbidden: the user blocked the bot")
        return self._answer(call, 200, result=self._new_message(call))

    async def _m_sendPhoto(self, call: Call, request: web.Request) -> web.Response:
        chat_id = str(call.params.get("chat_id") or "")
        photo = call.params.get("photo")
        if not chat_id or not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            return self._answer(call, 400, error_code=400, description="Bad Request: photo must be a URL")
        if chat_id in self.blocked_chats:
            return self._answer(call, 403, error_code=403, description="Forbidden: the user blocked the bot")
        return self._answer(call, 200, result=self._new_message(call))

    async def _m_sendChatAction(self, call: Call, request: web.Request) -> web.Response:
        return self._answer(call, 200, result=True)
