"""`python -m bot inbox`: the inbox by status, and the updates parked after failing (for staff to look into)."""

from __future__ import annotations

import asyncio

from bot.settings import Settings
from handlers.clock import LOCAL_TZ, as_utc
from storage.db import Database

STATUS_LABELS = {"pending": "đang chờ xử lý", "handled": "đã xử lý", "parked": "tạm gác (lỗi)"}


def run_inbox(args, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args, settings: Settings) -> int:
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        async with db.unit_of_work() as uow:
            counts = await uow.inbox.counts()
            parked = await uow.inbox.parked(args.limit)
    finally:
        await db.dispose()
    for status, label in STATUS_LABELS.items():
        print(f"{label}: {counts.get(status, 0)}")
    if not parked:
        print("Không có tin nào bị tạm gác.")
        return 0
    print("\nTin tạm gác (mới nhất trước): mã · kênh · nhận lúc · số lần thử · lỗi")
    for row in parked:
        received = as_utc(row.received_at).astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
        print(f"#{row.id} · {row.channel} · {received} · {row.attempts} · {row.error or ''}")
    return 0
