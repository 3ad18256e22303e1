"""Command line: ``python -m bot run | chat | db upgrade | config check | countdown | broadcast | announce |
report | case pack`` (and the staff, knowledge-base and complaint commands).

This module is the parser and the dispatch only. Each command is a function ``(args, settings) -> exit code``
in a thin module of this package, named in :data:`COMMANDS` and imported when that command runs: ``ask`` never
loads the report's spreadsheet code, ``report`` never loads the channels.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.logs import setup_logging
from bot.settings import Settings
from handlers.config import ConfigError
from storage.complaints import ComplaintStatus
from storage.private import owner_only_umask
from storage.subscriptions import Audience

COMMANDS: dict[str, str] = {  # command -> "module:function"
    "db": "bot.cli.deploy:run_db",
    "config": "bot.cli.deploy:run_config",
    "ask": "bot.cli.qa:run_ask",
    "check": "bot.cli.check:run_check",
    "kb": "bot.cli.qa:run_kb",
    "staff": "bot.cli.staff:run_staff",
    "countdown": "bot.cli.broadcast:run_countdown",
    "broadcast": "bot.cli.broadcast:run_broadcast",
    "announce": "bot.cli.broadcast:run_announce",
    "complaints": "bot.cli.complaints:run_complaints",
    "report": "bot.cli.report:run_report",
    "case": "bot.cli.report:run_report",
    "inbox": "bot.cli.inbox:run_inbox",
}
CHAT_LOG = "chat.log"
QUIET_COMMANDS = frozenset(
    {
        "chat",
        "ask",
        "check",
        "kb",
        "staff",
        "countdown",
        "broadcast",
        "announce",
        "complaints",
        "report",
        "case",
        "inbox",
    }
)
COMPLAINT_STATUSES = [s.value for s in ComplaintStatus]


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
    chat.add_argument("--staff", default=None, metavar="CƠ_QUAN", help="đóng vai cán bộ của cơ quan này (ví dụ qltt)")

    db = sub.add_parser("db", help="cơ sở dữ liệu")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="áp dụng các migration Alembic")

    _qa_parsers(sub)
    _staff_parsers(sub)
    _broadcast_parsers(sub)
    _complaints_parsers(sub)
    _report_parsers(sub)

    inbox = sub.add_parser("inbox", help="tin nhận được: số tin theo trạng thái, tin lỗi đã tạm gác (cho cán bộ)")
    inbox.add_argument("--limit", type=int, default=50, help="số tin tạm gác liệt kê tối đa (mặc định 50)")

    config = sub.add_parser("config", help="tệp cấu hình YAML")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("check", help="kiểm tra tệp cấu hình (BOT_CONFIG hoặc mặc định) và các phản ánh đang mở")
    move = config_sub.add_parser("move", help="chuyển phản ánh đang mở mà tệp cấu hình không còn cơ quan chủ trì")
    move.add_argument("--to", required=True, help="id cơ quan nhận, ví dụ qltm")
    move.add_argument("--from", dest="source", help="chỉ chuyển phản ánh của cơ quan này (id cũ)")
    return parser


def _qa_parsers(sub) -> None:
    ask = sub.add_parser("ask", help="hỏi cơ sở tri thức một câu (hoặc '-' để đọc từng dòng từ stdin)")
    ask.add_argument("question", help="câu hỏi, hoặc '-' để đọc mỗi dòng một câu từ stdin")
    ask.add_argument("--json", action="store_true", help="in một đối tượng JSON mỗi câu hỏi")
    ask.add_argument("--at", help="thời điểm ISO 8601 coi là «bây giờ» cho câu mô tả chương trình khuyến mại")

    check = sub.add_parser("check", help="kiểm tra một chương trình khuyến mại mô tả bằng lời (như trong chat)")
    check.add_argument("message", help="mô tả chương trình, hoặc '-' để đọc mỗi dòng một mô tả từ stdin")
    check.add_argument("--json", action="store_true", help="in một đối tượng JSON mỗi mô tả")
    check.add_argument("--at", help="thời điểm ISO 8601 coi là «bây giờ» (không ghi múi giờ = giờ Việt Nam)")

    kb = sub.add_parser("kb", help="cơ sở tri thức")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = kb_sub.add_parser("check", help="kiểm tra các tệp tri thức (lỗi → mã thoát 1)")
    check.add_argument("path", nargs="?", help="thư mục tri thức (mặc định: knowledge/entries)")
    check.add_argument("--errors-only", action="store_true", help="chỉ in lỗi")
    kb_sub.add_parser("unanswered", help="liệt kê câu hỏi chưa có câu trả lời / đã chuyển cán bộ")
    answer = kb_sub.add_parser("answer", help="cán bộ trả lời một câu hỏi đã chuyển (gửi tới người hỏi)")
    answer.add_argument("code", help="mã câu hỏi, ví dụ Q12")
    answer.add_argument("text", help="nội dung trả lời")
    answer.add_argument("--by", default="Cán bộ Sở Công Thương", help="tên người trả lời (lưu để tra cứu)")


def _staff_parsers(sub) -> None:
    staff = sub.add_parser("staff", help="quản lý cán bộ")
    staff_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    listing = staff_sub.add_parser("list", help="danh sách cán bộ")
    listing.add_argument("--all", action="store_true", help="cả cán bộ đã ngừng quyền")
    add = staff_sub.add_parser("add", help="thêm hoặc sửa cán bộ")
    add.add_argument("channel", help="telegram, zalo_bot, zalo_oa hoặc console")
    add.add_argument("user_id")
    add.add_argument("agency", help="mã cơ quan trong tệp cấu hình, ví dụ qltm")
    add.add_argument("role", choices=["agent", "supervisor", "admin"])
    add.add_argument("name", help="họ tên")
    remove = staff_sub.add_parser("remove", help="ngừng quyền cán bộ")
    remove.add_argument("channel")
    remove.add_argument("user_id")


def _broadcast_parsers(sub) -> None:
    countdown = sub.add_parser("countdown", help="đếm ngược Online Friday (bây giờ, hoặc tại --at)")
    countdown.add_argument(
        "--at", help="thời điểm ISO 8601, ví dụ 2024-11-28T12:00:00+07:00 (không ghi múi giờ = giờ Việt Nam)"
    )

    broadcast = sub.add_parser("broadcast", help="tin gửi hàng loạt: nhắc lịch và thông báo")
    broadcast_sub = broadcast.add_subparsers(dest="broadcast_command", metavar="ACTION", required=True)
    status = broadcast_sub.add_parser("status", help="tiến độ: đã gửi / lỗi / đang chờ, tốc độ, thời gian còn lại")
    status.add_argument("--limit", type=int, default=10, help="số đợt gửi gần nhất (mặc định 10)")

    announce = sub.add_parser("announce", help="gửi thông báo đến người đăng ký: xem trước, số người nhận, xác nhận")
    announce.add_argument("--text", required=True, help="nội dung thông báo (tối đa 2.000 ký tự)")
    announce.add_argument("--photo", type=Path, default=None, help="đường dẫn ảnh kèm theo (tùy chọn)")
    announce.add_argument(
        "--audience", choices=[a.value for a in Audience], default="all", help="người nhận: all, merchant, consumer"
    )
    announce.add_argument("--yes", action="store_true", help="gửi luôn, không hỏi xác nhận")


def _complaints_parsers(sub) -> None:
    complaints = sub.add_parser("complaints", help="phản ánh của người tiêu dùng (cho cán bộ)")
    actions = complaints.add_subparsers(dest="complaints_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="liệt kê phản ánh (mới nhất trước)")
    listing.add_argument("--status", action="append", choices=COMPLAINT_STATUSES, help="lọc theo trạng thái (lặp được)")
    listing.add_argument("--limit", type=int, default=100, help="tối đa bao nhiêu dòng (mặc định 100)")
    listing.add_argument("--json", action="store_true", help="in JSON, mỗi dòng một phản ánh")
    show = actions.add_parser("show", help="xem đầy đủ một phản ánh")
    show.add_argument("code", help="mã phản ánh, ví dụ PA-7K3Q-9M")
    show.add_argument(
        "--reveal", action="store_true", help="hiện số điện thoại đầy đủ (lượt xem được ghi vào nhật ký phản ánh)"
    )
    export = actions.add_parser("export", help="xuất phản ánh ra CSV hoặc JSON")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--from", dest="date_from", type=date.fromisoformat, help="từ ngày (YYYY-MM-DD, giờ VN)")
    export.add_argument("--to", dest="date_to", type=date.fromisoformat, help="đến hết ngày (YYYY-MM-DD, giờ VN)")
    export.add_argument("--status", action="append", choices=COMPLAINT_STATUSES, help="lọc theo trạng thái (lặp được)")
    export.add_argument("--output", "-o", help="ghi ra tệp thay vì stdout (CSV kèm BOM để Excel đọc đúng dấu)")
    export.add_argument(
        "--with-phone",
        action="store_true",
        help="ghi số điện thoại đầy đủ thay vì che bớt (lượt xuất được ghi vào nhật ký; tệp chỉ chủ sở hữu đọc được)",
    )


def _report_parsers(sub) -> None:
    report = sub.add_parser("report", help="báo cáo phản ánh theo khoảng thời gian (CSV hoặc Excel .xlsx)")
    since = "từ ngày (theo múi giờ của chiến dịch); bỏ trống cả --from và --to: như /thongke không tham số"
    report.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help=since)
    report.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="đến hết ngày (mặc định: hôm nay)")
    report.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="csv (mặc định) hoặc xlsx")
    report.add_argument(
        "--out", "-o", metavar="FILE", help="tệp kết quả (CSV: mặc định in ra stdout; xlsx: bao-cao-phan-anh_….xlsx)"
    )

    case = sub.add_parser("case", help="một phản ánh: gói chứng cứ")
    actions = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    pack = actions.add_parser(
        "pack",
        help="gói chứng cứ .zip: ảnh gốc, record.json, manifest.sha256",
        description="Gói chứng cứ của một phản ánh. Mã thoát: 0 đủ ảnh; 1 không tìm thấy phản ánh; 3 đã tạo gói "
        "nhưng thiếu ảnh trong kho (hoặc ảnh không khớp mã băm).",
    )
    pack.add_argument("code", help="mã phản ánh, ví dụ PA-7K3Q-9M")
    pack.add_argument("--out", "-o", metavar="FILE", help="tệp .zip (mặc định MÃ.zip trong thư mục hiện tại)")
    pack.add_argument(
        "--with-contact", action="store_true", help="ghi số điện thoại đầy đủ (lượt xuất được ghi vào nhật ký phản ánh)"
    )


def command(name: str):
    """The function of command ``name``, its module imported now."""
    module, _, function = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def _piped(run, args, settings: Settings) -> int:
    """Run a command whose output may go to a pipe closed early (``… | head``): stop quietly then."""
    try:
        code = run(args, settings)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit has nowhere to fail
        return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    owner_only_umask()  # the database, photos, exports and packs it writes: readable by this account only
    settings = Settings()
    name = args.command or "run"
    console = name == "chat" or (name == "run" and not settings.any_messenger)
    if console:  # the chat shares the terminal: its log goes to a file beside the data, so the chat reads cleanly
        setup_logging(settings.log_level, settings.secrets(), path=Path(settings.media_dir).parent / CHAT_LOG)
    else:
        quiet = name in QUIET_COMMANDS and settings.log_level == "INFO"
        setup_logging("WARNING" if quiet else settings.log_level, settings.secrets())
    try:
        if name in COMMANDS:
            return _piped(command(name), args, settings)
        if name == "chat":
            from bot.cli.chat import run_chat

            return run_chat(args, settings)
        from bot.app import create_app

        app = create_app(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.cli.run import run

    return asyncio.run(run(app))
