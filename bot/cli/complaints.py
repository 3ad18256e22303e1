"""`python -m bot complaints list | show | export`: consumer complaints for staff and admins.

``list`` and ``export`` mask phone numbers (``09xx xxx 678``) — their output ends up in spreadsheets and
chats; ``export --with-phone`` includes them in full for the agency that handles the reports. ``show`` is
the one-complaint view of a staff member at the server and shows the number in full.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO

from bot.settings import Settings
from handlers.clock import LOCAL_TZ, as_utc, local
from handlers.complaints.flow import PLATFORMS, area_name, category_name, status_label
from handlers.config import AppConfig, load_config
from handlers.phone import format_phone, mask_phone
from storage.complaints import Complaint, ComplaintStatus, normalise_code
from storage.db import Database
from storage.media import MediaStore

STATUSES = [s.value for s in ComplaintStatus]
COLUMNS = [
    "code",
    "created_at",
    "status",
    "category",
    "area",
    "platform",
    "seller",
    "seller_where",
    "product",
    "purchase_date",
    "description",
    "photo_note",
    "photos",
    "contact",
    "contact_consent",
]


def add_parsers(sub) -> None:
    complaints = sub.add_parser("complaints", help="phản ánh của người tiêu dùng (cho cán bộ)")
    actions = complaints.add_subparsers(dest="complaints_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="liệt kê phản ánh (mới nhất trước)")
    listing.add_argument("--status", action="append", choices=STATUSES, help="lọc theo trạng thái (lặp được)")
    listing.add_argument("--limit", type=int, default=100, help="tối đa bao nhiêu dòng (mặc định 100)")
    listing.add_argument("--json", action="store_true", help="in JSON, mỗi dòng một phản ánh")
    show = actions.add_parser("show", help="xem đầy đủ một phản ánh")
    show.add_argument("code", help="mã phản ánh, ví dụ PA-7K3Q-9M")
    export = actions.add_parser("export", help="xuất phản ánh ra CSV hoặc JSON")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--from", dest="date_from", type=date.fromisoformat, help="từ ngày (YYYY-MM-DD, giờ VN)")
    export.add_argument("--to", dest="date_to", type=date.fromisoformat, help="đến hết ngày (YYYY-MM-DD, giờ VN)")
    export.add_argument("--status", action="append", choices=STATUSES, help="lọc theo trạng thái (lặp được)")
    export.add_argument("--output", "-o", help="ghi ra tệp thay vì stdout (CSV kèm BOM để Excel đọc đúng dấu)")
    export.add_argument("--with-phone", action="store_true", help="ghi số điện thoại đầy đủ thay vì che bớt")


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


def _contact(c: Complaint, *, full: bool) -> str:
    if c.anonymous:
        return "ẩn danh"
    if not c.phone:
        return ""
    return format_phone(c.phone) if full else mask_phone(c.phone)


def record(c: Complaint, photos: int, config: AppConfig, *, full_phone: bool = False) -> dict[str, Any]:
    return {
        "code": c.code,
        "created_at": local(c.created_at).isoformat(timespec="seconds"),
        "status": c.status,
        "category": category_name(config, c.category),
        "area": area_name(config, c.area),
        "platform": PLATFORMS.get(c.platform, c.platform),
        "seller": c.seller,
        "seller_where": c.seller_where or "",
        "product": c.product,
        "purchase_date": c.purchase_date.isoformat() if c.purchase_date else "",
        "description": c.description,
        "photo_note": c.photo_note or "",
        "photos": photos,
        "contact": _contact(c, full=full_phone),
        "contact_consent": c.contact_consent,
    }


async def _list(db: Database, config: AppConfig, args, out: TextIO) -> int:
    async with db.unit_of_work() as uow:
        rows = await uow.complaints.search(statuses=args.status)
        rows = sorted(rows, key=lambda c: (as_utc(c.created_at), c.id or 0), reverse=True)[: args.limit]
        counts = await uow.complaints.photo_counts(c.id for c in rows if c.id is not None)
    if args.json:
        for c in rows:
            print(json.dumps(record(c, counts.get(c.id, 0), config), ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("Chưa có phản ánh nào" + (" với trạng thái đã chọn." if args.status else "."), file=out)
        return 0
    for c in rows:
        when = local(c.created_at).strftime("%d/%m/%Y %H:%M")
        contact = _contact(c, full=False) or "—"
        print(
            f"{c.code}\t{when}\t{status_label(c.status)}\t{category_name(config, c.category)}\t"
            f"{area_name(config, c.area)}\t{c.product} — {c.seller}\t{counts.get(c.id, 0)} ảnh\t{contact}",
            file=out,
        )
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
    media = MediaStore(settings.media_dir)
    c = complaint
    lines = [
        f"Phản ánh {c.code} — {status_label(c.status)}",
        f"Gửi lúc: {local(c.created_at).strftime('%H:%M %d/%m/%Y')} qua {c.channel}",
        f"Loại: {category_name(config, c.category)}",
        f"Địa bàn: {area_name(config, c.area)}",
        f"Nơi mua: {PLATFORMS.get(c.platform, c.platform)}",
        f"Người bán: {c.seller}",
        f"Link / địa chỉ: {c.seller_where or '—'}",
        f"Sản phẩm: {c.product}",
        f"Ngày mua: {c.purchase_date.strftime('%d/%m/%Y') if c.purchase_date else 'không nhớ rõ'}",
        f"Nội dung: {c.description}",
    ]
    if c.photo_note:
        lines.append(f"Ghi chú kèm ảnh: {c.photo_note}")
    if c.anonymous:
        lines.append("Người phản ánh: ẩn danh")
    else:
        lines.append(f"Người phản ánh: {c.reporter_name or '—'}")
        phone = format_phone(c.phone) if c.phone else "không để lại"
        lines.append(f"Điện thoại: {phone}" + (" (đồng ý để cán bộ liên hệ)" if c.contact_consent else ""))
    lines.append(f"Ảnh ({len(photos)}):")
    for p in photos:
        path = media.path(p.sha256)
        missing = "" if path.is_file() else "  ⚠️ KHÔNG CÓ TỆP"
        lines.append(f"  • {path}  {p.mime}, {p.size:,} byte, {local(p.received_at):%d/%m %H:%M}{missing}")
    lines.append("Diễn biến:")
    for e in events:
        hidden = "" if e.public else " (nội bộ)"
        detail = f": {e.detail}" if e.detail else ""
        lines.append(f"  • {local(e.at):%H:%M %d/%m/%Y} — {e.note}{hidden}{detail}")
    print("\n".join(lines), file=out)
    return 0


async def _export(db: Database, config: AppConfig, args, out: TextIO) -> int:
    since = _local_day_start(args.date_from) if args.date_from else None
    until = _local_day_start(args.date_to + timedelta(days=1)) if args.date_to else None
    async with db.unit_of_work() as uow:
        rows = await uow.complaints.search(statuses=args.status, since=since, until=until)
        counts = await uow.complaints.photo_counts(c.id for c in rows if c.id is not None)
    records = [record(c, counts.get(c.id, 0), config, full_phone=args.with_phone) for c in rows]
    if args.output:
        encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
        with open(args.output, "w", encoding=encoding, newline="") as handle:
            _write(records, args.format, handle)
        print(f"Đã xuất {len(records)} phản ánh ra {args.output}.", file=sys.stderr)
    else:
        _write(records, args.format, out)
    return 0


def _write(records: list[dict[str, Any]], fmt: str, handle: TextIO) -> None:
    if fmt == "json":
        json.dump(records, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        return
    writer = csv.DictWriter(handle, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(records)
