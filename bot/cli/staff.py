"""`python -m bot staff list|add|remove`: manage staff members from the command line."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.settings import Settings
from handlers.config import load_config
from handlers.staff import remove_staff, save_staff, validate_staff
from handlers.text_safety import clean_text, visible_length
from storage.db import Database

ADD_HINT = ' Thêm bằng: python -m bot staff add KÊNH ID CƠ_QUAN VAI_TRÒ "Họ tên".'


def run_staff(args, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args, settings: Settings) -> int:
    config = load_config(settings.bot_config)
    now = datetime.now(UTC)
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        async with db.unit_of_work() as uow:
            if args.staff_command == "list":
                members = await uow.staff.list(include_inactive=args.all)
                if not members:
                    print("Chưa có cán bộ nào" + ("." if args.all else " đang hoạt động.") + ADD_HINT)
                for m in members:
                    state = "" if m.active else " (đã ngừng)"
                    print(f"{m.channel}:{m.user_id}\t{m.agency}\t{m.role}\t{m.name}{state}")
                return 0
            if args.staff_command == "add":
                name = " ".join(clean_text(args.name).split())
                problem = validate_staff(config, args.channel, args.agency, args.role) or (
                    None if visible_length(name) >= 2 else "Họ tên cán bộ cần ít nhất 2 ký tự."
                )
                if problem:
                    print(problem, file=sys.stderr)
                    return 2
                known = await uow.staff.get(args.channel, args.user_id)
                await save_staff(
                    uow,
                    channel=args.channel,
                    user_id=args.user_id,
                    name=name,
                    agency=args.agency,
                    role=args.role,
                    source="cli",
                    now=now,
                )
                await uow.commit()
                done = "Đã cập nhật" if known is not None and known.active else "Đã thêm"
                print(f"{done} cán bộ {name} ({args.agency}, {args.role}).")
                return 0
            if not await remove_staff(uow, args.channel, args.user_id, now):
                print("Không tìm thấy cán bộ đang hoạt động với kênh và ID này.", file=sys.stderr)
                return 1
            await uow.commit()
            print(f"Đã ngừng quyền cán bộ của {args.channel}:{args.user_id}.")
            return 0
    finally:
        await db.dispose()
