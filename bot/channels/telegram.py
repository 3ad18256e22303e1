"""Telegram adapter (python-telegram-bot): translate updates to neutral messages and render replies.

Long polling by default, or a webhook; every update is stored in the inbox before it is acknowledged. Every call
goes over aiohttp (:class:`AiohttpRequest`: httpx's pool costs ~1 ms of CPU a call more) through
:class:`SharedRateLimiter`, over the bot's one :class:`bot.ratelimit.RateLimiter` that the outbox sender's bulk
sends use too: replies and broadcasts share one budget and one 429 pause."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from telegram import (
    InputMediaPhoto,
    ReplyParameters,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, TypeHandler

from bot.channels.albums import AlbumCollector, gather_following
from bot.channels.telegram_http import AiohttpRequest, SharedRateLimiter, delivery_errors, drop_topic
from bot.channels.telegram_updates import CHANNEL, chat_ref, keyboard, pressed_label, to_incoming
from bot.channels.texts import split_text
from bot.inbox import Inbox
from bot.locks import LeaderLock, while_held
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from bot.webhooks import Refusals, WebhookServer
from handlers.types import ChatKind, IncomingMessage, MediaRef, MessageKind, Reply
from storage.inbox import Received, Stored
from storage.media import CHUNK, MediaTooLarge, MediaUnavailable, copy_limited

logger = logging.getLogger(__name__)

TOPIC_NAME_LIMIT = 128  # Telegram: a forum topic's name is 1-128 characters
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]


class TelegramChannel:
    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        *,
        limiter: RateLimiter | None = None,
        inbox: Inbox | None = None,
        poll_timeout: int = 10,
    ) -> None:
        if not settings.telegram_enabled:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.handle = handle
        # With an inbox every update is stored before Telegram is told it arrived (the webhook answers, the
        # poll offset moves on) and handled from there; without one (a bare channel in a test or a benchmark
        # child) updates go straight to python-telegram-bot's queue.
        self.inbox = inbox
        # A shared inbox (several processes): an album is gathered from the table by its first item's claimer.
        self.merge = inbox is None or not inbox.shared
        self.poll_timeout = poll_timeout
        self._poller: asyncio.Task | None = None
        self._accepting = False  # stored updates are queued only once the bot is initialised (start resumes)
        self._parsed: dict[int, tuple[Update, IncomingMessage]] = {}  # queued rows as parsed on arrival
        self.refusals = Refusals("telegram webhook")
        self.ignored = Refusals("telegram", what="ignored")
        # One limiter per bot: pass the sender's so broadcasts and replies share it.
        self.limiter = limiter or RateLimiter.from_settings(settings)
        self._photo_ids: dict[str, str] = {}
        self._bulk_bot: ExtBot | None = None
        self._bulk_lock = asyncio.Lock()
        assert settings.telegram_bot_token is not None
        self.application: Application = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .rate_limiter(SharedRateLimiter(self.limiter))
            .request(AiohttpRequest())
            .get_updates_request(AiohttpRequest(connections=1))
            .concurrent_updates(64)
            .job_queue(None)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._server: WebhookServer | None = None  # where the webhook route is served (shared or own)
        self._own_server = False
        self._background: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None  # file downloads, streamed to disk
        self.albums = AlbumCollector(
            self._handle_album, quiet=settings.album_quiet_seconds, max_wait=settings.album_max_wait_seconds
        )
        self.webhook_secret = (
            settings.telegram_webhook_secret.get_secret_value()
            if settings.telegram_webhook_secret
            else secrets.token_urlsafe(32)
        )

    @property
    def bot(self):
        return self.application.bot

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = to_incoming(update)
        if incoming is not None:
            await self._dispatch(update, incoming)

    async def _process_stored(self, row: Stored) -> None:
        """Handle one update from the inbox (the dispatcher marks it handled in the step's transaction).

        An update received by this run is handled as parsed when it arrived; one from an earlier run (or
        stored before the channel started) is parsed from its stored payload."""
        parsed = self._parsed.pop(row.id, None)
        update, incoming = parsed if parsed is not None else self._parse(row.payload)
        if incoming is not None:
            incoming.inbox_ids, incoming.inbox_attempts = [row.id], row.attempts
            if (album := incoming.album_id) is not None and not self.merge:  # shared: the rest follows in the table
                incoming = await gather_following(
                    self.inbox, row, incoming,
                    lambda later: item if (item := self._parse(later.payload)[1]) and item.album_id == album else None,
                    quiet=self.settings.album_quiet_seconds, max_wait=self.settings.album_max_wait_seconds,
                )  # fmt: skip
            await self._dispatch(update, incoming)

    async def _dispatch(self, update: Update, incoming: IncomingMessage) -> None:
        if incoming.album_id is not None and incoming.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT) and self.merge:
            self.albums.add(incoming)  # handled as one message once the album is complete
            return
        query = update.callback_query
        if query is not None:
            label = pressed_label(query.message, query.data or "")
            private = incoming.chat_kind is ChatKind.PRIVATE
            if private and label and query.message is not None and getattr(query.message, "text", None):
                # Keep the chat readable: the question now shows the answer and no stale buttons. Not in a
                # group: a case card there is shared by the whole agency and keeps its buttons.
                await self._quietly(query.edit_message_text(f"{query.message.text}\n\n➡️ {label}"))
        await self.albums.flush(incoming.chat_id, incoming.user_id)  # keep the order the person wrote in
        replies = await self.handle(incoming)
        if query is not None:
            # A reply marked ``alert`` is for the presser's eyes only (e.g. a reporter's phone number).
            alerts = [r for r in replies if r.alert]
            replies = [r for r in replies if not r.alert]
            if alerts:
                await self._quietly(query.answer("\n".join(r.text for r in alerts)[:200], show_alert=True))
            else:
                await self._quietly(query.answer())
        if incoming.thread_id:  # answers stay in the forum topic they were asked in
            replies = [r if r.thread_id else dataclasses.replace(r, thread_id=incoming.thread_id) for r in replies]
        await self.send(int(incoming.chat_id), replies)

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        """A courtesy call around a button press (edit, answer): a refusal (a query too old after a restart)
        must not keep the step's replies from going out."""
        try:
            await call
        except TelegramError as exc:
            logger.info("telegram: a button courtesy call failed: %s", exc)

    async def _handle_album(self, incoming: IncomingMessage) -> None:
        replies = await self.handle(incoming)
        await self.send(int(incoming.chat_id), replies)

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Send one outbox reply (button payloads already signed); map failures to common terms."""
        with delivery_errors():
            if reply.topic:
                return await self._topic(chat_ref(chat_id), reply)
            return await self._send_one(chat_ref(chat_id), reply, bulk=True)

    async def _topic(self, chat_id: int | str, reply: Reply) -> str:
        """Create a forum topic (its id is returned as the message id), rename one (``reply.thread_id``) or drop
        one (``reply.drop_topic``: deleted, or closed where the bot may not delete it)."""
        bot = await self.bulk_bot()
        name = (reply.topic or "")[:TOPIC_NAME_LIMIT]
        if reply.drop_topic and reply.thread_id:
            await drop_topic(bot, chat_id, int(reply.thread_id))
            return reply.thread_id
        if reply.thread_id:
            try:
                await bot.edit_forum_topic(chat_id, int(reply.thread_id), name=name, rate_limit_args={"bulk": True})
            except BadRequest as exc:
                if "not modified" not in str(exc).lower().replace("_", " "):
                    raise
            return reply.thread_id
        topic = await bot.create_forum_topic(chat_id, name, rate_limit_args={"bulk": True})
        return str(topic.message_thread_id)

    async def send(self, chat_id: int, replies: list[Reply]) -> None:
        """Answer right after the step; a reply written to the outbox is marked sent as soon as it went out (one
        the process dies before marking is delivered by the outbox sender once its lease is over)."""
        for reply in replies:
            message_id = await self._send_one(chat_id, reply)
            if reply.outbox_id is not None and self.inbox is not None:
                await self.inbox.sent([(reply.outbox_id, message_id)])

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> str | None:
        """Change a message sent earlier (a case card as the case moves): its text and its buttons.

        A card sent as one photo with a caption has its caption edited instead. A message that cannot be
        edited any more (deleted, too old) gets the new state as a new message, whose id is returned.
        """
        bot, limits = await self.bulk_bot(), {"bulk": True}
        markup = keyboard(reply) if reply.buttons else None
        text = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)[0]
        with delivery_errors():
            try:
                await bot.edit_message_text(
                    text, chat_id=chat_ref(chat_id), message_id=int(message_id), reply_markup=markup,
                    rate_limit_args=limits,
                )  # fmt: skip
            except BadRequest as exc:
                reason = str(exc).lower()
                if "not modified" in reason:
                    return message_id
                if "no text in the message" in reason:
                    await bot.edit_message_caption(
                        chat_id=chat_ref(chat_id), message_id=int(message_id),
                        caption=text[: MessageLimit.CAPTION_LENGTH], reply_markup=markup, rate_limit_args=limits,
                    )  # fmt: skip
                elif "not found" in reason or "can't be edited" in reason:
                    return await self._send_one(chat_ref(chat_id), reply, bulk=True)
                else:
                    raise
        return message_id

    async def pin(self, chat_id: str, message_id: str) -> None:
        """Pin a message the bot sent (the countdown post in a channel) without notifying anyone.

        The bot must be an admin of the chat with the right to pin; failures are raised in common terms."""
        bot = await self.bulk_bot()
        with delivery_errors():
            await bot.pin_chat_message(
                chat_ref(chat_id), int(message_id), disable_notification=True, rate_limit_args={"bulk": True}
            )

    async def bulk_bot(self) -> ExtBot:
        """The bot the outbox sender sends with: same token and limiter, the aiohttp request backend."""
        async with self._bulk_lock:
            if self._bulk_bot is None:
                assert self.settings.telegram_bot_token is not None
                bot = ExtBot(
                    self.settings.telegram_bot_token.get_secret_value(),
                    base_url=self.settings.telegram_api_base_url,
                    base_file_url=self.settings.telegram_file_base_url,
                    request=AiohttpRequest(),
                    get_updates_request=AiohttpRequest(connections=1),
                    rate_limiter=SharedRateLimiter(self.limiter),
                )
                await bot.initialize()
                self._bulk_bot = bot
            return self._bulk_bot

    async def close_bulk(self) -> None:
        if self._bulk_bot is not None:
            await self._bulk_bot.shutdown()
            self._bulk_bot = None

    async def _send_one(self, chat_id: int | str, reply: Reply, *, bulk: bool = False) -> str | None:
        bot = await self.bulk_bot() if bulk else self.bot
        limits = {"bulk": True} if bulk else None
        thread = {"message_thread_id": int(reply.thread_id)} if reply.thread_id else {}
        one_photo = len(reply.photos) == 1 and 0 < len(reply.text) <= MessageLimit.CAPTION_LENGTH
        if bulk and one_photo and not reply.reply_to:
            # A broadcast with one photo and a short text is one message: the photo with its caption. (An
            # answer to an earlier message keeps its text separate: that is the part that is threaded.)
            return await self._send_photo(bot, chat_id, reply.photos[0], reply.text, keyboard(reply), limits, thread)
        if reply.photos:
            await self._send_photos(bot, chat_id, reply.photos, limits, thread)
        parts = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
        message_id = None
        # An answer to an earlier message (e.g. the reporter's addition under the case card) is threaded.
        answer = ReplyParameters(int(reply.reply_to), allow_sending_without_reply=True) if reply.reply_to else None
        for i, part in enumerate(parts):
            markup = keyboard(reply) if i == len(parts) - 1 else None
            message = await bot.send_message(
                chat_id, part, reply_markup=markup, rate_limit_args=limits,
                reply_parameters=answer if i == 0 else None, **thread,
            )  # fmt: skip
            message_id = str(message.message_id)
        return message_id

    async def _send_photo(
        self,
        bot: ExtBot,
        chat_id: int | str,
        photo: str,
        caption: str | None,
        markup: Any,
        limits: dict | None,
        thread: dict[str, int] | None = None,
    ) -> str:
        """Send one photo; a local file is uploaded once, then resent by its Telegram file id."""
        known = self._photo_ids.get(photo)
        path = Path(photo)
        source: bytes | str = known or (path.read_bytes() if path.is_file() else photo)
        message = await bot.send_photo(
            chat_id, source, caption=caption, reply_markup=markup, rate_limit_args=limits, **(thread or {})
        )
        if known is None and message.photo:
            self._photo_ids[photo] = message.photo[-1].file_id
        return str(message.message_id)

    async def _send_photos(
        self,
        bot: ExtBot,
        chat_id: int | str,
        photos: list[str],
        limits: dict | None = None,
        thread: dict[str, int] | None = None,
    ) -> None:
        paths = [Path(p) for p in photos]
        if len(paths) == 1:
            await self._send_photo(bot, chat_id, photos[0], None, None, limits, thread)
            return
        for start in range(0, len(paths), 10):
            media = [InputMediaPhoto(p.read_bytes()) for p in paths[start : start + 10]]
            await bot.send_media_group(chat_id, media, rate_limit_args=limits, **(thread or {}))

    async def download(self, ref: MediaRef) -> bytes:
        file = await self.bot.get_file(ref.file_id)
        return bytes(await file.download_as_bytearray())

    async def download_to(self, ref: MediaRef, path: Path, max_bytes: int) -> None:
        """Stream a file sent to the bot to ``path`` (getFile, then the file URL, chunk by chunk).

        The size limit (the Bot API serves files up to 20 MB) is checked three times: the size the update
        declared, the size getFile reports, and the bytes actually received.
        """
        if ref.size is not None and ref.size > max_bytes:
            raise MediaTooLarge(ref.size, max_bytes)
        try:
            file = await self.bot.get_file(ref.file_id)
        except BadRequest as exc:
            if "too big" in str(exc).lower():
                raise MediaTooLarge(ref.size, max_bytes) from exc
            raise MediaUnavailable(str(exc)) from exc
        except NetworkError as exc:
            raise MediaUnavailable(str(exc)) from exc
        if file.file_size is not None and file.file_size > max_bytes:
            raise MediaTooLarge(file.file_size, max_bytes)
        source = file.file_path
        if not source:
            raise MediaUnavailable("getFile returned no file path")
        if not source.startswith(("http://", "https://")):
            # A self-hosted Bot API server in --local mode answers with a path on its disk.
            await asyncio.to_thread(copy_limited, Path(source), path, max_bytes)
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10))
        received = 0
        try:
            async with self._http.stream("GET", source) as response:
                if response.status_code != 200:
                    raise MediaUnavailable(f"file download answered HTTP {response.status_code}")
                with path.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        received += len(chunk)
                        if received > max_bytes:
                            raise MediaTooLarge(received, max_bytes)
                        out.write(chunk)
        except httpx.HTTPError as exc:
            # Not str(exc): httpx errors carry the URL, and the file URL carries the bot token.
            raise MediaUnavailable(f"file download failed: {type(exc).__name__}") from exc

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram update failed", exc_info=context.error)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        if self.inbox is not None:
            self._accepting = True
            await self.inbox.resume(CHANNEL, self._process_stored)
        if self.settings.telegram_webhook_url:
            await self._start_webhook()
            return
        await self.bot.delete_webhook()
        if self.inbox is not None and self.inbox.shared:  # one process of the bot polls, every one handles
            lock = LeaderLock(self.settings.database_url, f"sct-assistant:poll:{CHANNEL}", file_suffix="poll")
            retry = self.settings.leader_retry_seconds
            poll = while_held(lock, self._poll_loop, retry_seconds=retry, what="telegram polling")
            self._poller = asyncio.create_task(poll, name="telegram-poll")
        elif self.inbox is not None:
            self._poller = asyncio.create_task(self._poll_loop(), name="telegram-poll")
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        logger.info("telegram: long polling as @%s", self.bot.username)

    async def stop(self) -> None:
        self._accepting = False
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._own_server and self._server is not None:
            await self._server.stop()
            self._server = None
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.inbox is not None:
            await self.inbox.drain(timeout=10)
        self._parsed.clear()  # anything not handled is still pending in the table: parsed again at the next start
        await self.albums.close()  # albums still waiting for their quiet time are handled now
        await self.close_bulk()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # -- webhook -------------------------------------------------------------------------------
    def attach(self, server: WebhookServer) -> None:
        """Serve the webhook route on the process's shared server (call before it starts); polling: nothing."""
        if self.settings.telegram_webhook_url:
            server.add_post(self.settings.telegram_webhook_path, self._webhook)
            self._server = server

    async def _start_webhook(self) -> None:
        if self._server is None:  # started alone: a server of its own on WEBHOOK_PORT
            self._server = WebhookServer(self.settings.webhook_listen, self.settings.webhook_port)
            self._server.add_post(self.settings.telegram_webhook_path, self._webhook)
            self._own_server = True
        await self._server.start()
        await self.bot.set_webhook(
            self.settings.telegram_webhook_url,
            secret_token=self.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
        logger.info("telegram: webhook listening on port %s", self.settings.webhook_port)

    async def _webhook(self, request: web.Request) -> web.Response:
        """Secret first; then the body: malformed → 400, a kind we ignore → 200, else stored → 200 (only once
        the row is committed; a database failure → 503, and Telegram delivers again). Never a 500."""
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.webhook_secret.encode()):
            self.refusals.note("wrong secret")
            return web.Response(status=403)
        try:
            data = json.loads(await request.read())
            update, incoming = self._parse(data)
        except Exception as exc:  # any malformed body is the sender's fault: 400, no traceback
            self.refusals.note(f"malformed update ({type(exc).__name__})")
            return web.Response(status=400)
        if incoming is None:
            self.ignored.note(f"update {data.get('update_id')} of a kind the assistant does not handle")
            return web.Response()
        if self.inbox is None:
            await self.application.update_queue.put(update)
            return web.Response()
        try:
            await self._store([(update, incoming)], [data])
        except Exception as exc:  # the database is unreachable: not acknowledged, retried later
            self.refusals.note(f"not stored ({type(exc).__name__})")
            return web.Response(status=503)
        return web.Response()

    def _parse(self, data: Any) -> tuple[Update, IncomingMessage | None]:
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, self.bot)
        return update, to_incoming(update)

    async def _store(self, batch: list[tuple[Update, IncomingMessage]], payloads: list[dict[str, Any]]) -> None:
        """Store a batch (``payloads`` are the updates as received); queue the new ones with their parsed form."""
        assert self.inbox is not None
        pairs = zip(batch, payloads, strict=True)
        items = [Received(str(u.update_id), f"{m.chat_id}:{m.user_id}", d) for (u, m), d in pairs]
        added = await self.inbox.store(CHANNEL, items)
        if self._accepting:  # else stored on the shared server before this channel started: start resumes them
            parsed = {str(u.update_id): (u, m) for u, m in batch} if not self.inbox.shared else {}
            for row in added if parsed else ():  # shared: the rows may be handled by another process
                self._parsed[row.id] = parsed[str(row.payload["update_id"])]
            self.inbox.submit(added, self._process_stored)

    async def _poll_loop(self) -> None:
        """Long polling that moves the offset on only once the batch is stored (Telegram keeps what it has
        not been told was received: a crash before the commit gets the same updates again)."""
        offset = 0
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=Update.ALL_TYPES,
                    read_timeout=self.poll_timeout + 10,
                )  # fmt: skip
                batch = [(u, m) for u in updates if (m := to_incoming(u)) is not None]
                if len(batch) < len(updates):
                    self.ignored.note("updates of a kind the assistant does not handle")
                await self._store(batch, [u.to_dict() for u, _ in batch])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network or database: the same offset is asked again
                failures += 1
                logger.warning("telegram: polling failed (%s); trying again", type(exc).__name__)
                await asyncio.sleep(min(0.5 * 2 ** min(failures, 6), 30.0))
                continue
            failures = 0
            if updates:
                offset = updates[-1].update_id + 1
