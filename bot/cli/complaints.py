"""`python -m bot complaints list | show | export`: consumer complaints for staff and admins.

The listing, the one-complaint sheet and the export rows are ``handlers.complaints.records``'; ``list`` and
``export`` mask phone numbers unless ``export --with-phone``, ``show`` shows the number in full.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime, time, timedelta
from typing import TextIO

from bot.settings import Settings
from handlers.clock import LOCAL_TZ, as_utc
from handlers.complaints import records
from handlers.config import AppConfig, load_config
from storage.complaints import ComplaintStatus, normalise_code
from storage.db import Database
from storage.media import MediaStore

STATUSES = [s.value for s in ComplaintStatus]


def run_complaints(args, settings: Settings, stdout: TextIO | None = None) -> int:
    return asyncio.run(_run(args, settings, stdout or sys.stdout))


async def _run(args, settings: Settings, out: TextIO) -> int:
    config = load_config(settings.bot_config)
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        if args.complaints_command == "list":
            return await _list(db, config, args, out)
        if args.complaints_command == "show":
            return await _show(db, config, settings, args.code, out)
        return await _export(db, config, args, out)
    finally:
        await db.dispose()


def _local_day_start(day: date) -> datetime:
    return as_utc(datetime.combine(day, time(0), tzinfo=LOCAL_TZ))


async def _list(db: Database, config: AppConfig, args, out: TextIO) -> int:
    async with db.unit_of_work() as uow:
        rows = await records.latest(uow, statuses=args.status, limit=args.limit)
    if args.json:
        for c, photos in rows:
            print(json.dumps(records.export_record(c, photos, config), ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("Chưa có phản ánh nào" + (" với trạng thái đã chọn." if args.status else "."), file=out)
        return 0
    for c, photos in rows:
        print(records.listing_line(c, photos, config), file=out)
    return 0


async def _show(db: Database, config: AppConfig, settings: Settings, raw_code: str, out: TextIO) -> int:
    code = normalise_code(raw_code)
    async with db.unit_of_work() as uow:
        complaint = await uow.complaints.get(code) if code else None
        if complaint is None or complaint.id is None:
            print(f"Không tìm thấy phản ánh {raw_code}.", file=sys.stderr)
            return 1
        photos = await uow.complaints.photos(complaint.id)
        events = await uow.complaints.events(complaint.id, public_only=False)
    print(records.complaint_sheet(complaint, photos, events, MediaStore(settings.media_dir), config), file=out)
    return 0


async def _export(db: Database, config: AppConfig, args, out: TextIO) -> int:
    since = _local_day_start(args.date_from) if args.date_from else None
    until = _local_day_start(args.date_to + timedelta(days=1)) if args.date_to else None
    async with db.unit_of_work() as uow:
        rows = await records.exported(
            uow, config, statuses=args.status, since=since, until=until, full_phone=args.with_phone
        )
    if args.output:
        encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
        with open(args.output, "w", encoding=encoding, newline="") as handle:
            records.write_export(rows, args.format, handle)
        print(f"Đã xuất {len(rows)} phản ánh ra {args.output}.", file=sys.stderr)
    else:
        records.write_export(rows, args.format, out)
    return 0
