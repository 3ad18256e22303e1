"""Command line: ``python -m bot run | chat | db upgrade | config check | countdown | broadcast | announce |
report | case pack`` (and the staff, knowledge-base and complaint commands)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from bot.app import App, create_app
from bot.cli import broadcast as broadcast_cli
from bot.cli import complaints as complaints_cli
from bot.cli import qa as qa_cli
from bot.cli import report as report_cli
from bot.cli import staff as staff_cli
from bot.logs import setup_logging
from bot.settings import Settings
from handlers.config import ConfigError, load_config
from storage.db import Database, masked

logger = logging.getLogger(__name__)

QUIET_COMMANDS = frozenset(
    {"chat", "ask", "kb", "staff", "countdown", "broadcast", "announce", "complaints", "report", "case"}
)


def package_version() -> str:
    try:
        return version("sct-assistant")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Trợ lý Sở Công Thương cho Tuần lễ TMĐT quốc gia và Online Friday.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", help="chạy mọi kênh đã cấu hình (console nếu chưa có kênh nào)")

    chat = sub.add_parser("chat", help="trò chuyện với trợ lý trên console (stdin/stdout)")
    chat.add_argument("--user", default="console-user", help="id người dùng (mặc định console-user)")
    chat.add_argument("--chat", default=None, help="id cuộc trò chuyện (mặc định = --user)")
    chat.add_argument("--name", default="", help="tên hiển thị")

    db = sub.add_parser("db", help="cơ sở dữ liệu")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="áp dụng các migration Alembic")

    qa_cli.add_parsers(sub)
    staff_cli.add_parsers(sub)
    broadcast_cli.add_parsers(sub)
    complaints_cli.add_parsers(sub)
    report_cli.add_parsers(sub)

    config = sub.add_parser("config", help="tệp cấu hình YAML")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("check", help="kiểm tra tệp cấu hình (BOT_CONFIG hoặc mặc định)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    command = args.command or "run"
    # The console chat shares the terminal with the log, and the reports print for people: keep it to warnings.
    quiet = command in QUIET_COMMANDS or (command == "run" and not settings.any_messenger)
    setup_logging("WARNING" if quiet and settings.log_level == "INFO" else settings.log_level, settings.secrets())
    try:
        if command == "db":
            Database(settings.database_url).upgrade()
            print(f"Đã cập nhật cơ sở dữ liệu: {masked(settings.database_url)}")
            return 0
        if command == "config":
            return config_check(settings)
        if command == "ask":
            return qa_cli.run_ask(args.question, args.json)
        if command == "kb":
            return qa_cli.run_kb(args, settings)
        if command == "staff":
            return staff_cli.run_staff(args, settings)
        if command == "countdown":
            return broadcast_cli.run_countdown(args, settings)
        if command == "broadcast":
            return broadcast_cli.run_broadcast(args, settings)
        if command == "announce":
            return broadcast_cli.run_announce(args, settings)
        if command == "complaints":
            return complaints_cli.run_complaints(args, settings)
        if command in ("report", "case"):
            return report_cli.run_report_cli(args, settings)
        app = create_app(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if command == "chat":
        return asyncio.run(run_console(app, user=args.user, chat=args.chat, name=args.name))
    return asyncio.run(run(app))


def config_check(settings: Settings) -> int:
    config = load_config(settings.bot_config)
    print(
        f"Cấu hình hợp lệ: {len(config.campaigns)} chiến dịch, {len(config.areas)} địa bàn, "
        f"{len(config.agencies)} cơ quan, {len(config.staff)} cán bộ, {len(config.routing)} quy tắc chuyển."
    )
    # Agencies the routing rules send reports to, but with no staff chat to post them in.
    named = {rule.lead for rule in config.routing if rule.kind == "consumer_report"}
    named |= {copy for rule in config.routing if rule.kind == "consumer_report" for copy in rule.copies}
    silent = sorted(a for a in named if (agency := config.agency(a)) is not None and not agency.chats)
    if silent:
        print(f"Lưu ý: chưa khai báo nhóm chat cán bộ (agencies[].chats) cho: {', '.join(silent)}.")
    return 0


async def run_console(app: App, *, user: str, chat: str | None, name: str, broadcasts: bool = False) -> int:
    from bot.channels.console import CHANNEL, ConsoleChannel, download_to

    async with app:
        assert app.dispatcher is not None
        channel = ConsoleChannel(app.dispatcher.handle, user_id=user, chat_id=chat, name=name)
        app.register_downloader(CHANNEL, download_to)  # /photo PATH: the file id is the local path
        if not (broadcasts and app.settings.scheduler_enabled):
            return await channel.run()
        # `run` on the console alone: reminders and announcements for console users are printed here.
        from bot.scheduler import Broadcasting

        broadcasting = Broadcasting.from_settings(
            app, {channel.name: channel.deliver}, limiter=None, edits={channel.name: channel.edit}
        )
        await broadcasting.start()
        try:
            return await channel.run()
        finally:
            await broadcasting.stop()


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
        channels, server, broadcasting = wire_channels(app)
        started: list = []
        try:
            if server.paths:
                await server.start()
            for channel in channels:
                await channel.start()
                started.append(channel)
            if settings.scheduler_enabled:
                await broadcasting.start()
            logger.info("running (%s); press Ctrl+C to stop", ", ".join(c.name for c in channels))
            await stop.wait()
        finally:
            await broadcasting.stop()
            for channel in reversed(started):
                await channel.stop()
            await server.stop()
    return 0


def wire_channels(app: App) -> tuple[list, Any, Any]:
    """The messenger channels as ``run`` serves them: returns (channels, webhook server, leader's broadcasting).

    One rate limiter for the bot (replies and broadcasts share the budget and every 429 pause); every channel's
    webhook on ONE server (``WEBHOOK_PORT``; channels in polling mode add no route); each channel's downloader
    registered; the leader's sender delivers, edits (Zalo: none, a new message) and pins (Telegram: the pinned
    countdown post) through them."""
    from bot.scheduler import Broadcasting
    from bot.sender import RateLimiter
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
    broadcasting = Broadcasting.from_settings(app, {c.name: c.deliver for c in channels}, limiter, edits, pins)
    return channels, server, broadcasting


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
