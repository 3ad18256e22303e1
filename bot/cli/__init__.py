"""Command line: ``python -m bot run | chat | db upgrade | config check | countdown | broadcast | announce |
report | case pack`` (and the staff, knowledge-base and complaint commands)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from bot.app import create_app
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
    from bot.cli.run import run, run_console

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
