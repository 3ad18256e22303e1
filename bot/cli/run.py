"""``python -m bot run`` and ``chat``: the channels, the webhook server and the leader's work in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.app import App
from storage.db import masked

logger = logging.getLogger(__name__)


async def run_console(
    app: App,
    *,
    user: str,
    chat: str | None,
    name: str,
    leader: bool = False,
    web: bool = False,
    mailbox: Any = None,
    on_ready: Callable[[App], Awaitable[None]] | None = None,
) -> int:
    """The console chat. ``leader``: also the leader's work (routing, reminders, the sender, printed here or
    left in ``mailbox`` for another console chat's terminal); ``web``: the features' pages with a demo sign-in."""
    from bot.channels.console import CHANNEL, ConsoleChannel, download_to
    from bot.channels.zalo_common import Choices
    from bot.inbox import Inbox

    async with app:
        assert app.dispatcher is not None
        inbox = Inbox(app.db, workers=1)
        channel = ConsoleChannel(app.dispatcher.handle, user_id=user, chat_id=chat, name=name, inbox=inbox)
        channel.remembered = Choices(app.db, CHANNEL)  # the numbered options outlive a restart
        channel.mailbox = mailbox
        app.register_downloader(CHANNEL, download_to)  # /photo PATH: the file id is the local path
        if on_ready is not None:
            await on_ready(app)
        if not (leader and app.settings.scheduler_enabled):
            try:
                return await channel.run()
            finally:
                await inbox.close()
        from bot.leader import Leader
        from bot.webhooks import WebhookServer

        lead = Leader(app, {channel.name: channel.deliver}, edits={channel.name: channel.edit})
        server = WebhookServer("127.0.0.1", app.settings.webhook_port)  # a local demo: this machine only
        mounts = mount_web(app, server) if web else []
        await lead.start()
        try:
            if mounts:
                await start_demo_pages(server, mounts)
            return await channel.run()
        finally:
            await lead.stop()
            await server.stop()
            await inbox.close()


async def start_demo_pages(server, mounts: list) -> None:
    """The local demo's web pages and their sign-in links; a port in use only costs the pages."""
    if not await server.start_serving():
        print(f"Không mở được trang web trên cổng {server.requested_port}; bạn đặt WEBHOOK_PORT khác.", file=sys.stderr)
        return
    for mount in mounts:
        if mount.demo is not None:
            print(await mount.demo(), file=sys.stderr)


async def run(app: App) -> int:
    settings = app.settings
    if not settings.any_messenger:
        print(
            "Chưa cấu hình kênh nhắn tin nào (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN, ZALO_OA_APP_ID trống) — "
            f"mở trò chuyện trên console, dữ liệu lưu ở {masked(settings.database_url)}.",
            file=sys.stderr,
        )
        return await run_console(app, user="console-user", chat=None, name="", leader=True, web=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with app:
        assert app.dispatcher is not None
        channels, server, leader, inbox = wire_channels(app)
        started: list = []
        try:
            await server.start_serving()
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
            await inbox.close()
    return 0


def wire_channels(app: App) -> tuple[list, Any, Any, Any]:
    """The messenger channels as ``run`` serves them: returns (channels, webhook server, leader, inbox).

    One rate limiter for the bot (replies and broadcasts share the budget and every 429 pause); every channel's
    webhook on ONE server (``WEBHOOK_PORT``; channels in polling mode add no route); each channel's downloader
    registered; the leader's sender delivers, edits (Zalo: none, a new message) and pins (Telegram: the pinned
    countdown post) through them. On PostgreSQL the inbox is shared with the bot's other processes (claims and
    leases, ``LISTEN``/``NOTIFY`` wake-ups: see ``bot/inbox.py``); on SQLite one process serves the bot."""
    from bot.inbox import Inbox
    from bot.leader import Leader
    from bot.notify import Listener
    from bot.ratelimit import RateLimiter
    from bot.webhooks import WebhookServer

    settings = app.settings
    limiter = RateLimiter.from_settings(settings)
    shared = not app.db.is_sqlite
    inbox = Inbox(
        app.db,
        workers=settings.inbox_workers,
        shared=shared,
        lease=settings.inbox_claim_lease_seconds,
        poll=settings.inbox_poll_seconds,
        listener=Listener(app.db.url) if shared else None,
    )
    channels = messenger_channels(app, limiter, inbox)
    server = WebhookServer(settings.webhook_listen, settings.webhook_port)
    for channel in channels:
        channel.attach(server)
        app.register_downloader(channel.name, channel.download_to)
    mount_web(app, server)
    edits = {c.name: c.edit for c in channels if hasattr(c, "edit")}
    pins = {c.name: c.pin for c in channels if hasattr(c, "pin")}
    leader = Leader(
        app, {c.name: c.deliver for c in channels}, edits=edits, pins=pins, limiter=limiter, listener=inbox.listener
    )
    return channels, server, leader, inbox


def mount_web(app: App, server) -> list:
    """The web pages the features declare, mounted on the server (none when WEB_CONSOLE is off)."""
    from handlers.features import load_features, web_mounts
    from handlers.web import WebContext

    assert app.dispatcher is not None
    if not app.settings.web_url:
        return []
    mounts = web_mounts(load_features(), WebContext(app.db, app.dispatcher.services, app.settings.web_url))
    for mount in mounts:
        server.mount(mount.prefix, mount.app)
    return mounts


def messenger_channels(app: App, limiter, inbox) -> list:
    """The configured messenger channels (Telegram, Zalo Bot, Zalo OA), in one process, sharing one inbox."""
    assert app.dispatcher is not None
    settings = app.settings
    channels: list = []
    if settings.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(settings, app.dispatcher.handle, limiter=limiter, inbox=inbox))
    if settings.zalo_bot_enabled:
        from bot.channels.zalo_bot import ZaloBotChannel

        channels.append(ZaloBotChannel(settings, app.dispatcher.handle, app.db, inbox=inbox))
    if settings.zalo_oa_enabled:
        from bot.channels.zalo_oa import ZaloOAChannel

        channels.append(ZaloOAChannel(settings, app.dispatcher.handle, app.db, inbox=inbox))
    return channels
