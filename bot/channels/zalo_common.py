"""What both Zalo channels share: text splitting, numbered choices kept in the database, URL downloads,
and the lifecycle and receiving path of :class:`ZaloChannelBase`.

Zalo has no inline buttons. A reply's buttons are appended to its text as numbered lines ("1. …"); the
options are stored per chat (table ``zalo_choices``) before the message goes out, so a reply "1" or the
option's label, received by any worker, even after a restart, becomes the button press it stands for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.channels.albums import gather_following, merge
from bot.channels.base import RateLimited, TemporaryFailure
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import Refusals, WebhookServer
from handlers.core import KeyedLocks
from handlers.matching import fold_text
from handlers.types import Button, IncomingMessage, MediaRef, MessageKind, Reply
from storage.db import Database
from storage.inbox import Received, Stored
from storage.media import CHUNK, MediaTooLarge, MediaUnavailable, NotAnImage

logger = logging.getLogger(__name__)

MAX_TEXT = 2000  # both Zalo APIs refuse longer texts
CHOICES_HINT = "👉 Trả lời bằng số thứ tự (ví dụ: 1) hoặc gõ đúng tên lựa chọn."
LOCAL_PHOTOS_NOTE = "📷 Kèm {n} ảnh chưa gửi được qua Zalo; cán bộ sẽ gửi lại bằng cách khác nếu cần."
DEFAULT_CHOICES_TTL = timedelta(hours=24)

_NUMBER = re.compile(r"^\s*(?:số\s*)?([0-9]{1,2})\s*[.)]?\s*$", re.IGNORECASE)
# Where a long text may be cut, best first: a blank line, a line break, a sentence end, any space.
# Content types that are certainly not a photo (an error page instead of the image, a video, ...).
_NOT_IMAGE_TYPES = ("text/", "video/", "audio/", "application/json", "application/pdf")

Now = Callable[[], datetime]
Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]


def utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------------------------


def with_choices(text: str, buttons: list[Button]) -> str:
    """The text followed by the options, numbered from 1, and how to answer."""
    if not buttons:
        return text
    lines = [f"{number}. {button.label}" for number, button in enumerate(buttons, start=1)]
    block = "\n".join([*lines, CHOICES_HINT])
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def local_photos_note(count: int) -> str:
    return LOCAL_PHOTOS_NOTE.format(n=count)


# --------------------------------------------------------------------------------------------------------
# Numbered choices
# --------------------------------------------------------------------------------------------------------


class Choices:
    """The numbered options last shown in each chat of one channel, kept in the database.

    Options are replaced when a message with options goes out and forgotten when a reply asks to remove
    the keyboard; a message without options leaves them (like a Telegram keyboard higher up in the chat,
    or the console). They are not honoured after ``ttl``. The payloads are the signed ones, so a mapped
    answer is checked by the dispatcher exactly like a pressed Telegram button.
    """

    def __init__(self, db: Database, channel: str, *, ttl: timedelta = DEFAULT_CHOICES_TTL, now: Now = utc_now):
        self.db = db
        self.channel = channel
        self.ttl = ttl
        self.now = now

    @staticmethod
    def shown_by(replies: list[Reply]) -> list[Button] | None:
        """The options the chat shows after ``replies``: a list (empty = none), or None when unchanged."""
        shown: list[Button] | None = None
        for reply in replies:
            if reply.buttons:
                shown = reply.flat_buttons()
            elif reply.remove_keyboard:
                shown = []
        return shown

    async def remember(self, chat_id: str, replies: list[Reply]) -> None:
        shown = self.shown_by(replies)
        if shown is None:
            return
        options = [{"label": b.label, "payload": b.payload} for b in shown]
        async with self.db.unit_of_work() as uow:
            await uow.zalo.set_choices(self.channel, chat_id, options, self.now())
            await uow.commit()

    async def resolve(self, chat_id: str, text: str) -> str | None:
        """The payload of the option ``text`` picks (its number or its label), or None."""
        stripped = text.strip()
        if not stripped or len(stripped) > 200 or "\n" in stripped:
            return None
        async with self.db.unit_of_work() as uow:
            row = await uow.zalo.get_choices(self.channel, chat_id)
        if row is None or not row.options:
            return None
        updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
        if self.now() - updated > self.ttl:
            return None
        number = _NUMBER.match(stripped)
        if number:
            index = int(number.group(1))
            return row.options[index - 1]["payload"] if 1 <= index <= len(row.options) else None
        folded = fold_text(stripped)
        if not folded:
            return None
        for option in row.options:
            if fold_text(option["label"]) == folded:
                return option["payload"]
        return None

    async def apply(self, msg: IncomingMessage) -> IncomingMessage:
        """Turn a typed choice into the button press it stands for (other messages pass unchanged)."""
        if msg.kind is not MessageKind.TEXT:
            return msg
        payload = await self.resolve(msg.chat_id, msg.text)
        if payload is None:
            return msg
        msg.kind = MessageKind.BUTTON
        msg.button = payload
        msg.text = ""
        return msg


class SeenEvents:
    """Ids of deliveries already taken (table ``zalo_seen_events``): a retried or replayed one is dropped.

    The id is claimed under a unique key before the message is handled, so two workers (or a worker after
    a restart) never both handle it; ids older than ``keep`` are pruned now and then.
    """

    PRUNE_EVERY = timedelta(hours=6)

    def __init__(self, db: Database, channel: str, *, keep: timedelta = timedelta(days=7), now: Now = utc_now):
        self.db = db
        self.channel = channel
        self.keep = keep
        self.now = now
        self._pruned: datetime | None = None

    async def first_sight(self, event_id: str) -> bool:
        now = self.now()
        async with self.db.unit_of_work() as uow:
            first = await uow.zalo.first_sight(self.channel, event_id, now)
            if self._pruned is None or now - self._pruned >= self.PRUNE_EVERY:
                await uow.zalo.prune_seen(now - self.keep)
                self._pruned = now
            await uow.commit()
        return first


# --------------------------------------------------------------------------------------------------------
# Background work
# --------------------------------------------------------------------------------------------------------


class Background:
    """Tasks started by webhooks and polls: referenced until done, handled in order per chat.

    Each task takes its chat's lock before its first ``await``; asyncio locks are fair, so the messages of a
    chat are handled in the order they arrived even though every message gets its own task.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: set[asyncio.Task] = set()
        self.chats = KeyedLocks()

    def spawn(self, chat_id: str | None, work: Callable[[], Awaitable[None]]) -> asyncio.Task:
        """Run ``work`` in the background once the chat's earlier work is done."""
        return self.track(asyncio.create_task(self._run(chat_id, work)))

    def track(self, task: asyncio.Task) -> asyncio.Task:
        """Keep a reference to ``task`` until it is done (and let :meth:`drain` wait for it)."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _run(self, chat_id: str | None, work: Callable[[], Awaitable[None]]) -> None:
        key = chat_id or ""
        await self.chats.acquire(key)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: failed to handle an update", self.name)
        finally:
            self.chats.release(key)

    async def drain(self) -> None:
        """Wait until every task started so far (and any they start) has finished."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self, timeout: float = 10.0) -> None:
        if not self.tasks:
            return
        _done, pending = await asyncio.wait(list(self.tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class PhotoBursts:
    """Photos one person sends in quick succession, handed to the dispatcher as ONE message.

    Zalo delivers every image as its own message, with no album id. Like a Telegram album
    (``bot/channels/albums.py``), a burst is complete once no photo has come for ``quiet`` seconds (never
    later than ``max_wait`` after its first photo); the person then gets one answer that counts them all.
    The burst is handled under the chat's lock: the timer only queues a flush behind the chat's other
    work, and any other message from the person flushes the burst first, so the answers keep the order the
    person wrote in. Photos are held in memory only until then (a crash loses them unanswered, never
    half-answered; the person sends them again). With several workers, a burst split across them still
    works: each part is stored in the same report step, item by item.
    """

    def __init__(
        self,
        background: Background,
        answer: Callable[[IncomingMessage], Awaitable[None]],
        *,
        quiet: float,
        max_wait: float,
    ) -> None:
        self.background = background
        self.answer = answer
        self.quiet = quiet
        self.max_wait = max_wait
        self._pending: dict[tuple[str, str], _Burst] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, msg: IncomingMessage) -> None:
        """Keep a photo (call with the chat's lock held)."""
        key = (msg.chat_id, msg.user_id)
        now = asyncio.get_running_loop().time()
        burst = self._pending.get(key)
        if burst is None:
            burst = self._pending[key] = _Burst(first=now, due=now)
            burst.timer = self.background.track(asyncio.create_task(self._wait(key, burst)))
        burst.items.append(msg)
        burst.due = min(now + self.quiet, burst.first + self.max_wait)

    async def _wait(self, key: tuple[str, str], burst: _Burst) -> None:
        loop = asyncio.get_running_loop()
        while (delay := burst.due - loop.time()) > 0:
            await asyncio.sleep(delay)
        if self._pending.get(key) is burst:
            self.background.spawn(key[0], lambda: self.flush(*key))

    async def flush(self, chat_id: str, user_id: str) -> None:
        """Answer the person's pending burst now (call with the chat's lock held)."""
        burst = self._pending.pop((chat_id, user_id), None)
        if burst is None:
            return
        if burst.timer is not None and burst.timer is not asyncio.current_task():
            burst.timer.cancel()
        merged = merge(burst.items)
        merged.album_id = None
        await self.answer(merged)

    async def close(self) -> None:
        """Answer every pending burst (on shutdown)."""
        for chat_id, user_id in list(self._pending):
            try:
                await self.flush(chat_id, user_id)
            except Exception:
                logger.exception("a burst of photos could not be handled on shutdown")


@dataclass
class _Burst:
    first: float
    due: float
    items: list[IncomingMessage] = field(default_factory=list)
    timer: asyncio.Task | None = None


# --------------------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------------------


async def download_url(session: aiohttp.ClientSession, url: str, max_bytes: int, path: Path | None = None) -> bytes:
    """Fetch a photo by URL, refusing more than ``max_bytes`` (declared or received) and non-image content.

    With ``path`` the bytes are streamed to that file (and b"" returned), so no photo is held in memory.
    Errors are reported without the URL, which may be a signed link.
    """
    if not is_url(url):
        raise MediaUnavailable("not an http(s) URL")
    received = 0
    chunks: list[bytes] = []
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=60, sock_connect=10)) as response:
            if response.status != 200:
                raise MediaUnavailable(f"photo download answered HTTP {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise MediaTooLarge(response.content_length, max_bytes)
            content_type = (response.content_type or "").lower()
            if content_type.startswith(_NOT_IMAGE_TYPES):
                raise NotAnImage(f"the link serves {content_type}")
            out = path.open("wb") if path is not None else None
            try:
                async for chunk in response.content.iter_chunked(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise MediaTooLarge(received, max_bytes)
                    if out is not None:
                        out.write(chunk)
                    else:
                        chunks.append(chunk)
            finally:
                if out is not None:
                    out.close()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaUnavailable(f"photo download failed: {type(exc).__name__}") from None
    return b"".join(chunks)


async def send_replies(
    choices: Choices,
    send_one: Callable[[str, Reply], Awaitable[object]],
    chat_id: str,
    replies: list[Reply],
    *,
    max_wait: float | None = None,
    attempts: int = 3,
    sent: Callable[[list[tuple[int, str | None]]], Awaitable[None]] | None = None,
) -> None:
    """Answer a user directly: remember the numbered options first (so a quick "1" finds them), then send
    each reply, waiting out a rate limit (at most ``max_wait`` seconds) up to ``attempts`` times. A reply
    written to the outbox is handed to ``sent`` as soon as it went out (the rest the outbox sender delivers)."""
    await choices.remember(chat_id, replies)
    for reply in replies:
        for attempt in range(attempts):
            try:
                message_id = await send_one(chat_id, reply)
                break
            except RateLimited as exc:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(exc.retry_after if max_wait is None else min(exc.retry_after, max_wait))
        if reply.outbox_id is not None and sent is not None:
            await sent([(reply.outbox_id, message_id if isinstance(message_id, str) else None)])


async def post_json(
    session: aiohttp.ClientSession, url: str, what: str, *, total: float, connect: float, **kwargs: Any
) -> tuple[int, Any]:
    """POST and read a JSON answer: ``(status, parsed body or None)``; a network error or a timeout raises
    :class:`TemporaryFailure` named by *what* (never by the URL, which may hold a token)."""
    try:
        async with session.post(
            url, timeout=aiohttp.ClientTimeout(total=total, sock_connect=connect), **kwargs
        ) as response:
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TemporaryFailure(f"{what}: {type(exc).__name__}") from None


def with_photos_note(text: str, unsent: int) -> str:
    """*text* with the note that *unsent* photos could not go over Zalo (unchanged when there are none)."""
    if not unsent:
        return text
    return f"{text.rstrip()}\n\n{local_photos_note(unsent)}" if text.strip() else local_photos_note(unsent)


class ZaloChannelBase:
    """What the Zalo Bot and OA channels do alike: one HTTP session, the webhook route on the process's shared
    server (or on an own one), per-chat background work, photo bursts, replay dedupe and numbered choices.

    A subclass sets ``name`` and ``label``, calls :meth:`_setup` from its ``__init__`` and implements
    ``send``; it may extend :meth:`_process` (the OA channel first waits for its token pair).
    """

    name: str
    label: str  # for logs and refusal notes: "zalo bot", "zalo oa"

    def _setup(
        self,
        settings: Settings,
        handle: Handle,
        db: Database,
        *,
        choices_ttl: timedelta,
        now: Now,
        inbox: Inbox | None = None,
    ) -> None:
        self.settings = settings
        self.handle = handle
        self.db = db
        # With an inbox each update is stored before it is acknowledged and handled from there (replays are
        # dropped by its unique key); without one, in the background with ``zalo_seen_events`` as before.
        self.inbox = inbox
        self.ignored = Refusals(self.label, what="ignored")
        self.choices = Choices(db, self.name, ttl=choices_ttl, now=now)
        self.seen = SeenEvents(db, self.name, now=now)
        self.background = Background(self.name)
        self.bursts = PhotoBursts(
            self.background, self._answer, quiet=settings.album_quiet_seconds, max_wait=settings.album_max_wait_seconds
        )
        self.refusals = Refusals(f"{self.label} webhook")
        self._session: aiohttp.ClientSession | None = None
        self._server: WebhookServer | None = None
        self._own_server = False

    async def send(self, chat_id: str, replies: list[Reply]) -> None:
        raise NotImplementedError

    def translate(self, update: dict[str, Any]) -> IncomingMessage | None:
        raise NotImplementedError

    @property
    def _sent(self) -> Callable[[list[tuple[int, str | None]]], Awaitable[None]] | None:
        return self.inbox.sent if self.inbox is not None else None

    async def receive(self, update: dict[str, Any], key: str | None = None) -> None:
        """Take one verified update: stored in the inbox (committed when this returns) and queued behind the
        chat's earlier ones; without an inbox, handled in the background. Kinds we ignore: counted, dropped."""
        incoming = self.translate(update)
        if incoming is None:
            self.ignored.note(f"an update of kind {str(update.get('event_name'))[:40]!r}")
            return
        if self.inbox is None:
            self.background.spawn(incoming.chat_id, lambda: self._process(incoming, key))
            return
        update_id = key or "sha256:" + hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()
        added = await self.inbox.store(
            self.name, [Received(update_id, f"{incoming.chat_id}:{incoming.user_id}", update)]
        )
        self.inbox.submit(added, self._process_stored)

    async def _process_stored(self, row: Stored) -> None:
        """One update from the inbox, in its chat's turn (the chat lock also orders the photo bursts)."""
        incoming = self.translate(row.payload)
        if incoming is None:
            return
        incoming.inbox_ids, incoming.inbox_attempts = [row.id], row.attempts
        if incoming.kind is MessageKind.PHOTO and self.inbox is not None and self.inbox.shared:
            photo = MessageKind.PHOTO  # the burst's other photos follow in the table
            incoming = await gather_following(
                self.inbox, row, incoming,
                lambda later: item if (item := self.translate(later.payload)) and item.kind is photo else None,
                quiet=self.settings.album_quiet_seconds, max_wait=self.settings.album_max_wait_seconds,
            )  # fmt: skip
        await self.background.chats.acquire(incoming.chat_id)
        try:
            await self._process(incoming, None)
        finally:
            self.background.chats.release(incoming.chat_id)

    async def drain(self) -> None:
        """Wait until every update received so far was handled (and the work it started finished)."""
        while True:
            if self.inbox is not None:
                await self.inbox.drain()
            await self.background.drain()
            if self.inbox is None or not (self.inbox.waiting or self.background.tasks):
                return

    async def _resume(self) -> None:
        if self.inbox is not None:
            await self.inbox.resume(self.name, self._process_stored)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _attach_route(
        self, server: WebhookServer, path: str, route: Callable[[web.Request], Awaitable[web.Response]]
    ) -> None:
        server.add_post(path, route)
        self._server = server

    async def _start_server(self, path: str, route: Callable[[web.Request], Awaitable[web.Response]]) -> None:
        """Start the webhook server: the shared one given to ``attach``, else one of the channel's own."""
        if self._server is None:
            self._attach_route(WebhookServer(self.settings.webhook_listen, self.settings.webhook_port), path, route)
            self._own_server = True
        assert self._server is not None
        await self._server.start()

    async def _close(self) -> None:
        """Stop the own server, answer photos still waiting for their burst, finish background work, close HTTP."""
        if self._own_server and self._server is not None:
            await self._server.stop()
            self._server = None
        if self.inbox is not None:
            await self.inbox.drain(timeout=10)
        await self.bursts.close()
        await self.background.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _process(self, incoming: IncomingMessage, key: str | None) -> None:
        """One message, in its chat's turn: earlier photos first, a replay (same *key*) dropped, a photo held
        for the photos sent right after it, a numbered answer turned into the button it stands for."""
        if incoming.kind is not MessageKind.PHOTO:
            await self.bursts.flush(incoming.chat_id, incoming.user_id)
        if key is not None and not await self.seen.first_sight(key):
            logger.info("%s: message %s was already handled", self.label, key)
            return
        if incoming.kind is MessageKind.PHOTO and (self.inbox is None or not self.inbox.shared):
            self.bursts.add(incoming)  # a shared inbox hands each photo to whichever process claims it: one by one
            return
        await self._answer(await self.choices.apply(incoming))

    async def _answer(self, incoming: IncomingMessage) -> None:
        replies = await self.handle(incoming)
        await self.send(incoming.chat_id, replies)

    async def download(self, ref: MediaRef, max_bytes: int | None = None) -> bytes:
        """The bytes of a photo a user sent (by its URL), at most ``max_bytes`` (MEDIA_MAX_BYTES)."""
        return await download_url(self._http(), ref.url or ref.file_id, max_bytes or self.settings.media_max_bytes)

    async def download_to(self, ref: MediaRef, path: Path, max_bytes: int) -> None:
        """The evidence store's downloader: stream the photo to ``path``."""
        await download_url(self._http(), ref.url or ref.file_id, max_bytes, path)
