"""The words of the complaint feature: where goods were bought, status labels, the names of configured
categories and areas, the outbox kinds, and how dates and contacts are shown."""

from __future__ import annotations

from datetime import date, datetime

from handlers.clock import local
from handlers.config import AppConfig
from handlers.phone import format_phone, mask_phone
from storage.complaints import ComplaintStatus

STAFF_CHANNEL = "staff"  # a pseudo-channel no sender serves: the routing work turns these rows into staff cards
STAFF_CHAT = "routing"
KIND_SUBMITTED = "complaint_submitted"
KIND_UPDATED = "complaint_updated"
KIND_DRAFT_CLOSED = "complaint_draft_closed"

PLATFORMS: dict[str, str] = {
    "shopee": "Shopee",
    "lazada": "Lazada",
    "tiktok": "TikTok Shop",
    "tiki": "Tiki",
    "social": "Facebook / Zalo",
    "website": "Website khác",
    "store": "Cửa hàng / chợ",
}
ONLINE = frozenset(PLATFORMS) - {"store"}

COMPLAINT_STATUS_LABELS = {
    ComplaintStatus.SUBMITTED.value: "Đã gửi, chờ cơ quan chức năng tiếp nhận",
    ComplaintStatus.ACKNOWLEDGED.value: "Đã được tiếp nhận",
    ComplaintStatus.IN_PROGRESS.value: "Đang xác minh, xử lý",
    ComplaintStatus.RESOLVED.value: "Đã xử lý xong",
    ComplaintStatus.REJECTED.value: "Đã đóng (không đủ cơ sở xử lý)",
}


def category_name(config: AppConfig, key: str) -> str:
    return next((c.name for c in config.categories if c.id == key), key)


def area_name(config: AppConfig, key: str, kept: str | None = None) -> str:
    """The area's name from the configuration, else the name kept with the case (``kept``), else its id."""
    area = config.area(key)
    return area.name if area else kept or key


def status_label(status: str) -> str:
    return COMPLAINT_STATUS_LABELS.get(status, status)


def local_text(value: datetime) -> str:
    return local(value).strftime("%H:%M %d/%m/%Y")


def date_text(value: str | date | None) -> str:
    if value is None:
        return "không nhớ rõ"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%d/%m/%Y")


def contact_text(anonymous: bool, phone: str | None, consent: bool, *, masked: bool) -> str:
    if anonymous:
        return "Ẩn danh"
    if not phone:
        return "Không để lại số điện thoại"
    shown = mask_phone(phone) if masked else format_phone(phone)
    return f"{shown} ({'đồng ý' if consent else 'không đồng ý'} để cán bộ liên hệ)"
