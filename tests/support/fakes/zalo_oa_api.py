"""A recording fake of the Zalo Official Account API (openapi.zalo.me + oauth.zaloapp.com) on 127.0.0.1.

Point the channel at it with ``ZALO_OA_API_BASE_URL`` and ``ZALO_OA_OAUTH_BASE_URL`` both set to
``fake.base_url``. It serves:

* ``POST /v3.0/oa/message/cs`` — header ``access_token``; body ``{"recipient": {"user_id"}, "message":
  {"text"} | {"attachment": media template}}``; answers ``{"error": 0, "message": "Success", "data":
  {"message_id", "user_id"}}``. An unknown token gets -216, an expired one -220; users in ``outside_window``
  get -230; texts over 2,000 characters -201 (a bad parameter).
* ``POST /v2.0/oa/upload/image`` — multipart ``file``; answers ``data.attachment_id``.
* ``POST /v4/oa/access_token`` — header ``secret_key``; form ``refresh_token, app_id, grant_type``. Each
  refresh token works ONCE: a refresh issues a new access token and a new refresh token and the old refresh
  token is dead (like Zalo). ``refresh_delay`` slows the answer, to widen races in tests.
* ``GET /images/NAME`` — images registered with ``add_image`` (what users' photo URLs point at).

``fail_next("message" | "upload" | "refresh", …)`` injects an ``error`` code in a 200 answer (-32, -216, -220,
-230, …), an HTTP status (429, 500), or ``"network"``. Webhook events for the channel are built with
``text_event`` / ``image_event`` and signed with :meth:`FakeZaloOA.sign`, as Zalo signs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.support.fakes.loopback import Call, LoopbackFake, _Failure
from tests.support.fakes.loopback import Recorder as Recorder  # re-exported: tests and older imports find it here

MAX_TEXT = 2000
ACCESS_LIFETIME_SECONDS = 90_000  # 25 h

_ids = itertools.count(1)


def now_ms() -> str:
    return str(int(time.time() * 1000))


def text_event(
    user_id: str, text: str, *, app_id: str = "oa-app-1", msg_id: str | None = None, timestamp: str | None = None
) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "user_id_by_app": f"app-{user_id}",
        "event_name": "user_send_text",
        "timestamp": timestamp or now_ms(),
        "sender": {"id": user_id},
        "recipient": {"id": "oa-1"},
        "message": {"text": text, "msg_id": msg_id or f"msg{next(_ids):08d}"},
    }


def image_event(
    user_id: str,
    urls: list[str],
    *,
    text: str = "",
    app_id: str = "oa-app-1",
    msg_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "user_id_by_app": f"app-{user_id}",
        "event_name": "user_send_image",
        "timestamp": timestamp or now_ms(),
        "sender": {"id": user_id},
        "recipient": {"id": "oa-1"},
        "message": {
            "text": text,
            "msg_id": msg_id or f"msg{next(_ids):08d}",
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}} for url in urls],
        },
    }


def other_event(user_id: str, event_name: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "app_id": "oa-app-1",
        "event_name": event_name,
        "timestamp": now_ms(),
        "sender": {"id": user_id},
        "recipient": {"id": "oa-1"},
    }
    event.update(fields)
    return event


class FakeZaloOA(LoopbackFake):
    def __init__(
        self,
        *,
        app_id: str = "oa-app-1",
        oa_secret_key: str = "oa-secret-KEY",
        app_secret: str = "app-secret-KEY",
        access_token: str = "access-0",
        refresh_token: str = "refresh-0",
        refresh_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.app_secret = app_secret
        self.initial_access = access_token
        self.initial_refresh = refresh_token
        self.refresh_delay = refresh_delay
        self.valid_access: set[str] = {access_token}
        self.expired_access: set[str] = set()
        self.valid_refresh: set[str] = {refresh_token}
        self.outside_window: set[str] = set()
        self.uploads: dict[str, bytes] = {}
        self.issued: list[tuple[str, str]] = []  # (access, refresh) pairs issued by refreshes, in order
        self._generation = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_post("/v4/oa/access_token", self._refresh)

    # -- test side -----------------------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: str, *, app_id: str | None = None, secret: str | None = None) -> str:
        """The ``X-ZEvent-Signature`` Zalo would send for ``body``."""
        base = (app_id or self.app_id).encode() + body + timestamp.encode() + (secret or self.oa_secret_key).encode()
        return "mac=" + hashlib.sha256(base).hexdigest()

    def signed(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of a webhook delivery of ``event``."""
        body = json.dumps(event, ensure_ascii=False).encode()
        return body, {
            "X-ZEvent-Signature": self.sign(body, str(event["timestamp"])),
            "Content-Type": "application/json",
        }

    def expire(self, access_token: str) -> None:
        """From now on ``access_token`` gets -220 (expired)."""
        self.valid_access.discard(access_token)
        self.expired_access.add(access_token)

    def fail_next(self, what: str, times: int = 1, *, error: int | None = None, status: int | str = 200) -> None:
        """``what`` is "message", "upload" or "refresh"."""
        self._queue_failure(what, _Failure(status, error), times)

    def texts(self, user_id: str | None = None) -> list[str]:
        """Texts delivered (error 0), in order."""
        return [
            c.params["message"]["text"]
            for c in self.calls
            if c.method == "message" and c.error_code == 0 and "text" in c.params.get("message", {})
            and (user_id is None or c.params["recipient"]["user_id"] == user_id)
        ]  # fmt: skip

    @property
    def refreshes(self) -> list[Call]:
        """Successful refreshes."""
        return [c for c in self.calls if c.method == "refresh" and c.error_code == 0]

    # -- server --------------------------------------------------------------------------------------------

    def _answer(self, call: Call, payload: dict[str, Any], status: int = 200) -> web.Response:
        call.status = status
        call.error_code = int(payload.get("error", 0) or 0)
        self.recorder.record(call)
        return web.json_response(payload, status=status)

    async def _injected(self, what: str, call: Call, request: web.Request) -> web.Response | None:
        failure = self._next_failure(what)
        if failure is None:
            return None
        if failure.status == "network":
            return self._drop(call, request)
        assert isinstance(failure.status, int)
        if failure.status != 200:
            return self._answer(call, {"error": -1, "message": f"HTTP {failure.status}"}, status=failure.status)
        return self._answer(call, {"error": failure.error_code, "message": f"injected error {failure.error_code}"})

    def _token_error(self, token: str) -> dict[str, Any] | None:
        if token in self.expired_access:
            return {"error": -220, "message": "Access token has expired"}
        if token not in self.valid_access:
            return {"error": -216, "message": "Access token is invalid"}
        return None

    async def _message(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        try:
            body = await request.json()
        except ValueError:
            body = {}
        call = Call("message", body if isinstance(body, dict) else {}, time.monotonic())
        call.params["_token"] = token
        injected = await self._injected("message", call, request)
        if injected is not None:
            return injected
        problem = self._token_error(token)
        if problem:
            return self._answer(call, problem)
        user_id = str((body.get("recipient") or {}).get("user_id") or "")
        message = body.get("message") or {}
        if not user_id or not message:
            return self._answer(call, {"error": -201, "message": "Parameters are invalid"})
        if user_id in self.outside_window:
            return self._answer(call, {"error": -230, "message": "User has not interacted with the OA in 7 days"})
        text = message.get("text")
        if text is not None and (not isinstance(text, str) or not text or len(text) > MAX_TEXT):
            return self._answer(call, {"error": -201, "message": "Parameters are invalid: text"})
        if "attachment" in message:
            elements = message["attachment"].get("payload", {}).get("elements", [])
            for element in elements:
                if element.get("attachment_id") and element["attachment_id"] not in self.uploads:
                    return self._answer(call, {"error": -201, "message": "attachment_id not found"})
        data = {"message_id": f"oam{next(_ids):08d}", "user_id": user_id}
        return self._answer(call, {"error": 0, "message": "Success", "data": data})

    async def _upload(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        call = Call("upload", {"_token": token}, time.monotonic())
        data = b""
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "name", None) == "file":
                    data = await part.read()  # type: ignore[union-attr]
                    call.params["filename"] = part.filename  # type: ignore[union-attr]
                    call.params["content_type"] = part.headers.get("Content-Type")
        call.params["size"] = len(data)
        injected = await self._injected("upload", call, request)
        if injected is not None:
            return injected
        problem = self._token_error(token)
        if problem:
            return self._answer(call, problem)
        if not data:
            return self._answer(call, {"error": -201, "message": "file is required"})
        if len(data) > 1024 * 1024:
            return self._answer(call, {"error": -210, "message": "file is too large"})
        attachment_id = f"att{next(_ids):08d}"
        self.uploads[attachment_id] = data
        return self._answer(call, {"error": 0, "message": "Success", "data": {"attachment_id": attachment_id}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        call = Call("refresh", {k: str(v) for k, v in form.items()}, time.monotonic())
        call.params["_secret_key"] = request.headers.get("secret_key", "")
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        injected = await self._injected("refresh", call, request)
        if injected is not None:
            return injected
        if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
            return self._answer(call, {"error": -14001, "error_name": "Invalid app", "error_description": "app"})
        if form.get("grant_type") != "refresh_token":
            return self._answer(call, {"error": -14002, "error_name": "Invalid grant_type"})
        old = str(form.get("refresh_token") or "")
        if old not in self.valid_refresh:
            return self._answer(
                call, {"error": -14014, "error_name": "Invalid refresh token", "error_description": "used or unknown"}
            )
        self.valid_refresh.discard(old)  # single use
        generation = next(self._generation)
        access, refresh = f"access-{generation}", f"refresh-{generation}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        self.issued.append((access, refresh))
        return self._answer(
            call, {"access_token": access, "refresh_token": refresh, "expires_in": str(ACCESS_LIFETIME_SECONDS)}
        )
