"""`python -m bot report` and `python -m bot case pack`: case reports and evidence packs for the department.

``report`` writes one row per case whose report was submitted in the period (the rows, counts and medians
are ``handlers.cases.reports``', the same as ``/thongke``): CSV in UTF-8 with a BOM (Excel then reads the
Vietnamese right), or an .xlsx workbook (openpyxl) with the cases and a summary sheet. Times are in the
campaign's time zone; contacts are always masked.

``case pack CODE`` writes a zip: the original photos from the evidence store (the report's and those the
reporter added later), ``record.json`` (the complaint, the case, its whole audit trail, its public
history and the messages relayed between the reporter and the agencies; the contact masked unless
``--with-contact``, which is itself written to the case's audit trail first) and ``manifest.sha256``
(``sha256sum -c`` lines for every other file in the zip).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import getpass
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.settings import Settings
from handlers.cases import domain as service
from handlers.cases.reports import (
    COLUMNS,
    EVERYTHING,
    Period,
    PeriodError,
    days_period,
    default_period,
    load_rows,
    report_zone,
    summarise,
    summary_sections,
)
from handlers.clock import SystemClock, as_utc
from handlers.complaints.flow import KIND_UPDATED, PLATFORMS, area_name, category_name, contact_text, status_label
from handlers.config import AppConfig, load_config
from handlers.phone import format_phone, mask_phone
from storage.cases import Case
from storage.complaints import Complaint, ComplaintPhoto, normalise_code
from storage.db import Database
from storage.media import CHUNK, MediaStore

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic", "image/heif": "heif"}
MESSAGE_KINDS = {  # outbox kind -> which way the message went
    KIND_UPDATED: "from_reporter",  # what the reporter added, as received
    service.KIND_RELAY: "to_agency_chat",  # that addition relayed into the lead agency's chats
    service.KIND_NOTICE: "to_reporter",  # the agency's replies, requests and status changes
}
EXPORT_ACTION = "contact_exported"


def add_parsers(sub) -> None:
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


def run_report_cli(args, settings: Settings, stdout: TextIO | None = None) -> int:
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


# ----------------------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------------------


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


def _cell(value: Any) -> Any:
    """A CSV cell: times as ISO 8601 with their offset, nothing as an empty cell."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "" if value is None else value


def write_csv(records: list[dict[str, Any]], handle: TextIO) -> None:
    handle.write("\ufeff")  # the BOM: Excel opens the file as UTF-8
    writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in record.items()} for record in records)


def write_xlsx(
    records: list[dict[str, Any]], sections: list[tuple[str, list]], heading: list[tuple[str, Any]], path: Path
) -> None:
    """A workbook: sheet «Phản ánh» (one row per case), sheet «Tổng hợp» (the period, counts and medians)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "Phản ánh"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "B2"
    for record in records:
        # Excel has no time zones: local wall-clock times, the zone named on the summary sheet.
        sheet.append([_naive(record[key]) for key in COLUMNS])
    for index, key in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        if key.endswith("_at"):
            for cell in sheet[letter][1:]:
                cell.number_format = "dd/mm/yyyy hh:mm"
        widest = max([len(key), *(len(str(record[key] or "")) for record in records)])
        sheet.column_dimensions[letter].width = min(max(widest, 10), 60) + 2
    summary = book.create_sheet("Tổng hợp")
    for label, value in heading:
        summary.append([label, _naive(value)])
        summary.cell(summary.max_row, 1).font = bold
        if isinstance(value, datetime):
            summary.cell(summary.max_row, 2).number_format = "dd/mm/yyyy hh:mm"
    for title, rows in sections:
        summary.append([])
        summary.append([title])
        summary.cell(summary.max_row, 1).font = bold
        for label, value in rows:
            summary.append([label, value])
    summary.column_dimensions["A"].width = 52
    summary.column_dimensions["B"].width = 60
    book.save(path)


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


async def _report(db: Database, config: AppConfig, period: Period, args, now: datetime, out: TextIO) -> int:
    async with db.unit_of_work() as uow:
        rows = await load_rows(uow, EVERYTHING, period=period)
    records = [row.record(config, period.zone) for row in rows]
    summary = summarise(rows, config)
    first = period.start.astimezone(period.zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(period.zone).date()
    if args.format == "csv" and not args.out:
        write_csv(records, out)
        return 0
    target = Path(args.out or f"bao-cao-phan-anh_{first:%Y-%m-%d}_{last:%Y-%m-%d}.{args.format}")
    if args.format == "csv":
        with _replacing(target) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
            write_csv(records, handle)
    else:
        heading = [
            ("Báo cáo phản ánh của người tiêu dùng", config.department.name),
            ("Khoảng thời gian", period.label),
            ("Từ", period.start.astimezone(period.zone)),
            ("Đến (không kể)", period.end.astimezone(period.zone)),
            ("Múi giờ", period.zone.key),
            ("Lập lúc", now.astimezone(period.zone)),
            ("Tổng số phản ánh", summary.total),
        ]
        with _replacing(target) as tmp:
            write_xlsx(records, summary_sections(summary, with_minutes=True), heading, tmp)
    print(f"Đã xuất {len(records)} phản ánh ({period.label}) ra {target}.", file=sys.stderr)
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


# ----------------------------------------------------------------------------------------------------------
# case pack
# ----------------------------------------------------------------------------------------------------------


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return as_utc(value).astimezone(zone).isoformat(timespec="seconds") if value else None


def photo_name(index: int, photo: ComplaintPhoto) -> str:
    extension = EXTENSIONS.get(photo.mime, "bin")
    return f"photos/{index:02d}-{photo.source}-{photo.sha256[:12]}.{extension}"


def evidence_record(
    config: AppConfig,
    complaint: Complaint,
    case: Case | None,
    photos: list[tuple[str, ComplaintPhoto]],
    events: list,
    actions: list,
    messages: list,
    *,
    with_contact: bool,
    now: datetime,
) -> dict[str, Any]:
    """What ``record.json`` holds; the phone and the reporter's account only ``with_contact``."""
    zone = report_zone(config, as_utc(complaint.created_at))
    c = complaint
    reporter: dict[str, Any] = {
        "anonymous": c.anonymous,
        "name": None if c.anonymous else c.reporter_name,
        "contact_consent": c.contact_consent,
        "phone_masked": mask_phone(c.phone) or None,
        "contact": contact_text(c.anonymous, c.phone, c.contact_consent, masked=not with_contact),
    }
    if with_contact:
        reporter |= {
            "phone": format_phone(c.phone) if c.phone else None,
            "phone_e164": c.phone,
            "channel": c.channel,
            "user_id": c.user_id,
            "chat_id": c.chat_id,
        }
    record: dict[str, Any] = {
        "generated_at": _iso(now, zone),
        "generated_by": "python -m bot case pack",
        "timezone": zone.key,
        "with_contact": with_contact,
        "complaint": {
            "code": c.code,
            "status": c.status,
            "status_label": status_label(c.status),
            "submitted_at": _iso(c.created_at, zone),
            "updated_at": _iso(c.updated_at, zone),
            "channel": c.channel,
            "category": c.category,
            "category_name": category_name(config, c.category),
            "area": c.area,
            "area_name": area_name(config, c.area),
            "platform": c.platform,
            "platform_name": PLATFORMS.get(c.platform, c.platform),
            "seller": c.seller,
            "seller_where": c.seller_where,
            "product": c.product,
            "purchase_date": c.purchase_date.isoformat() if c.purchase_date else None,
            "description": c.description,
            "photo_note": c.photo_note,
            "reporter": reporter,
        },
        "photos": [
            {
                "file": name,
                "sha256": p.sha256,
                "size": p.size,
                "mime": p.mime,
                "source": p.source,
                "received_at": _iso(p.received_at, zone),
            }
            for name, p in photos
        ],
        "case": None,
        "case_actions": [],
        "history": [
            {
                "at": _iso(e.at, zone),
                "kind": e.kind,
                "status": e.status,
                "note": e.note,
                "detail": e.detail,
                "actor": e.actor,
                "public": e.public,
            }
            for e in events
        ],
        "messages": [_message(m, zone, with_contact=with_contact) for m in messages],
    }
    if case is not None:
        record["case"] = {
            "code": case.code,
            "kind": case.kind,
            "lead": case.lead,
            "lead_name": service.agency_name(config, case.lead),
            "copies": [{"id": a, "name": service.agency_name(config, a)} for a in case.copies],
            "status": case.status,
            "status_label": service.STATUS_LABELS[case.state],
            "assignee": case.assignee_name,
            "ack_due": _iso(case.ack_due, zone),
            "resolve_due": _iso(case.resolve_due, zone),
            "sla_epoch": case.sla_epoch,
            "acknowledged_at": _iso(case.acknowledged_at, zone),
            "closed_at": _iso(case.closed_at, zone),
            "outcome": case.outcome,
            "created_at": _iso(case.created_at, zone),
            "updated_at": _iso(case.updated_at, zone),
        }
        record["case_actions"] = [
            {
                "at": _iso(a.at, zone),
                "action": a.action,
                "label": service.ACTION_LABELS.get(a.action, a.action),
                "actor_name": a.actor_name,
                "actor_agency": a.actor_agency,
                "actor_role": a.actor_role,
                "actor_channel": a.actor_channel,
                "actor_user_id": a.actor_user_id,
                "before": a.before,
                "after": a.after,
                "note": a.note,
            }
            for a in actions
        ]
    return record


def _message(row, zone: ZoneInfo, *, with_contact: bool) -> dict[str, Any]:
    """An outbox row about the case: where it went (the reporter's chat only with the contact), what it said."""
    direction = MESSAGE_KINDS[row.kind]
    payload = row.payload or {}
    photos = [Path(p).name for p in payload.get("photos") or []]
    photos += [p for p in (payload.get("complaint") or {}).get("photos") or [] if isinstance(p, str)]
    reporter_chat = direction == "to_reporter"
    return {
        "at": _iso(row.created_at, zone),
        "sent_at": _iso(row.sent_at, zone),
        "direction": direction,
        "kind": row.kind,
        "channel": None if direction == "from_reporter" else row.channel,
        "chat_id": row.chat_id if direction == "to_agency_chat" or (reporter_chat and with_contact) else None,
        "status": row.status,
        "text": payload.get("text", ""),
        "photos": photos,
    }


def _copy_hashed(source: Path, archive: zipfile.ZipFile, name: str, when: datetime) -> str:
    """Stream ``source`` into the archive as ``name``; return the SHA-256 of the bytes written."""
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED  # photos are compressed already
    with source.open("rb") as src, archive.open(info, "w") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


async def _pack(db: Database, config: AppConfig, settings: Settings, args, now: datetime) -> int:
    code = normalise_code(args.code)
    media = MediaStore(settings.media_dir)
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
            user = _os_user()
            await uow.cases.record(
                case,
                EXPORT_ACTION,
                now,
                role="admin",
                actor_channel="cli",
                actor_user_id=user,
                actor_name=f"{user} (dòng lệnh)",
                note=f"Gói chứng cứ kèm liên hệ: {target.resolve()}",
            )
        photos = await uow.complaints.photos(complaint.id)
        events = await uow.complaints.events(complaint.id, public_only=False)
        actions = await uow.cases.actions(case.id) if case is not None and case.id is not None else []
        messages = await uow.cases.outbox_for(complaint.code, MESSAGE_KINDS)
        named = [(photo_name(i, p), p) for i, p in enumerate(photos, start=1)]
        record = evidence_record(
            config, complaint, case, named, events, actions, messages, with_contact=args.with_contact, now=now
        )
        await uow.commit()  # the export of the contact is on record before the file exists
    zone = ZoneInfo(record["timezone"])
    missing: list[str] = []
    altered: list[str] = []
    with _replacing(target) as tmp:
        await asyncio.to_thread(_write_pack, tmp, record, named, media, now.astimezone(zone), missing, altered)
    print(f"Đã tạo gói chứng cứ {complaint.code}: {target} ({len(named) - len(missing)} ảnh).", file=sys.stderr)
    if missing or altered:
        if missing:
            print(f"⚠️ Thiếu tệp ảnh trong kho: {', '.join(missing)}.", file=sys.stderr)
        if altered:
            print(f"⚠️ Tệp ảnh không khớp mã băm đã lưu: {', '.join(altered)}.", file=sys.stderr)
        return 3
    return 0


def _write_pack(
    path: Path,
    record: dict[str, Any],
    named: list[tuple[str, ComplaintPhoto]],
    media: MediaStore,
    when: datetime,
    missing: list[str],
    altered: list[str],
) -> None:
    """The zip: the photos streamed from the store, record.json, and the manifest of both."""
    sums: list[tuple[str, str]] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, photo in named:
            source = media.path(photo.sha256)
            if not source.is_file():
                missing.append(photo.sha256)
                continue
            digest = _copy_hashed(source, archive, name, as_utc(photo.received_at).astimezone(when.tzinfo))
            if digest != photo.sha256:
                altered.append(photo.sha256)
            sums.append((digest, name))
        for entry in record["photos"]:
            entry["missing"] = entry["sha256"] in missing
        data = (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()
        archive.writestr(zipfile.ZipInfo("record.json", date_time=when.timetuple()[:6]), data, zipfile.ZIP_DEFLATED)
        sums.append((hashlib.sha256(data).hexdigest(), "record.json"))
        manifest = "".join(f"{digest}  {name}\n" for digest, name in sums)
        archive.writestr(zipfile.ZipInfo("manifest.sha256", date_time=when.timetuple()[:6]), manifest)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"
