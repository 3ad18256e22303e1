"""``python -m bot db upgrade`` and ``config check``: what an installation or an update runs first."""

from __future__ import annotations

from bot.settings import Settings
from handlers.config import load_config
from storage.db import Database, masked


def run_db(args, settings: Settings) -> int:
    Database(settings.database_url).upgrade()
    print(f"Đã cập nhật cơ sở dữ liệu: {masked(settings.database_url)}")
    return 0


def run_config(args, settings: Settings) -> int:
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
