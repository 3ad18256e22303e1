"""Sending a report: the daily limit, the 24-hour duplicate check, and the one transaction that stores the
complaint with its photos and first event and queues it for staff (``kind="complaint_submitted"``)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from handlers.clock import LOCAL_TZ, as_utc, local
from handlers.complaints.photos import photo_rows
from handlers.complaints.records import complaint_fields
from handlers.complaints.vocabulary import (
    KIND_SUBMITTED,
    PLATFORMS,
    STAFF_CHANNEL,
    STAFF_CHAT,
    area_name,
    category_name,
    contact_text,
    date_text,
    local_text,
)
from handlers.config import AppConfig
from handlers.core import Context
from handlers.matching import fold_text
from handlers.phone import mask_phone
from handlers.types import Button, IncomingMessage
from storage.complaints import Complaint, ComplaintEvent, ComplaintPhoto, ComplaintStatus, EventKind
from storage.db import UnitOfWork

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(hours=24)
LIMIT_REACHED = (
    "Hôm nay bạn đã gửi {count} phản ánh — mức tối đa mỗi ngày là {limit}. Bạn có thể gửi tiếp từ ngày mai, "
    "hoặc bổ sung thông tin vào phản ánh đã gửi bằng /tracuu MÃ. Cần hỗ trợ gấp, bạn gọi Tổng đài tư vấn "
    "người tiêu dùng 1800 6838 (miễn phí)."
)


def local_midnight(now: datetime) -> datetime:
    """The start of today in Vietnam, as UTC: the daily limit counts from here."""
    day = local(now).date()
    return as_utc(datetime.combine(day, time(0), tzinfo=LOCAL_TZ))


async def reports_today(uow: UnitOfWork, msg: IncomingMessage, now: datetime) -> int:
    return await uow.complaints.count_since(msg.channel, msg.user_id, local_midnight(now))


async def find_duplicate(
    uow: UnitOfWork, msg: IncomingMessage, seller: str, product: str, now: datetime
) -> Complaint | None:
    """The reporter's complaint about the same seller and product (compared without diacritics) in 24 h."""
    recent = await uow.complaints.by_reporter(msg.channel, msg.user_id, since=now - DUPLICATE_WINDOW, limit=100)
    seller_key, product_key = fold_text(seller), fold_text(product)
    return next(
        (c for c in recent if fold_text(c.seller) == seller_key and fold_text(c.product) == product_key),
        None,
    )


def duplicate_reply(ctx: Context, existing: Complaint) -> None:
    ctx.reply(
        f"Bạn đã gửi phản ánh {existing.code} về «{existing.product}» của «{existing.seller}» lúc "
        f"{local_text(existing.created_at)}. Để tránh trùng lặp, mình không tạo phản ánh mới — bạn có thể bổ "
        "sung thông tin hoặc ảnh vào phản ánh đó.",
        [
            [Button(f"➕ Bổ sung vào {existing.code}", f"track:add:{existing.code}")],
            [Button(f"🔎 Xem {existing.code}", f"track:view:{existing.code}"), Button("🏠 Menu", "menu:menu")],
        ],
    )


def acknowledge_hours(config: AppConfig, category: str, now: datetime) -> float | None:
    """The configured time to acknowledge a report of this category (tighter inside the 60 hours)."""
    rules = [s for s in config.sla if s.category == category] or [s for s in config.sla if s.category == "*"]
    if not rules:
        return None
    rule = rules[0]
    in_window = any(c.main_event.start <= now < c.main_event.end for c in config.campaigns)
    if in_window and rule.in_window_acknowledge_hours:
        return rule.in_window_acknowledge_hours
    return rule.acknowledge_hours


def staff_card(complaint: Complaint, photos: int, config: AppConfig) -> str:
    """The staff-facing text of a complaint; the phone is always masked here."""
    where = f" ({complaint.seller_where})" if complaint.seller_where else ""
    lines = [
        f"🚨 Phản ánh {complaint.code}",
        f"Loại: {category_name(config, complaint.category)}",
        f"Địa bàn: {area_name(config, complaint.area)}",
        f"Nơi mua: {PLATFORMS.get(complaint.platform, complaint.platform)} — người bán: {complaint.seller}{where}",
        f"Sản phẩm: {complaint.product} (ngày mua: {date_text(complaint.purchase_date)})",
        f"Nội dung: {complaint.description}",
    ]
    if complaint.photo_note:
        lines.append(f"Ghi chú kèm ảnh: {complaint.photo_note}")
    lines.append(f"Ảnh: {photos}")
    lines.append(
        "Liên hệ: " + contact_text(complaint.anonymous, complaint.phone, complaint.contact_consent, masked=True)
    )
    return "\n".join(lines)


def staff_payload(complaint: Complaint, photos: list[ComplaintPhoto], config: AppConfig) -> dict[str, Any]:
    """The outbox payload for staff: a ready card text and the fields; never the full phone or the chat id."""
    return {
        "text": staff_card(complaint, len(photos), config),
        "complaint": {
            **complaint_fields(config, complaint),
            "photos": [{"sha256": p.sha256, "size": p.size, "mime": p.mime} for p in photos],
            "anonymous": complaint.anonymous,
            "contact_consent": complaint.contact_consent,
            "phone_masked": mask_phone(complaint.phone) or None,
            "submitted_at": as_utc(complaint.created_at).isoformat(),
        },
    }


def stored_photos(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft's photos whose files are in the media store (all of them, unless something deleted one)."""
    entries = list(data.get("photos", []))
    media = ctx.services.media
    if media is None:
        return entries
    missing = [e for e in entries if not media.exists(e["sha256"])]
    if missing:
        logger.error(
            "complaint draft of %s/%s refers to %d missing files", ctx.msg.channel, ctx.msg.user_id, len(missing)
        )
    return [e for e in entries if e not in missing]


async def new_complaint(ctx: Context, data: dict[str, Any]) -> Complaint:
    """The complaint a finished draft describes; an anonymous one keeps no name and no phone."""
    msg, now = ctx.msg, ctx.now
    anonymous = bool(data.get("anonymous"))
    return Complaint(
        code=await ctx.uow.complaints.new_code(),
        status=ComplaintStatus.SUBMITTED.value,
        channel=msg.channel,
        chat_id=msg.chat_id,
        user_id=msg.user_id,
        anonymous=anonymous,
        reporter_name=None if anonymous else (msg.display_name or ctx.user.display_name or None),
        phone=None if anonymous else data.get("phone"),
        contact_consent=bool(data.get("consent")) and not anonymous,
        category=data["category"],
        platform=data["platform"],
        seller=data["seller"],
        seller_where=data.get("seller_where"),
        product=data["product"],
        purchase_date=date.fromisoformat(data["purchase_date"]) if data.get("purchase_date") else None,
        description=data["description"],
        photo_note=data.get("note"),
        area=data["area"],
        created_at=now,
        updated_at=now,
    )


def submitted_text(complaint: Complaint, hours: float | None, *, photos_lost: bool) -> str:
    lines = [
        f"✅ Đã gửi phản ánh. Mã tra cứu của bạn: {complaint.code}",
        "Bạn lưu lại mã này để theo dõi nhé.",
        "",
        "Tiếp theo:",
        "• Phản ánh được chuyển tới cơ quan chức năng phụ trách (Quản lý thị trường, Thanh tra Sở Công Thương, "
        "Hội Bảo vệ quyền lợi người tiêu dùng… tùy loại vi phạm).",
    ]
    if hours:
        lines.append(f"• Cơ quan chức năng sẽ tiếp nhận trong khoảng {hours:g} giờ.")
    lines += [
        f"• Bạn xem trạng thái bất cứ lúc nào bằng /tracuu {complaint.code}, và có thể bổ sung thông tin hoặc "
        "ảnh ở đó.",
        "• Cần hỗ trợ gấp: Tổng đài tư vấn người tiêu dùng 1800 6838 (miễn phí).",
    ]
    if photos_lost:
        lines.append("⚠️ Một số ảnh không còn trên máy chủ; bạn gửi bổ sung giúp mình qua mục Tra cứu nhé.")
    return "\n".join(lines)


async def submit(ctx: Context, data: dict[str, Any]) -> None:
    """Store the finished draft as a complaint and queue it for staff, in the step's transaction."""
    uow, now, config = ctx.uow, ctx.now, ctx.config
    entries = stored_photos(ctx, data)
    complaint = await new_complaint(ctx, data)
    photos = photo_rows(entries, "report")
    event = ComplaintEvent(
        at=now, kind=EventKind.SUBMITTED.value, status=complaint.status, note="Đã gửi phản ánh", actor="reporter"
    )
    await uow.complaints.add(complaint, photos, [event])
    await uow.outbox.enqueue(
        channel=STAFF_CHANNEL,
        chat_id=STAFF_CHAT,
        kind=KIND_SUBMITTED,
        payload=staff_payload(complaint, photos, config),
        now=now,
        dedupe_key=f"{KIND_SUBMITTED}:{complaint.code}",
        ref=complaint.code,
    )
    ctx.finish()
    hours = acknowledge_hours(config, complaint.category, now)
    ctx.reply(
        submitted_text(complaint, hours, photos_lost=len(entries) < len(data.get("photos", []))),
        [
            [Button("🔎 Xem trạng thái", f"track:view:{complaint.code}")],
            [Button("🏠 Menu chính", "menu:menu")],
        ],
    )
    logger.info("complaint %s submitted with %d photos", complaint.code, len(photos))
