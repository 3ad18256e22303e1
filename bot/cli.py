"""Command line: ``python -m bot run | chat | db upgrade | config check``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from bot import qa_cli
from bot.app import App, create_app
from bot.logs import setup_logging
from bot.settings import Settings
from handlers.config import ConfigError, load_config
from storage.db import Database, masked

logger = logging.getLogger(__name__)


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

    config = sub.add_parser("config", help="tệp cấu hình YAML")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("check", help="kiểm tra tệp cấu hình (BOT_CONFIG hoặc mặc định)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    command = args.command or "run"
    quiet = command in ("chat", "ask", "kb")
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
    return 0


async def run_console(app: App, *, user: str, chat: str | None, name: str) -> int:
    from bot.channels.console import ConsoleChannel

    async with app:
        assert app.dispatcher is not None
        channel = ConsoleChannel(app.dispatcher.handle, user_id=user, chat_id=chat, name=name)
        return await channel.run()


async def run(app: App) -> int:
    settings = app.settings
    if not settings.telegram_enabled:
        print(
            "Chưa cấu hình kênh nhắn tin nào (TELEGRAM_BOT_TOKEN trống) — mở trò chuyện trên console, "
            f"dữ liệu lưu ở {masked(settings.database_url)}.",
            file=sys.stderr,
        )
        return await run_console(app, user="console-user", chat=None, name="")

    from bot.channels.telegram import TelegramChannel

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with app:
        assert app.dispatcher is not None
        telegram = TelegramChannel(settings, app.dispatcher.handle)
        await telegram.start()
        logger.info("running; press Ctrl+C to stop")
        try:
            await stop.wait()
        finally:
            await telegram.stop()
    return 0
