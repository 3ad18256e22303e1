"""``python -m bot run`` and ``chat``: the channels, the webhook server and the leader's work in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from bot.app import App
from storage.db import masked

logger = logging.getLogger(__name__)


async def run_console(app: App, *, user: str, chat: str | None, name: str, broadcasts: bool = False) -> int:
    from bot.channels.console import CHANNEL, ConsoleChannel, download_to
    from bot.channels.zalo_common import Choices

    async with app:
        assert app.dispatcher is not None
        channel = ConsoleChannel(app.dispatcher.handle, user_id=user, chat_id=chat, name=name)
        channel.remembered = Choices(app.db, CHANNEL)  # the numbered options outlive a restart
        app.register_downloader(CHANNEL, download_to)  # /photo PATH: the file id is the local path
        if not (broadcasts and app.settings.scheduler_enabled):
            return await channel.run()
        # `run` on the console alone: reminders and announcements for console users are printed here.
        from bot.leader import Leader

        leader = Leader(app, {channel.name: channel.deliver}, edits={channel.name: channel.edit})
        await leader.start()
        try:
            return await channel.run()
        finally:
            await leader.stop()


async def run(app: App) -> int:
    settings = app.settings
    if not settings.any_messenger:
        print(
            "Chưa cấu hình kênh nhắn tin nào (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN, ZALO_OA_APP_ID trống) — "
            f"mở trò chuyện trên console, dữ liệu lưu ở {masked(settings.database_url)}.",
            file=sys.stderr,
        )
        return await run_console(app, user="console-user", chat=None, name="", broadcasts=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with app:
        assert app.dispatcher is not None
        channels, server, leader = wire_channels(app)
        started: list = []
        try:
            if server.paths:
                await server.start()
            for channel in channels:
                await channel.start()
                started.append(channel)
            if settings.scheduler_enabled:
                await leader.start()
            logger.info("running (%s); press Ctrl+C to stop", ", ".join(c.name for c in channels))
            await stop.wait()
        finally:
            await leader.stop()
            for channel in reversed(started):
                await channel.stop()
            await server.stop()
    return 0


def wire_channels(app: App) -> tuple[list, Any, Any]:
    """The messenger channels as ``run`` serves them: returns (channels, webhook server, leader).

    One rate limiter for the bot (replies and broadcasts share the budget and every 429 pause); every channel's
    webhook on ONE server (``WEBHOOK_PORT``; channels in polling mode add no route); each channel's downloader
    registered; the leader's sender delivers, edits (Zalo: none, a new message) and pins (Telegram: the pinned
    countdown post) through them."""
    from bot.leader import Leader
    from bot.ratelimit import RateLimiter
    from bot.webhooks import WebhookServer

    settings = app.settings
    limiter = RateLimiter.from_settings(settings)
    channels = messenger_channels(app, limiter)
    server = WebhookServer(settings.webhook_listen, settings.webhook_port)
    for channel in channels:
        channel.attach(server)
        app.register_downloader(channel.name, channel.download_to)
    edits = {c.name: c.edit for c in channels if hasattr(c, "edit")}
    pins = {c.name: c.pin for c in channels if hasattr(c, "pin")}
    leader = Leader(app, {c.name: c.deliver for c in channels}, edits=edits, pins=pins, limiter=limiter)
    return channels, server, leader


def messenger_channels(app: App, limiter) -> list:
    """The configured messenger channels (Telegram, Zalo Bot, Zalo OA), in one process."""
    assert app.dispatcher is not None
    settings = app.settings
    channels: list = []
    if settings.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(settings, app.dispatcher.handle, limiter=limiter))
    if settings.zalo_bot_enabled:
        from bot.channels.zalo_bot import ZaloBotChannel

        channels.append(ZaloBotChannel(settings, app.dispatcher.handle, app.db))
    if settings.zalo_oa_enabled:
        from bot.channels.zalo_oa import ZaloOAChannel

        channels.append(ZaloOAChannel(settings, app.dispatcher.handle, app.db))
    return channels
