"""`python -m bot staff list|add|remove`: manage staff members from the command line."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.settings import Settings
from handlers.config import load_config
from handlers.staff import remove_staff, save_staff, validate_staff
from storage.db import Database


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
                for m in await uow.staff.list(include_inactive=args.all):
                    state = "" if m.active else " (đã ngừng)"
                    print(f"{m.channel}:{m.user_id}\t{m.agency}\t{m.role}\t{m.name}{state}")
                return 0
            if args.staff_command == "add":
                problem = validate_staff(config, args.channel, args.agency, args.role)
                if problem:
                    print(problem, file=sys.stderr)
                    return 2
                await save_staff(
                    uow,
                    channel=args.channel,
                    user_id=args.user_id,
                    name=args.name,
                    agency=args.agency,
                    role=args.role,
                    source="cli",
                    now=now,
                )
                await uow.commit()
                print(f"Đã cập nhật cán bộ {args.name} ({args.agency}, {args.role}).")
                return 0
            if not await remove_staff(uow, args.channel, args.user_id, now):
                print("Không tìm thấy cán bộ đang hoạt động với kênh và ID này.", file=sys.stderr)
                return 1
            await uow.commit()
            print(f"Đã ngừng quyền cán bộ của {args.channel}:{args.user_id}.")
            return 0
    finally:
        await db.dispose()
