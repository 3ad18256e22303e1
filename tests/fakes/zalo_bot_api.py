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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "2024110101:zalo-TEST-token"
MAX_TEXT = 2000

_ids = itertools.count(1)


@dataclass(slots=True)
class Call:
    """One request the fake received; ``status`` is the HTTP status answered (0: connection dropped)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    error_code: int | None = None


@dataclass(slots=True)
class _Failure:
    status: int | str  # HTTP status, or "network"
    error_code: int | None = None
    description: str = ""


@dataclass
class Recorder:
    """Calls and a way to wait for them (shared by the Zalo fakes)."""

    calls: list[Call] = field(default_factory=list)
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, call: Call) -> Call:
        self.calls.append(call)
        self._event.set()
        return call

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, predicate: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matched = [c for c in self.calls if c.method == method and (predicate is None or predicate(c))]
            if len(matched) >= count:
                return matched
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{c.method} {c.status} {c.error_code or ''}" for c in self.calls[-10:]]
                raise AssertionError(f"waited {timeout}s for {count} {method} call(s), got {len(matched)}; {seen}")
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)


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


class FakeZaloBotAPI:
    def __init__(self, token: str = DEFAULT_TOKEN, *, idle_after: float = 0.3) -> None:
        self.token = token
        self.idle_after = idle_after
        self.recorder = Recorder()
        self.webhook: dict[str, Any] | None = None
        self.blocked_chats: set[str] = set()
        self.images: dict[str, tuple[bytes, str]] = {}
        self.downloads: list[str] = []
        self.idle_polls = 0
        self._updates: deque[dict[str, Any]] = deque()
        self._update_event = asyncio.Event()
        self._failures: dict[str, deque[_Failure]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._update_event = asyncio.Event()
        self.recorder._event = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/images/{name}", self._image)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            self._update_event.set()  # release pending long polls
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeZaloBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- test side -----------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    def calls_of(self, method: str) -> list[Call]:
        return self.recorder.of(method)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0, predicate=None) -> list[Call]:
        return await self.recorder.wait_for(method, count, timeout, predicate)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates and wake a pending long poll."""
        self._updates.append(update)
        self._update_event.set()

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def add_image(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` at a URL (returned), like Zalo's CDN serves the photos users send."""
        self.images[name] = (data, content_type)
        return f"{self.api_base_url}/images/{name}"

    def fail_next(
        self, method: str, status: int | str = 500, times: int = 1, *, error_code: int | None = None, description=""
    ) -> None:
        """The next ``times`` calls of ``method`` fail: HTTP ``status`` (200 with ``error_code`` for an
        ``ok: false`` envelope), or ``"network"`` (connection dropped)."""
        queue = self._failures.setdefault(method, deque())
        queue.extend(_Failure(status, error_code, description) for _ in range(times))

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        return [
            c.params.get("text", "")
            for c in self.calls
            if c.method == "sendMessage" and c.status == 200 and c.error_code is None
            and (chat_id is None or str(c.params.get("chat_id")) == chat_id)
        ]  # fmt: skip

    # -- server --------------------------------------------------------------------------------------------

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.images:
            return web.Response(status=404, text="not found")
        data, content_type = self.images[name]
        return web.Response(body=data, content_type=content_type)

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
        queue = self._failures.get(method)
        if queue:
            failure = queue.popleft()
            if failure.status == "network":
                call.status = 0
                self.recorder.record(call)
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # nothing reaches the client: the connection is gone
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
