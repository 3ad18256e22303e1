"""`python -m bot complaints list | show | export`: consumer complaints for staff and admins.

The listing, the one-complaint sheet and the export rows are ``handlers.complaints.records``'. Contacts are
masked (numbers typed inside the texts too) unless ``show --reveal`` or ``export --with-phone``: each full
contact shown or written is put on its case's audit trail and logged, and the exported file is owner-only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from bot.cli.report import os_user
from bot.settings import Settings
from handlers.cases import pack
from handlers.clock import LOCAL_TZ, as_utc
from handlers.complaints import records
from handlers.config import AppConfig, load_config
from storage.complaints import ComplaintStatus, normalise_code
from storage.db import Database
from storage.media import MediaStore
from storage.private import open_private

logger = logging.getLogger(__name__)
NO_TRAIL = (
    "Phản ánh {code} chưa được chuyển tới cơ quan nào nên chưa có nhật ký để ghi lượt xem liên hệ; "
    "bạn xem không kèm --reveal, hoặc chờ phản ánh được chuyển."
)

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
            return await _show(db, config, settings, args, out)
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


async def _show(db: Database, config: AppConfig, settings: Settings, args, out: TextIO) -> int:
    code = normalise_code(args.code)
    async with db.unit_of_work() as uow:
        complaint = await uow.complaints.get(code) if code else None
        if complaint is None or complaint.id is None:
            print(f"Không tìm thấy phản ánh {args.code}.", file=sys.stderr)
            return 1
        photos = await uow.complaints.photos(complaint.id)
        events = await uow.complaints.events(complaint.id, public_only=False)
        if args.reveal:
            case = await uow.cases.by_code(complaint.code)
            if case is None:
                print(NO_TRAIL.format(code=complaint.code), file=sys.stderr)
                return 1
            await pack.record_cli_contact(uow, case, os_user(), "complaints show --reveal", now(), "contact_viewed")
            await uow.commit()  # the reveal is on record before the number is printed
            logger.warning("complaints show --reveal %s by %s (on the case's audit trail)", complaint.code, os_user())
    media = MediaStore(settings.media_dir)
    print(records.complaint_sheet(complaint, photos, events, media, config, reveal=args.reveal), file=out)
    return 0


async def _export(db: Database, config: AppConfig, args, out: TextIO) -> int:
    since = _local_day_start(args.date_from) if args.date_from else None
    until = _local_day_start(args.date_to + timedelta(days=1)) if args.date_to else None
    async with db.unit_of_work() as uow:
        rows = await records.exported(
            uow, config, statuses=args.status, since=since, until=until, full_phone=args.with_phone
        )
        if args.with_phone:
            where = str(Path(args.output).resolve()) if args.output else "stdout"
            await _record_full_contacts(uow, rows, f"complaints export --with-phone: {where}")
            await uow.commit()  # every full number written is on record before the file exists
    if args.output:
        encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
        with open_private(Path(args.output), "w", encoding=encoding, newline="") as handle:
            records.write_export(rows, args.format, handle)
        print(f"Đã xuất {len(rows)} phản ánh ra {args.output}.", file=sys.stderr)
    else:
        records.write_export(rows, args.format, out)
    return 0


async def _record_full_contacts(uow, rows: list[dict], note: str) -> None:
    """Each exported report that carries a full number: an audit row on its case; one log line for the lot."""
    user, at = os_user(), now()
    shown = [row["code"] for row in rows if records.has_full_contact(row)]
    for code in shown:
        case = await uow.cases.by_code(code)
        if case is not None:
            await pack.record_cli_contact(uow, case, user, note, at)
    logger.warning("complaints export --with-phone by %s: %d full number(s) (%s)", user, len(shown), note)


def now() -> datetime:
    return datetime.now(UTC)
