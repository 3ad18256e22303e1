"""`python -m bot report` and `python -m bot case pack`: case reports and evidence packs for the department.

The report (CSV or .xlsx) is ``handlers.cases.report_files``', the evidence pack ``handlers.cases.pack``'; here
are the arguments, the files written in place (never half-written) and what is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import sys
import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TextIO

from bot.settings import Settings
from handlers.cases import pack
from handlers.cases.report_files import default_file_name, period_report, write_csv, write_xlsx
from handlers.cases.reports import Period, PeriodError, days_period, default_period, report_zone
from handlers.clock import SystemClock
from handlers.config import AppConfig, load_config
from storage.complaints import normalise_code
from storage.db import Database
from storage.media import MediaStore

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def run_report(args, settings: Settings, stdout: TextIO | None = None) -> int:
    """``report`` and ``case``: the dispatch of this module's commands."""
    return asyncio.run(_run(args, settings, stdout or sys.stdout))


async def _run(args, settings: Settings, out: TextIO) -> int:
    config = load_config(settings.bot_config)
    now = SystemClock().now()
    if args.command == "report":
        try:
            period = cli_period(config, args.date_from, args.date_to, now)
        except PeriodError as exc:
            print(exc, file=sys.stderr)
            return 2
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        if args.command == "report":
            return await _report(db, config, period, args, now, out)
        assert args.case_command == "pack"
        return await _pack(db, config, settings, args, now)
    finally:
        await db.dispose()


def _cli_day(text: str, flag: str) -> date:
    try:
        if not DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            f"Ngày {flag} không hợp lệ: «{text}». Viết theo dạng năm-tháng-ngày (YYYY-MM-DD), ví dụ 2024-11-28."
        ) from None


def cli_period(config: AppConfig, raw_from: str | None, raw_to: str | None, now: datetime) -> Period:
    """``--from``/``--to`` as whole days in the campaign's time zone; neither: the default period of /thongke."""
    if raw_from is None and raw_to is None:
        return default_period(config, now)
    if raw_from is None:
        raise PeriodError("Thiếu --from: cần ngày bắt đầu (YYYY-MM-DD) khi đã có --to.")
    first = _cli_day(raw_from, "--from")
    zone = report_zone(config, datetime.combine(first, time(12), tzinfo=UTC))
    last = _cli_day(raw_to, "--to") if raw_to is not None else now.astimezone(zone).date()
    return days_period(first, last, zone)


async def _report(db: Database, config: AppConfig, period: Period, args, now: datetime, out: TextIO) -> int:
    async with db.unit_of_work() as uow:
        report = await period_report(uow, config, period, now)
    if args.format == "csv" and not args.out:
        write_csv(report.records, out)
        return 0
    target = Path(args.out or default_file_name(period, args.format))
    if args.format == "csv":
        with _replacing(target) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
            write_csv(report.records, handle)
    else:
        with _replacing(target) as tmp:
            write_xlsx(report, tmp)
    print(f"Đã xuất {len(report.records)} phản ánh ({period.label}) ra {target}.", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _replacing(target: Path):
    """Write to a temporary file beside ``target``, then move it into place: never a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


async def _pack(db: Database, config: AppConfig, settings: Settings, args, now: datetime) -> int:
    code = normalise_code(args.code)
    async with db.unit_of_work() as uow:
        complaint = await uow.complaints.get(code) if code else None
        if complaint is None or complaint.id is None:
            print(f"Không tìm thấy phản ánh «{args.code}» (mã có dạng PA-XXXX-XX).", file=sys.stderr)
            return 1
        target = Path(args.out or f"{complaint.code}.zip")
        case = await uow.cases.by_code(complaint.code)
        if args.with_contact:
            if case is None:
                print(
                    f"Phản ánh {complaint.code} chưa được chuyển tới cơ quan nào nên chưa có nhật ký để ghi lượt "
                    "xuất liên hệ; bạn tạo gói không kèm liên hệ, hoặc chờ phản ánh được chuyển.",
                    file=sys.stderr,
                )
                return 1
            await pack.record_contact_export(uow, case, os_user(), target, now)
        record, named = await pack.collect(uow, config, complaint, case, with_contact=args.with_contact, now=now)
        await uow.commit()  # the export of the contact is on record before the file exists
    media = MediaStore(settings.media_dir)
    with _replacing(target) as tmp:
        result = await asyncio.to_thread(pack.write_pack, tmp, record, named, media, now)
    shown = len(named) - len(result.missing)
    print(f"Đã tạo gói chứng cứ {complaint.code}: {target} ({shown} ảnh).", file=sys.stderr)
    if result.missing:
        print(f"⚠️ Thiếu tệp ảnh trong kho: {', '.join(result.missing)}.", file=sys.stderr)
    if result.altered:
        print(f"⚠️ Tệp ảnh không khớp mã băm đã lưu: {', '.join(result.altered)}.", file=sys.stderr)
    return 3 if result.missing or result.altered else 0


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"
