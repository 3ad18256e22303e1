"""A recording fake of the Telegram Bot API, served by aiohttp on 127.0.0.1.

Point python-telegram-bot at it with::

    async with FakeTelegramAPI() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.api_base_url, base_file_url=fake.file_base_url)

Requests arrive as ``POST {api_base_url}{token}/{method}`` (GET with a query string works too) with a
``application/x-www-form-urlencoded``, ``multipart/form-data`` or ``application/json`` body. In the form
encodings every non-string value is JSON-serialised (that is what python-telegram-bot does), so the fake
decodes JSON-looking values back into Python objects, except for fields that are strings by definition
(``text``, ``caption``, ``callback_query_id``, file ids, ...). ``chat_id`` becomes an ``int`` when it is
numeric. Uploaded files become :class:`UploadedFile` objects, also where ``attach://name`` references them
from inside ``media``.

Every request is recorded as a :class:`Call` in ``calls`` (or in ``rejected`` when the fake's flood
limits or blocked chats refused it, or in ``failed`` when an injected failure hit it).

The fake is single-loop: use it (``push_update``, ``wait_for``, ...) from the event loop it was started
on. ``push_update`` alone may also be called from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import itertools
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.support.fakes.loopback import serve_on_loopback
from tests.support.fakes.telegram_forum import FORUM_METHODS, ForumError, ForumTopics

DEFAULT_TOKEN = "123456:TEST-token"
DEFAULT_BOT_USERNAME = "sct_test_bot"
DEFAULT_USER_ID = 1001

# --------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Call:
    """One request the fake received. ``at`` is ``time.monotonic()`` on arrival; ``status`` the HTTP status
    of the answer (200, or 400/403/404/409/429/5xx, or 0 for an injected network failure); ``result`` what
    a successful call answered (e.g. the sent message, with its ``message_id``)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:  # keep bytes out of assertion messages
        return f"UploadedFile(name={self.name!r}, filename={self.filename!r}, size={len(self.data)})"


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_result(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _Window:
    """Strict sliding window: at most ``cap`` accepted messages in any interval of ``span`` seconds."""

    __slots__ = ("cap", "span", "times")

    def __init__(self, cap: int, span: float) -> None:
        self.cap = cap
        self.span = span
        self.times: deque[float] = deque()

    @classmethod
    def per_second(cls, rate: float) -> _Window:
        # A rate below 1/s becomes "1 message per 1/rate seconds"; above, "floor(rate) per second".
        span = max(1.0, 1.0 / rate)
        return cls(max(1, int(rate * span + 1e-9)), span)

    def allows(self, now: float, n: int) -> bool:
        times = self.times
        edge = now - self.span
        while times and times[0] <= edge:
            times.popleft()
        # An oversized batch (a media group larger than the cap) still passes through an empty window.
        return not times or len(times) + n <= self.cap

    def add(self, now: float, n: int) -> None:
        if n == 1:
            self.times.append(now)
        else:
            self.times.extend(itertools.repeat(now, n))


# --------------------------------------------------------------------------------------------------------
# Update factories
# --------------------------------------------------------------------------------------------------------

_seq = itertools.count(1)

DEFAULT_BOT_USER: dict[str, Any] = {
    "id": int(DEFAULT_TOKEN.split(":")[0]),
    "is_bot": True,
    "first_name": "SCT Test Bot",
    "username": DEFAULT_BOT_USERNAME,
}


def unique_id_for(file_id: str) -> str:
    """A stable, Telegram-looking ``file_unique_id`` for a ``file_id``."""
    return "AQAD" + hashlib.blake2b(file_id.encode(), digest_size=8).hexdigest()


def user_dict(
    user_id: int = DEFAULT_USER_ID,
    first_name: str = "An",
    username: str | None = None,
    *,
    last_name: str | None = None,
) -> dict[str, Any]:
    """The ``from`` object of a (human) user; stable for the same arguments."""
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    user["language_code"] = "vi"
    return user


def _default_chat_id(user_id: int, chat_type: str) -> int:
    if chat_type == "private":
        return user_id
    if chat_type == "supergroup":
        return -1_000_000_000_000 - user_id
    return -user_id


def chat_dict(chat_id: int, chat_type: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
    if chat_type == "private":
        chat: dict[str, Any] = {"id": chat_id, "first_name": (user or {}).get("first_name", "An")}
        if user and user.get("username"):
            chat["username"] = user["username"]
        chat["type"] = "private"
        return chat
    return {"id": chat_id, "title": "Test group", "type": chat_type}


def _message(
    *,
    user_id: int,
    chat_id: int | None,
    first_name: str,
    chat_type: str,
    username: str | None,
    message_id: int | None,
) -> dict[str, Any]:
    user = user_dict(user_id, first_name, username)
    if chat_id is None:
        chat_id = _default_chat_id(user_id, chat_type)
    return {
        # None is filled in by FakeTelegramAPI.push_update with the chat's next message id.
        "message_id": message_id,
        "from": user,
        "chat": chat_dict(chat_id, chat_type, user),
        "date": int(time.time()),
    }


def text_update(
    text: str,
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    first_name: str = "An",
    chat_type: str = "private",
    username: str | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    """A text message (a command when ``text`` starts with "/", with its ``bot_command`` entity)."""
    msg = _message(
        user_id=user_id,
        chat_id=chat_id,
        first_name=first_name,
        chat_type=chat_type,
        username=username,
        message_id=message_id,
    )
    msg["text"] = text
    if text.startswith("/") and len(text) > 1:
        command = text.split(maxsplit=1)[0]
        # Entity offsets/lengths are in UTF-16 code units.
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]
    return {"message": msg}


def callback_update(
    data: str,
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int = 1,
    message_text: str = "...",
    reply_markup: Any = None,
    first_name: str = "An",
    chat_type: str = "private",
    username: str | None = None,
    thread_id: int | None = None,
) -> dict[str, Any]:
    """A press on an inline button of the bot's message ``message_id``. ``reply_markup`` may be a dict or
    a python-telegram-bot ``InlineKeyboardMarkup``. ``thread_id``: the message is in that forum topic (as
    Telegram sends it: ``message_thread_id``, ``is_topic_message`` and the topic's creation as the message it
    answers, unless it is that message itself)."""
    user = user_dict(user_id, first_name, username)
    if chat_id is None:
        chat_id = _default_chat_id(user_id, chat_type)
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": dict(DEFAULT_BOT_USER),
        "chat": chat_dict(chat_id, chat_type, user),
        "date": int(time.time()) - 1,
        "text": message_text,
    }
    if reply_markup is not None:
        message["reply_markup"] = reply_markup.to_dict() if hasattr(reply_markup, "to_dict") else reply_markup
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        if message_id != thread_id:
            message["reply_to_message"] = {"message_id": thread_id, "chat": message["chat"], "date": message["date"]}
    n = next(_seq)
    return {
        "callback_query": {
            "id": str(4_000_000_000_000_000_000 + n),
            "from": user,
            "message": message,
            "chat_instance": str(-8_000_000_000_000_000_000 + chat_id),
            "data": data,
        }
    }


def photo_update(
    file_ids_sizes: list[tuple[str, int, int, int]],
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    caption: str | None = None,
    media_group_id: str | None = None,
    first_name: str = "An",
    chat_type: str = "private",
    username: str | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    """A photo message; ``file_ids_sizes`` holds ``(file_id, width, height, file_size)`` per PhotoSize and
    is sorted smallest first, like Telegram does."""
    msg = _message(
        user_id=user_id,
        chat_id=chat_id,
        first_name=first_name,
        chat_type=chat_type,
        username=username,
        message_id=message_id,
    )
    sizes = sorted(file_ids_sizes, key=lambda s: (s[1] * s[2], s[3]))
    msg["photo"] = [
        {"file_id": fid, "file_unique_id": unique_id_for(fid), "file_size": size, "width": w, "height": h}
        for fid, w, h, size in sizes
    ]
    if media_group_id is not None:
        msg["media_group_id"] = str(media_group_id)
    if caption is not None:
        msg["caption"] = caption
    return {"message": msg}


def document_update(
    file_id: str,
    file_name: str,
    mime_type: str,
    file_size: int,
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    caption: str | None = None,
    media_group_id: str | None = None,
    first_name: str = "An",
    chat_type: str = "private",
    username: str | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    msg = _message(
        user_id=user_id,
        chat_id=chat_id,
        first_name=first_name,
        chat_type=chat_type,
        username=username,
        message_id=message_id,
    )
    msg["document"] = {
        "file_name": file_name,
        "mime_type": mime_type,
        "file_id": file_id,
        "file_unique_id": unique_id_for(file_id),
        "file_size": file_size,
    }
    if media_group_id is not None:
        msg["media_group_id"] = str(media_group_id)
    if caption is not None:
        msg["caption"] = caption
    return {"message": msg}


def sticker_update(
    file_id: str = "CAACAgIAAxkBAAIBQ2Zsticker",
    *,
    emoji: str = "👍",
    set_name: str | None = "sct_test_stickers",
    sticker_type: str = "regular",
    is_animated: bool = False,
    is_video: bool = False,
    width: int = 512,
    height: int = 512,
    file_size: int = 24_576,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    first_name: str = "An",
    chat_type: str = "private",
    username: str | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    msg = _message(
        user_id=user_id,
        chat_id=chat_id,
        first_name=first_name,
        chat_type=chat_type,
        username=username,
        message_id=message_id,
    )
    sticker: dict[str, Any] = {
        "width": width,
        "height": height,
        "emoji": emoji,
        "is_animated": is_animated,
        "is_video": is_video,
        "type": sticker_type,
        "file_id": file_id,
        "file_unique_id": unique_id_for(file_id),
        "file_size": file_size,
    }
    if set_name:
        sticker["set_name"] = set_name
    msg["sticker"] = sticker
    return {"message": msg}


# --------------------------------------------------------------------------------------------------------
# Request decoding
# --------------------------------------------------------------------------------------------------------

# Parameters that are strings by definition and must not be JSON-decoded even when they look like JSON.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "title",
        "description",
        "short_description",
        "name",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "emoji",
        "question",
        "address",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "custom_emoji_id",
        "switch_pm_text",
        "switch_pm_parameter",
        "next_offset",
        "quote",
    }
)
_CHAT_ID_FIELDS = frozenset({"chat_id", "from_chat_id"})
_JSON_START = frozenset('{["-0123456789tfn')
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument"}) | FORUM_METHODS
# Methods refused with 403 for a blocked chat (chat actions too, like Telegram does).
_BLOCKABLE_METHODS = _SEND_METHODS | {"sendChatAction"}
_HTML_TAG = re.compile(r"<[^>]+>")


def _decode_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _CHAT_ID_FIELDS:
        body = value[1:] if value.startswith("-") else value
        return int(value) if body.isdigit() else value
    if name in _STRING_FIELDS or not value or value[0] not in _JSON_START:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _resolve_attachments(value: Any, uploads: dict[str, UploadedFile], used: set[str]) -> Any:
    if isinstance(value, str):
        if value.startswith("attach://"):
            key = value[9:]
            if key in uploads:
                used.add(key)
                return uploads[key]
        return value
    if isinstance(value, list):
        return [_resolve_attachments(v, uploads, used) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, uploads, used) for k, v in value.items()}
    return value


def _json_response(status: int, payload: Any) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload).encode(), content_type="application/json")


def _error_payload(status: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return payload


_STATUS_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests: retry after 1",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------------


class FakeTelegramAPI:
    """A recording fake of the Telegram Bot API on a free loopback port.

    Limits (``None`` = unlimited) apply to ``sendMessage``, ``sendPhoto``, ``sendDocument`` and
    ``sendMediaGroup`` (which counts one message per media item), ``createForumTopic`` and ``editForumTopic``
    (each posts a service message); refused calls get a 429 with
    ``retry_after`` and go to ``rejected``:

    * ``global_rate``: messages per second over all chats,
    * ``per_chat_rate``: messages per second per chat,
    * ``group_per_minute``: messages per minute per group chat (``chat_id < 0``).

    Each limit is a strict sliding window: a rate of ``r >= 1`` allows ``floor(r)`` messages in any
    1-second interval, a rate ``r < 1`` one message in any ``1/r``-second interval. Only accepted messages
    count toward the windows.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        group_per_minute: int | None = None,
        blocked_chats: Iterable[int] = frozenset(),
        retry_after: int = 1,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(prefix) if prefix.isdigit() else DEFAULT_BOT_USER["id"],
            "is_bot": True,
            "first_name": "SCT Test Bot",
            "username": bot_username,
        }
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.group_per_minute = group_per_minute
        self.blocked_chats: set[int] = set(blocked_chats)
        self.retry_after = retry_after

        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        self.failed: list[Call] = []
        self.downloads: list[str] = []
        self.count_429 = 0
        self.count_403 = 0
        self.count_401 = 0

        self.webhook: dict[str, Any] | None = None
        self.commands: list[dict[str, Any]] = []
        self.files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}

        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._message_ids: dict[Any, int] = {}
        self.deleted: set[tuple[Any, int]] = set()  # (chat_id, message_id): editing these fails like Telegram
        self.pinned: dict[Any, int] = {}  # chat_id -> the message pinned last (pinChatMessage)
        self._chats: dict[Any, dict[str, Any]] = {}
        self._failures: dict[str, deque[tuple[int | str, str | None]]] = {}
        self._global_window: _Window | None = None
        self._chat_windows: dict[Any, _Window] = {}
        self._group_windows: dict[Any, _Window] = {}
        self._reset_limits()

        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False

        self.forum = ForumTopics(self)  # createForumTopic, editForumTopic (tests/support/fakes/telegram_forum.py)
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("sendMediaGroup", self._send_media_group),
            ("sendChatAction", self._true),
            ("answerCallbackQuery", self._true),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("editMessageCaption", self._edit_message_caption),
            ("deleteMessage", self._delete_message),
            ("pinChatMessage", self._pin_chat_message),
            ("getFile", self._get_file),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("getChat", self._get_chat),
            *self.forum.methods(),
        ):
            # Bot API method names are case-insensitive.
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------------------------------------------
    # Lifecycle
    # ---------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegramAPI is already started")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        # Fresh events: an asyncio.Event binds to the loop it is first awaited on.
        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        self._runner, self._port = await serve_on_loopback(app, shutdown_timeout=2.0)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        self._pulse(self._update_event)  # release pending long polls
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegramAPI is not started")
        return self._port

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---------------------------------------------------------------------------------------------------
    # Test-side API
    # ---------------------------------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates and wake a pending long poll; returns the assigned update_id.

        The dict is completed in place: ``update_id``, and ``message_id`` where a factory left it None (the
        chat's next message id, shared with the bot's own messages like in Telegram)."""
        for key in ("message", "edited_message", "channel_post", "edited_channel_post", "business_message"):
            msg = update.get(key)
            if msg is not None:
                self._register_message(msg)
        cq = update.get("callback_query")
        if cq is not None:
            message = cq.get("message")
            if message is not None and message.get("from", {}).get("is_bot"):
                message["from"] = self.bot_user
        update_id = self._next_update_id
        self._next_update_id += 1
        update["update_id"] = update_id
        self._updates.append(update)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._pulse(self._update_event)
            else:
                loop.call_soon_threadsafe(self._pulse, self._update_event)
        return update_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    def add_file(
        self,
        file_id: str,
        data: bytes,
        *,
        file_path: str | None = None,
        file_unique_id: str | None = None,
    ) -> dict[str, Any]:
        """Register bytes for getFile and the file download URL; returns the getFile result."""
        if file_path is None:
            file_path = f"documents/file_{len(self.files) + 1}"
        stored = _StoredFile(file_id, file_unique_id or unique_id_for(file_id), file_path, bytes(data))
        self.files[file_id] = stored
        self._files_by_path[file_path] = stored
        return stored.as_result()

    def fail_next(
        self,
        method: str,
        status: int | str = 500,
        times: int = 1,
        *,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with HTTP ``status`` or, for ``"network"``, with
        the connection closed before any response. ``method`` may be ``"*"`` (any method) or
        ``"download"`` (file downloads)."""
        if status != "network" and not isinstance(status, int):
            raise ValueError(f"status must be an HTTP status code or 'network', not {status!r}")
        key = method if method in ("*", "download") else self._canonical(method)
        queue = self._failures.setdefault(key, deque())
        queue.extend(itertools.repeat((status, description), times))

    def delete_message(self, chat_id: int | str, message_id: int) -> None:
        """Someone (e.g. a channel admin) deleted a message: editing or pinning it now fails with a 400."""
        self.deleted.add((chat_id, int(message_id)))
        if self.pinned.get(chat_id) == int(message_id):
            del self.pinned[chat_id]

    def calls_of(self, method: str) -> list[Call]:
        method = self._canonical(method)
        return [c for c in self.calls if c.method == method]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """Texts of the accepted sendMessage calls, optionally to one chat, in order."""
        if chat_id is not None:
            chat_id = _decode_value("chat_id", chat_id) if isinstance(chat_id, str) else chat_id
        return [
            c.params.get("text", "")
            for c in self.calls
            if c.method == "sendMessage" and c.status == 200 and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) were recorded; returns them all.

        Raises AssertionError with a summary of what was received on timeout."""
        method = self._canonical(method)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        matched: list[Call] = []
        scanned = 0
        calls = self.calls
        while True:
            if self.calls is not calls or len(calls) < scanned:  # reset() in between
                calls, matched, scanned = self.calls, [], 0
            for c in itertools.islice(calls, scanned, None):
                if c.method == method and (predicate is None or predicate(c)):
                    matched.append(c)
            scanned = len(calls)
            if len(matched) >= count:
                return matched
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._summary(method, count, timeout, predicate, matched))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._call_event.wait(), remaining)

    def reset(self) -> None:
        """Forget recorded calls, counters, injected failures and flood-limit windows.

        Queued updates, registered files, webhook and message-id counters are kept."""
        self.calls = []
        self.rejected = []
        self.failed = []
        self.downloads = []
        self.count_429 = 0
        self.count_403 = 0
        self.count_401 = 0
        self._failures.clear()
        self._reset_limits()

    def summary(self) -> str:
        """A short human-readable account of what the fake received."""
        by_method = Counter(c.method for c in self.calls)
        lines = [f"calls: {dict(by_method)}"]
        if self.rejected:
            lines.append(f"rejected: {dict(Counter(f'{c.method}/{c.status}' for c in self.rejected))}")
        if self.failed:
            lines.append(f"failed (injected): {dict(Counter(c.method for c in self.failed))}")
        tail = [c for c in self.calls if c.method != "getUpdates"][-8:]
        if tail:
            lines.append("last calls:")
            lines.extend(f"  {c.method} {c.status} {_short(c.params)}" for c in tail)
        return "\n".join(lines)

    # ---------------------------------------------------------------------------------------------------
    # Internals
    # ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _pulse(event: asyncio.Event) -> None:
        # set() resolves every current waiter; clear() only affects later waits.
        event.set()
        event.clear()

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        return entry[0] if entry else method

    def _summary(
        self,
        method: str,
        count: int,
        timeout: float,
        predicate: Callable[[Call], bool] | None,
        got: list[Call],
    ) -> str:
        what = f"{count} {method} call(s)" + (" matching the predicate" if predicate else "")
        head = f"timed out after {timeout}s waiting for {what}; got {len(got)}"
        if predicate is not None:
            head += f" (of {sum(1 for c in self.calls if c.method == method)} {method} calls in all)"
        return f"{head}\n{self.summary()}"

    def _reset_limits(self) -> None:
        self._global_window = _Window.per_second(self.global_rate) if self.global_rate else None
        self._chat_windows = {}
        self._group_windows = {}

    def _register_message(self, msg: dict[str, Any]) -> None:
        chat = msg.get("chat") or {}
        chat_id = chat.get("id")
        if chat_id is None:
            return
        self._chats.setdefault(chat_id, chat)
        current = self._message_ids.get(chat_id, 0)
        if msg.get("message_id") is None:
            msg["message_id"] = current + 1
            self._message_ids[chat_id] = current + 1
        elif msg["message_id"] > current:
            self._message_ids[chat_id] = msg["message_id"]

    def _next_message_id(self, chat_id: Any) -> int:
        mid = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = mid
        return mid

    def _chat_for(self, chat_id: Any) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            if isinstance(chat_id, int) and chat_id > 0:
                chat = {"id": chat_id, "first_name": f"User {chat_id}", "type": "private"}
            elif isinstance(chat_id, int):
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "title": "Test group", "type": kind}
            else:
                name = str(chat_id).lstrip("@")
                chat = {"id": -1_001_000_000_000 - len(self._chats), "title": name, "username": name}
                chat["type"] = "channel"
            self._chats[chat_id] = chat
        return chat

    def _take_failure(self, method: str) -> tuple[int | str, str | None] | None:
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                item = queue.popleft()
                if not queue:
                    del self._failures[key]
                return item
        return None

    def _limit_ok(self, chat_id: Any, n: int, now: float) -> bool:
        windows: list[_Window] = []
        if self._global_window is not None:
            windows.append(self._global_window)
        if self.per_chat_rate:
            w = self._chat_windows.get(chat_id)
            if w is None:
                w = self._chat_windows[chat_id] = _Window.per_second(self.per_chat_rate)
            windows.append(w)
        if self.group_per_minute and isinstance(chat_id, int) and chat_id < 0:
            w = self._group_windows.get(chat_id)
            if w is None:
                w = self._group_windows[chat_id] = _Window(self.group_per_minute, 60.0)
            windows.append(w)
        for w in windows:
            if not w.allows(now, n):
                return False
        for w in windows:
            w.add(now, n)
        return True

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query) if request.query_string else {}
        uploads: dict[str, UploadedFile] = {}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    raw.update(body)
            elif ctype == "multipart/form-data":
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        raw[key] = value
                    else:  # FileField
                        uploads[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
            else:  # urlencoded (the default for form posts)
                body_bytes = await request.read()
                if body_bytes:
                    raw.update(parse_qsl(body_bytes.decode("utf-8"), keep_blank_values=True))
        params = {k: _decode_value(k, v) for k, v in raw.items()}
        if uploads:
            used: set[str] = set()
            params = {k: _resolve_attachments(v, uploads, used) for k, v in params.items()}
            for key, upload in uploads.items():
                if key not in used:
                    params[key] = upload
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            self.count_401 += 1
            return _json_response(401, _error_payload(401, "Unauthorized"))
        raw_method = request.match_info["method"]
        entry = self._methods.get(raw_method.lower())
        method = entry[0] if entry else raw_method
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return _json_response(400, _error_payload(400, f"Bad Request: can't parse request: {exc}"))
        call = Call(method, params, time.monotonic())

        if self._failures:
            failure = self._take_failure(method)
            if failure is not None:
                return self._inject_failure(request, call, failure, self.failed)

        if entry is None:
            call.status = 404
            self._record(call)
            return _json_response(404, _error_payload(404, "Not Found"))

        if method in _BLOCKABLE_METHODS:
            chat_id = params.get("chat_id")
            if not isinstance(chat_id, int | str):
                chat_id = repr(chat_id)  # garbage; let the handler reject it, keep it hashable here
            if chat_id in self.blocked_chats:
                call.status = 403
                self.count_403 += 1
                self.rejected.append(call)
                self._pulse(self._call_event)
                return _json_response(403, _error_payload(403, "Forbidden: bot was blocked by the user"))
            if method in _SEND_METHODS and not self._limit_ok(chat_id, self._message_count(method, params), call.at):
                call.status = 429
                self.count_429 += 1
                self.rejected.append(call)
                self._pulse(self._call_event)
                n = self.retry_after
                return _json_response(
                    429,
                    _error_payload(429, f"Too Many Requests: retry after {n}", {"retry_after": n}),
                )

        handler = entry[1]
        self._record(call)
        try:
            result = await handler(params) if method == "getUpdates" else handler(params)
        except _ApiError as err:
            call.status = err.status
            return _json_response(err.status, _error_payload(err.status, err.description, err.parameters))
        except ForumError as err:
            call.status = 400
            return _json_response(400, _error_payload(400, err.description))
        except (ValueError, TypeError, AttributeError) as exc:  # malformed parameters
            call.status = 400
            return _json_response(400, _error_payload(400, f"Bad Request: {exc}"))
        call.result = result
        return _json_response(200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            self.count_401 += 1
            return _json_response(401, _error_payload(401, "Unauthorized"))
        file_path = request.match_info["file_path"]
        if self._failures:
            failure = self._take_failure("download")
            if failure is not None:
                call = Call("download", {"file_path": file_path}, time.monotonic())
                return self._inject_failure(request, call, failure, self.failed)
        stored = self._files_by_path.get(file_path)
        if stored is None:
            return _json_response(404, _error_payload(404, "Not Found"))
        self.downloads.append(file_path)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def _inject_failure(
        self,
        request: web.Request,
        call: Call,
        failure: tuple[int | str, str | None],
        into: list[Call],
    ) -> web.StreamResponse:
        status, description = failure
        call.status = 0 if status == "network" else int(status)
        into.append(call)
        self._pulse(self._call_event)
        if status == "network":
            transport = request.transport
            if transport is not None:
                transport.abort()
            # Nothing reaches the client: the connection is already gone.
            return web.Response(status=500)
        code = int(status)
        if description is None:
            description = _STATUS_DESCRIPTIONS.get(code, "Internal Server Error")
        params = {"retry_after": self.retry_after} if code == 429 else None
        if code == 429 and description == _STATUS_DESCRIPTIONS[429]:
            description = f"Too Many Requests: retry after {self.retry_after}"
        return _json_response(code, _error_payload(code, description, params))

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._pulse(self._call_event)

    @staticmethod
    def _message_count(method: str, params: dict[str, Any]) -> int:
        if method == "sendMediaGroup":
            media = params.get("media")
            if isinstance(media, list) and media:
                return len(media)
        return 1

    # ---------------------------------------------------------------------------------------------------
    # Method handlers (sync unless they must wait; keep them light)
    # ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _true(params: dict[str, Any]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        if not updates and timeout > 0 and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), timeout)
        return list(itertools.islice(updates, limit))

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        if not params.get("url"):
            self.webhook = None
            return True
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = dict(params)
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook:
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if key in self.webhook:
                    info[key] = self.webhook[key]
        return info

    def _chat_id(self, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        return chat_id

    def _new_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        chat = self._chat_for(chat_id)
        msg: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        thread = params.get("message_thread_id")
        if thread:
            self.forum.check_thread(chat_id, thread)
            msg["message_thread_id"] = thread
            msg["is_topic_message"] = True
        reply = params.get("reply_parameters")
        reply_to = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
        if reply_to:
            msg["reply_to_message"] = {"message_id": reply_to, "chat": chat, "date": msg["date"]}
        return msg

    @staticmethod
    def _add_markup(msg: dict[str, Any], params: dict[str, Any]) -> None:
        markup = params.get("reply_markup")
        # Telegram only echoes inline keyboards in the returned message.
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup

    @staticmethod
    def _rendered(text: str, params: dict[str, Any]) -> str:
        # Telegram returns the text without markup; strip HTML tags (Markdown is returned as sent).
        mode = params.get("parse_mode")
        if isinstance(mode, str) and mode.upper() == "HTML" and "<" in text:
            return html.unescape(_HTML_TAG.sub("", text))
        return text

    def _add_caption(self, msg: dict[str, Any], params: dict[str, Any]) -> None:
        caption = params.get("caption")
        if caption:
            msg["caption"] = self._rendered(str(caption), params)
            if isinstance(params.get("caption_entities"), list):
                msg["caption_entities"] = params["caption_entities"]

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if text is None or text == "":
            self._chat_id(params)
            raise _ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        msg = self._new_message(params)
        msg["text"] = self._rendered(text, params)
        if isinstance(params.get("entities"), list):
            msg["entities"] = params["entities"]
        self._add_markup(msg, params)
        return msg

    def _file_for(self, value: Any, prefix: str, default_path: str) -> _StoredFile:
        """The stored file behind an upload or a file_id / URL string (registered if new)."""
        if isinstance(value, UploadedFile):
            n = next(_seq)
            file_id = f"{prefix}{n:08d}upload"
            name = value.filename or f"file_{n}"
            return self._store(file_id, value.data, f"{default_path}/{n}_{name}")
        if isinstance(value, str) and value:
            stored = self.files.get(value)
            if stored is not None:
                return stored
            return _StoredFile(value, unique_id_for(value), f"{default_path}/{unique_id_for(value)}", b"")
        raise _ApiError(400, "Bad Request: there is no file in the request")

    def _store(self, file_id: str, data: bytes, file_path: str) -> _StoredFile:
        stored = _StoredFile(file_id, unique_id_for(file_id), file_path, data)
        self.files[file_id] = stored
        self._files_by_path[file_path] = stored
        return stored

    @staticmethod
    def _photo_sizes(stored: _StoredFile) -> list[dict[str, Any]]:
        size = len(stored.data) or 51_200
        return [
            {
                "file_id": stored.file_id + "_s",
                "file_unique_id": stored.file_unique_id + "s",
                "file_size": max(1, size // 20),
                "width": 90,
                "height": 90,
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": size,
                "width": 1280,
                "height": 1280,
            },
        ]

    def _document_dict(self, stored: _StoredFile, upload: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data) or 1024,
        }
        if isinstance(upload, UploadedFile):
            if upload.filename:
                doc["file_name"] = upload.filename
            if upload.content_type:
                doc["mime_type"] = upload.content_type
        return doc

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        self._chat_id(params)
        stored = self._file_for(params.get("photo"), "AgACAgIAAxkBAA", "photos")
        msg = self._new_message(params)
        msg["photo"] = self._photo_sizes(stored)
        self._add_caption(msg, params)
        self._add_markup(msg, params)
        return msg

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        self._chat_id(params)
        upload = params.get("document")
        stored = self._file_for(upload, "BQACAgIAAxkBAA", "documents")
        msg = self._new_message(params)
        msg["document"] = self._document_dict(stored, upload)
        self._add_caption(msg, params)
        self._add_markup(msg, params)
        return msg

    def _send_media_group(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self._chat_id(params)
        media = params.get("media")
        if media is None:
            raise _ApiError(400, 'Bad Request: parameter "media" is required')
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise _ApiError(400, "Bad Request: can't parse media JSON object")
        group_id = str(13_000_000_000_000_000 + next(_seq))
        messages = []
        for item in media:
            kind = item.get("type", "photo")
            source = item.get("media")
            if isinstance(source, str) and source.startswith("attach://"):
                raise _ApiError(400, "Bad Request: can't parse InputMedia: media not found")
            msg = self._new_message(params)
            msg["media_group_id"] = group_id
            if kind == "photo":
                msg["photo"] = self._photo_sizes(self._file_for(source, "AgACAgIAAxkBAA", "photos"))
            elif kind == "document":
                stored = self._file_for(source, "BQACAgIAAxkBAA", "documents")
                msg["document"] = self._document_dict(stored, source)
            elif kind == "video":
                stored = self._file_for(source, "BAACAgIAAxkBAA", "videos")
                msg["video"] = {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 1280,
                    "height": 720,
                    "duration": 10,
                }
            elif kind == "audio":
                stored = self._file_for(source, "CQACAgIAAxkBAA", "music")
                msg["audio"] = {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "duration": 10,
                }
            else:
                raise _ApiError(400, "Bad Request: can't parse InputMedia: unsupported media type")
            self._add_caption(msg, item)
            messages.append(msg)
        return messages

    def _edited(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if not message_id:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        if (chat_id, message_id) in self.deleted:
            raise _ApiError(400, "Bad Request: message to edit not found")
        now = int(time.time())
        return {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat_for(chat_id),
            "date": now - 1,
            "edit_date": now,
        }

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = params.get("text")
        if text is None or text == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        msg = self._edited(params)
        if isinstance(msg, dict):
            msg["text"] = self._rendered(str(text), params)
            if isinstance(params.get("entities"), list):
                msg["entities"] = params["entities"]
            self._add_markup(msg, params)
        return msg

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        msg = self._edited(params)
        if isinstance(msg, dict):
            self._add_markup(msg, params)
        return msg

    def _edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        msg = self._edited(params)
        if isinstance(msg, dict):
            self._add_caption(msg, params)
            self._add_markup(msg, params)
        return msg

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat_id(params)
        if not params.get("message_id"):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        self.delete_message(chat_id, params["message_id"])
        return True

    def _pin_chat_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if not message_id:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        if (chat_id, message_id) in self.deleted:
            raise _ApiError(400, "Bad Request: message to pin not found")
        self.pinned[chat_id] = message_id
        return True

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id")
        stored = self.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise _ApiError(400, "Bad Request: wrong file_id or the file is temporarily unavailable")
        return stored.as_result()

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.commands)

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = dict(self._chat_for(self._chat_id(params)))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat


def _short(params: dict[str, Any], limit: int = 160) -> str:
    text = repr(params)
    return text if len(text) <= limit else text[: limit - 3] + "..."
