"""``python -m bot db upgrade`` and ``config check``: what an installation or an update runs first."""

from __future__ import annotations

import asyncio

from bot.settings import Settings
from handlers.config import load_config
from storage.db import Database, masked, sqlite_path


def run_db(args, settings: Settings) -> int:
    Database(settings.database_url).upgrade()
    print(f"Đã cập nhật cơ sở dữ liệu: {masked(settings.database_url)}")
    return 0


def run_config(args, settings: Settings) -> int:
    config = load_config(settings.bot_config)
    stored = asyncio.run(_stored_staff(settings.database_url))
    staff = f"{len(config.staff)} cán bộ trong tệp" + (
        f", {stored} đang hoạt động trong cơ sở dữ liệu" if stored else ""
    )
    print(
        f"Cấu hình hợp lệ: {len(config.campaigns)} chiến dịch, {len(config.areas)} địa bàn, "
        f"{len(config.agencies)} cơ quan, {staff}, {len(config.routing)} quy tắc chuyển."
    )
    # Agencies the routing rules send reports to, but with no staff chat to post them in.
    named = {rule.lead for rule in config.routing if rule.kind == "consumer_report"}
    named |= {copy for rule in config.routing if rule.kind == "consumer_report" for copy in rule.copies}
    silent = sorted(a for a in named if (agency := config.agency(a)) is not None and not agency.chats)
    if silent:
        print(f"Lưu ý: chưa khai báo nhóm chat cán bộ (agencies[].chats) cho: {', '.join(silent)}.")
    return 0


async def _stored_staff(url: str) -> int | None:
    """Active staff in the database (those added with ``staff add`` or /canbo too); None when there is none yet."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return None  # never create a database just to count
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return len(await uow.staff.list())
    except Exception:  # no database yet, or not migrated: the file's count is all there is
        return None
    finally:
        await db.dispose()
