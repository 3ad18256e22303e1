"""A complaint as data: its fields, the staff export (CSV/JSON), the listing and the one-complaint sheet.

``complaint_fields`` is the one complaint → dict: the staff payload, the evidence pack, the export and the
case report rows are built from it. ``list`` and ``export`` mask phone numbers (``09xx xxx 678``) — their
output ends up in spreadsheets and chats; the export ``with_phone`` includes them in full for the agency
that handles the reports. The one-complaint sheet is a staff member's at the server and shows the number
in full.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import Any, TextIO

from handlers.clock import as_utc, local
from handlers.complaints.vocabulary import PLATFORMS, area_name, category_name, status_label
from handlers.config import AppConfig
from handlers.phone import format_phone, mask_phone
from handlers.text_safety import mask_contacts, spreadsheet_cell, vn_number
from storage.complaints import Complaint, ComplaintEvent, ComplaintPhoto
from storage.db import UnitOfWork
from storage.media import MediaStore

AS_REPORTED = ("seller", "seller_where", "product", "purchase_date", "description", "photo_note")  # copied as typed
EXPORT_COLUMNS = [
    "code",
    "created_at",
    "status",
    "category",
    "area",
    "platform",
    *AS_REPORTED,
    "photos",
    "contact",
    "contact_consent",
]


EXPORT_HEADERS = {  # the CSV's first row, in Vietnamese (JSON keeps the keys)
    "code": "Mã phản ánh",
    "created_at": "Thời điểm gửi",
    "status": "Trạng thái",
    "category": "Loại vi phạm",
    "area": "Địa bàn",
    "platform": "Nơi mua",
    "seller": "Người bán",
    "seller_where": "Link / địa chỉ",
    "product": "Sản phẩm",
    "purchase_date": "Ngày mua",
    "description": "Nội dung",
    "photo_note": "Ghi chú kèm ảnh",
    "photos": "Số ảnh",
    "contact": "Liên hệ",
    "contact_consent": "Đồng ý để cán bộ liên hệ",
}


def complaint_fields(config: AppConfig, c: Complaint, *, reveal: bool = False) -> dict[str, Any]:
    """What was reported, ids with their names; no contact, no times (each user adds those its own way).
    Phone numbers and e-mail addresses typed into the texts are masked unless ``reveal``."""
    shown = (lambda text: text) if reveal else mask_contacts
    return {
        "code": c.code,
        "status": c.status,
        "category": c.category,
        "category_name": category_name(config, c.category),
        "area": c.area,
        "area_name": area_name(config, c.area),
        "platform": c.platform,
        "platform_name": PLATFORMS.get(c.platform, c.platform),
        "seller": shown(c.seller),
        "seller_where": shown(c.seller_where) if c.seller_where else c.seller_where,
        "product": shown(c.product),
        "purchase_date": c.purchase_date.isoformat() if c.purchase_date else None,
        "description": shown(c.description),
        "photo_note": shown(c.photo_note) if c.photo_note else c.photo_note,
    }


def export_contact(c: Complaint, *, full: bool) -> str:
    """The export's contact cell: ``ẩn danh``, nothing, or the phone (masked unless ``full``)."""
    if c.anonymous:
        return "ẩn danh"
    if not c.phone:
        return ""
    return format_phone(c.phone) if full else mask_phone(c.phone)


def export_record(c: Complaint, photos: int, config: AppConfig, *, full_phone: bool = False) -> dict[str, Any]:
    """One row of the export (``EXPORT_COLUMNS``): names rather than ids, local time, no empty value as None."""
    fields = complaint_fields(config, c)
    return {
        "code": c.code,
        "created_at": local(c.created_at).isoformat(timespec="seconds"),
        "status": c.status,
        "category": fields["category_name"],
        "area": fields["area_name"],
        "platform": fields["platform_name"],
        **{key: fields[key] or "" for key in AS_REPORTED},
        "photos": photos,
        "contact": export_contact(c, full=full_phone),
        "contact_consent": c.contact_consent,
    }


async def exported(
    uow: UnitOfWork,
    config: AppConfig,
    *,
    statuses: list[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    full_phone: bool = False,
) -> list[dict[str, Any]]:
    """The export's rows: the complaints with these statuses submitted in [since, until)."""
    rows = await uow.complaints.search(statuses=statuses, since=since, until=until)
    counts = await uow.complaints.photo_counts(c.id for c in rows if c.id is not None)
    return [export_record(c, counts.get(c.id, 0), config, full_phone=full_phone) for c in rows]


def write_export(records: list[dict[str, Any]], fmt: str, handle: TextIO) -> None:
    """The export as ``json`` (one indented array) or ``csv`` (a header row, then ``EXPORT_COLUMNS``)."""
    if fmt == "json":
        json.dump(records, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        return
    writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
    writer.writerow(EXPORT_HEADERS)
    writer.writerows({key: spreadsheet_cell(_csv_value(key, value)) for key, value in r.items()} for r in records)


def _csv_value(key: str, value: Any) -> Any:
    """A cell in Vietnamese: the status by its label, yes/no as «có»/«không»."""
    if key == "status":
        return status_label(value)
    if isinstance(value, bool):
        return "có" if value else "không"
    return value


async def latest(uow: UnitOfWork, *, statuses: list[str] | None, limit: int) -> list[tuple[Complaint, int]]:
    """The newest complaints with these statuses first, each with its number of photos."""
    rows = await uow.complaints.search(statuses=statuses)
    rows = sorted(rows, key=lambda c: (as_utc(c.created_at), c.id or 0), reverse=True)[:limit]
    counts = await uow.complaints.photo_counts(c.id for c in rows if c.id is not None)
    return [(c, counts.get(c.id, 0)) for c in rows]


def listing_line(c: Complaint, photos: int, config: AppConfig) -> str:
    """One tab-separated line of the listing; the phone masked."""
    when = local(c.created_at).strftime("%d/%m/%Y %H:%M")
    contact = export_contact(c, full=False) or "—"
    return (
        f"{c.code}\t{when}\t{status_label(c.status)}\t{category_name(config, c.category)}\t"
        f"{area_name(config, c.area)}\t{mask_contacts(c.product)} — {mask_contacts(c.seller)}\t{photos} ảnh\t{contact}"
    )


def has_full_contact(record: dict[str, Any]) -> bool:
    """Whether an export row carries a phone number in full."""
    contact = record.get("contact") or ""
    return any(ch in "0123456789" for ch in contact) and "x" not in contact


def complaint_sheet(
    c: Complaint,
    photos: list[ComplaintPhoto],
    events: list[ComplaintEvent],
    media: MediaStore,
    config: AppConfig,
    *,
    reveal: bool = False,
) -> str:
    """Everything about one complaint for a staff member at the server: the phone (in full only ``reveal``),
    where each photo is in the evidence store (or that its file is missing), and the whole history."""
    shown = complaint_fields(config, c, reveal=reveal)
    lines = [
        f"Phản ánh {c.code} — {status_label(c.status)}",
        f"Gửi lúc: {local(c.created_at).strftime('%H:%M %d/%m/%Y')} qua {c.channel}",
        f"Loại: {category_name(config, c.category)}",
        f"Địa bàn: {area_name(config, c.area)}",
        f"Nơi mua: {PLATFORMS.get(c.platform, c.platform)}",
        f"Người bán: {shown['seller']}",
        f"Link / địa chỉ: {shown['seller_where'] or '—'}",
        f"Sản phẩm: {shown['product']}",
        f"Ngày mua: {c.purchase_date.strftime('%d/%m/%Y') if c.purchase_date else 'không nhớ rõ'}",
        f"Nội dung: {shown['description']}",
    ]
    if c.photo_note:
        lines.append(f"Ghi chú kèm ảnh: {shown['photo_note']}")
    if c.anonymous:
        lines.append("Người phản ánh: ẩn danh")
    else:
        name = c.reporter_name if reveal else mask_contacts(c.reporter_name)
        lines.append(f"Người phản ánh: {name or '—'}")
        phone = export_contact(c, full=reveal) if c.phone else "không để lại"
        lines.append(f"Điện thoại: {phone}" + (" (đồng ý để cán bộ liên hệ)" if c.contact_consent else ""))
    lines.append(f"Ảnh ({len(photos)}):")
    for p in photos:
        path = media.path(p.sha256)
        missing = "" if path.is_file() else "  ⚠️ KHÔNG CÓ TỆP"
        lines.append(f"  • {path}  {p.mime}, {vn_number(p.size)} byte, {local(p.received_at):%d/%m %H:%M}{missing}")
    lines.append("Diễn biến:")
    for e in events:
        hidden = "" if e.public else " (nội bộ)"
        detail = f": {e.detail if reveal else mask_contacts(e.detail)}" if e.detail else ""
        lines.append(f"  • {local(e.at):%H:%M %d/%m/%Y} — {e.note}{hidden}{detail}")
    return "\n".join(lines)
