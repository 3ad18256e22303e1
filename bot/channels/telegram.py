"""Telegram adapter (python-telegram-bot): translate updates to neutral messages and render replies.

Long polling by default; webhook mode on an aiohttp server that checks the secret header first, queues
the update and answers at once. Every outgoing call goes through PTB's ``AIORateLimiter``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.base import RateLimited, TemporaryFailure, Unreachable
from bot.settings import Settings
from handlers.types import ChatKind, IncomingMessage, MediaRef, MessageKind, Reply

logger = logging.getLogger(__name__)

CHANNEL = "telegram"

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]


def to_incoming(update: Update) -> IncomingMessage | None:
    """Translate a Telegram update into a neutral message; None for updates we do not handle."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = message.chat if message is not None else None
        return IncomingMessage(
            channel=CHANNEL,
            chat_id=str(chat.id if chat else query.from_user.id),
            user_id=str(query.from_user.id),
            display_name=query.from_user.full_name,
            kind=MessageKind.BUTTON,
            chat_kind=ChatKind.PRIVATE if chat is None or chat.type == "private" else ChatKind.GROUP,
            button=query.data or "",
            message_id=str(message.message_id) if message is not None else None,
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    base = {
        "channel": CHANNEL,
        "chat_id": str(message.chat.id),
        "user_id": str(message.from_user.id),
        "display_name": message.from_user.full_name,
        "chat_kind": ChatKind.PRIVATE if message.chat.type == "private" else ChatKind.GROUP,
        "album_id": message.media_group_id,
        "message_id": str(message.message_id),
        "timestamp": message.date,
    }
    if message.photo:
        largest = message.photo[-1]
        ref = MediaRef(largest.file_id, size=largest.file_size, width=largest.width, height=largest.height)
        return IncomingMessage(**base, kind=MessageKind.PHOTO, text=message.caption or "", photos=[ref])
    if message.document is not None:
        doc = message.document
        ref = MediaRef(doc.file_id, size=doc.file_size, mime=doc.mime_type, file_name=doc.file_name)
        if (doc.mime_type or "").startswith("image/"):
            # A photo sent "as a file" keeps its original quality: treat it as a photo.
            return IncomingMessage(
                **base, kind=MessageKind.PHOTO, text=message.caption or "", photos=[ref], document=ref
            )
        return IncomingMessage(**base, kind=MessageKind.DOCUMENT, text=message.caption or "", document=ref)
    if message.sticker is not None:
        return IncomingMessage(**base, kind=MessageKind.STICKER)
    if message.text is not None:
        return IncomingMessage(**base, kind=MessageKind.TEXT, text=message.text)
    return IncomingMessage(**base, kind=MessageKind.OTHER)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardRemove | None:
    if reply.buttons:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in reply.buttons]
        )
    return ReplyKeyboardRemove() if reply.remove_keyboard else None


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split a long text on line breaks so each part fits one Telegram message."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return parts


def pressed_label(message: Message | None, data: str) -> str | None:
    if message is None or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


class TelegramChannel:
    name = CHANNEL

    def __init__(self, settings: Settings, handle: Handle) -> None:
        if not settings.telegram_enabled:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.handle = handle
        assert settings.telegram_bot_token is not None
        self.application: Application = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .rate_limiter(
                AIORateLimiter(
                    overall_max_rate=settings.telegram_overall_rate,
                    overall_time_period=1,
                    group_max_rate=settings.telegram_group_per_minute,
                    group_time_period=60,
                    max_retries=3,
                )
            )
            .concurrent_updates(64)
            .job_queue(None)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task] = set()
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
        if incoming is None:
            return
        query = update.callback_query
        if query is not None:
            await query.answer()
            label = pressed_label(query.message, query.data or "")
            if label and query.message is not None and getattr(query.message, "text", None):
                # Keep the chat readable: the question now shows the answer and no stale buttons.
                await query.edit_message_text(f"{query.message.text}\n\n➡️ {label}")
        replies = await self.handle(incoming)
        await self.send(int(incoming.chat_id), replies)

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Send one outbox reply (button payloads already signed); map failures to common terms."""
        try:
            return await self._send_one(int(chat_id), reply)
        except RetryAfter as exc:
            retry = exc.retry_after
            raise RateLimited(retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)) from exc
        except Forbidden as exc:
            raise Unreachable(str(exc)) from exc
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Unreachable(str(exc)) from exc
            raise
        except (TimedOut, NetworkError) as exc:
            raise TemporaryFailure(str(exc)) from exc

    async def send(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            await self._send_one(chat_id, reply)

    async def _send_one(self, chat_id: int, reply: Reply) -> str | None:
        if reply.photos:
            await self._send_photos(chat_id, reply.photos)
        parts = split_text(reply.text)
        message_id = None
        for i, part in enumerate(parts):
            markup = keyboard(reply) if i == len(parts) - 1 else None
            message = await self.bot.send_message(chat_id, part, reply_markup=markup)
            message_id = str(message.message_id)
        return message_id

    async def _send_photos(self, chat_id: int, photos: list[str]) -> None:
        paths = [Path(p) for p in photos]
        if len(paths) == 1:
            await self.bot.send_photo(chat_id, paths[0].read_bytes())
            return
        for start in range(0, len(paths), 10):
            media = [InputMediaPhoto(p.read_bytes()) for p in paths[start : start + 10]]
            await self.bot.send_media_group(chat_id, media)

    async def download(self, ref: MediaRef) -> bytes:
        file = await self.bot.get_file(ref.file_id)
        return bytes(await file.download_as_bytearray())

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram update failed", exc_info=context.error)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        if self.settings.telegram_webhook_url:
            await self._start_webhook()
        else:
            await self.bot.delete_webhook()
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            logger.info("telegram: long polling as @%s", self.bot.username)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # -- webhook -------------------------------------------------------------------------------
    def webhook_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(self.settings.telegram_webhook_path, self._webhook)
        app.router.add_get("/healthz", self._health)
        return app

    async def _start_webhook(self) -> None:
        self._runner = web.AppRunner(self.webhook_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.webhook_listen, self.settings.webhook_port)
        await site.start()
        await self.bot.set_webhook(
            self.settings.telegram_webhook_url,
            secret_token=self.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
        logger.info("telegram: webhook listening on port %s", self.settings.webhook_port)

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.webhook_secret.encode()):
            logger.warning("telegram webhook: refused a request with a wrong secret")
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response()
