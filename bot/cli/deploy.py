"""``python -m bot db upgrade``, ``config check`` and ``config move``: what an installation or an update runs
first, and what a switch of configuration (2024 plan → today's Đồng Nai) needs for the cases still open."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import Settings
from handlers.config import AppConfig, load_config
from storage.db import Database, applied_revisions, masked, migration_heads, sqlite_path


def run_db(args, settings: Settings) -> int:
    Database(settings.database_url).upgrade()
    print(f"Đã cập nhật cơ sở dữ liệu: {masked(settings.database_url)}")
    return 0


def run_config(args, settings: Settings) -> int:
    if args.config_command == "move":
        return asyncio.run(_move(args, settings))
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
    if _migrated(settings.database_url):
        asyncio.run(_orphans(config, settings))
    return 0


def _migrated(url: str) -> bool:
    """Whether ``url`` is a database this version has migrated (a fresh clone has none: nothing to check)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).exists()):
        return False
    return applied_revisions(url) == migration_heads()


async def _orphans(config: AppConfig, settings: Settings) -> None:
    from handlers.cases.switch import describe, orphans

    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            found = await orphans(uow, config)
    finally:
        await db.dispose()
    if not found:
        print("Mọi phản ánh đang mở đều có cơ quan và địa bàn trong tệp cấu hình này.")
        return
    print(f"{len(found)} phản ánh đang mở có cơ quan hoặc địa bàn mà tệp này không có (tên cũ vẫn được giữ):")
    for orphan in found:
        print(describe(config, orphan))
    print("Chuyển chúng cho một cơ quan: python -m bot config move --to <id cơ quan>")


async def _move(args, settings: Settings) -> int:
    from handlers.cases.switch import move
    from handlers.clock import SystemClock
    from storage.media import MediaStore

    config = load_config(settings.bot_config)
    if config.agency(args.to) is None:
        print(f"Không có cơ quan «{args.to}» trong tệp cấu hình.")
        return 1
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        async with db.unit_of_work() as uow:
            moved = await move(
                uow, config, MediaStore(settings.media_dir), args.to, SystemClock().now(), source=args.source
            )
            await uow.commit()
    finally:
        await db.dispose()
    for line in moved:
        print(f"• {line}")
    print(f"Đã chuyển {len(moved)} phản ánh đang mở cho {config.agency(args.to).shown_name}.")
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
