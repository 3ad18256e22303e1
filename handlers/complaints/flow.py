"""Consumer complaints with photos: a guided report of fake or poor-quality goods that never loses evidence.

The flow is an explicit state machine (:class:`Step`): category → where it was bought → seller → shop link
or address → product → purchase date → what happened → photos (0–10) → area → contact (phone or anonymous)
→ consent → summary with Gửi / Sửa / Hủy. Every step has a back and a cancel path; typed answers are
accepted where buttons are offered (by number, by label, or by words without diacritics).

Decisions:

* **The draft is the conversation row.** Answers and photo references live in the flow's JSON state, whose
  deadline is ``limits.draft_hours`` after the last step, so a restart resumes at the step. A draft past its
  deadline is closed by the dispatcher when the reporter next writes (``expired_text``) and, proactively, by
  :func:`close_stale_drafts` (an outbox message, then the draft is deleted), which the leader runs every 10
  minutes (:meth:`bot.scheduler.Broadcasting._housekeep`).
* **Downloads happen before the transaction.** :meth:`ComplaintFlow.prepare` streams each photo to the
  content-addressed media store (``storage.media``) with the conversation lock held but no database
  transaction open: on SQLite the unit of work holds the one database lock, so a download inside it would
  stall every other user. The step's transaction then only records hashes. If the state moved in between
  (another process), :meth:`handle` fetches inside the transaction as a fallback. A file stored for a draft
  that is never submitted stays in the store unreferenced (content-addressed, so harmless).
* **Albums get one acknowledgement.** A platform delivers an album as separate messages sharing
  ``album_id`` with no count and no end marker. Adapters that can (Telegram) collect an album's items for a
  short quiet time after the last item (capped) and hand them over as ONE message with several photos, so
  the one acknowledgement can count them all (``bot/channels/albums.py``). Whatever still arrives item by
  item (another adapter, or an item after the cap) is stored as it comes, each in its own transaction, and
  only the first item of an album is acknowledged; later items stay silent unless something is wrong with
  them. The caption is taken from whichever item has it.
* **Submission is one transaction**: the complaint, its photos (rows by SHA-256), its first public history
  event and an outbox row (``kind="complaint_submitted"``, channel ``staff``, ``ref`` = the code) that the
  staff-routing work consumes. The tracking code is random from an unambiguous alphabet, checked for
  collisions and protected by a unique constraint.
* **Privacy**: reports are taken in private chats only; an anonymous report keeps no phone and no name;
  phone numbers are stored normalised (E.164) and masked (``09xx xxx 678``) in every staff-facing text.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from handlers import texts
from handlers.clock import LOCAL_TZ, as_utc, local
from handlers.config import AppConfig
from handlers.core import Context, Flow, FlowState, Services
from handlers.matching import fold_text
from handlers.phone import format_phone, mask_phone, normalise_phone
from handlers.types import Button, ChatKind, IncomingMessage, MediaRef, MessageKind, Reply
from storage.complaints import Complaint, ComplaintEvent, ComplaintPhoto, ComplaintStatus, EventKind
from storage.db import Database, UnitOfWork
from storage.media import BrokenImage, MediaTooLarge, MediaUnavailable, NotAnImage, StoredMedia

logger = logging.getLogger(__name__)

FLOW = "complaint"
MAX_PHOTOS = 10
STAFF_CHANNEL = "staff"  # a pseudo-channel no sender serves: the routing work turns these rows into staff cards
STAFF_CHAT = "routing"
KIND_SUBMITTED = "complaint_submitted"
KIND_UPDATED = "complaint_updated"
KIND_DRAFT_CLOSED = "complaint_draft_closed"
DUPLICATE_WINDOW = timedelta(hours=24)
RESUME_GAP = timedelta(minutes=30)
MAX_PAYLOAD_ARG = 40  # "complaint:" + arg + "~" + signature must fit Telegram's 64 bytes

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
_PLATFORM_WORDS = {
    "shopee": ("shopee", "shoppee", "sopee"),
    "lazada": ("lazada", "lazda"),
    "tiktok": ("tiktok", "tik tok", "tiktok shop"),
    "tiki": ("tiki",),
    "social": ("facebook", "fb", "zalo", "messenger", "mang xa hoi", "instagram"),
    "website": ("website", "web", "trang web", "trang mang", "online khac"),
    "store": ("cua hang", "cho", "sieu thi", "tiem", "tap hoa", "dai ly", "sap", "shop ngoai"),
}
# Extra words for the default categories (configured ids); labels and numbers always work.
_CATEGORY_WORDS = {
    "hang-gia": ("hang gia", "gia", "hang nhai", "nhai", "fake", "dom"),
    "kem-chat-luong": ("kem chat luong", "chat luong kem", "hong", "kem"),
    "khong-ro-nguon-goc": ("nguon goc", "xuat xu", "khong ro nguon goc", "khong nhan mac"),
    "so-huu-tri-tue": ("so huu tri tue", "nhan hieu", "thuong hieu", "ban quyen", "tri tue"),
    "khuyen-mai": ("khuyen mai", "giam gia ao", "giam gia", "sale ao", "gia ao"),
    "khac": ("khac", "van de khac"),
}
_AREA_PREFIXES = ("thanh pho", "thi xa", "thi tran", "huyen", "phuong", "xa", "quan", "tp", "tx", "tt", "h", "q", "p")

BACK_WORDS = frozenset({"quay lai", "tro lai", "back", "lui lai"})
DONE_WORDS = frozenset({"xong", "xong roi", "done", "het", "du roi", "da du", "ok", "okay", "tiep", "tiep tuc"})
SKIP_WORDS = frozenset({"bo qua", "khong co anh", "khong co", "ko co", "khong", "skip", "khong anh"})
YES_WORDS = frozenset({"dong y", "co", "ok", "okay", "yes", "u", "uh", "vang", "da", "duoc"})
NO_WORDS = frozenset({"khong", "ko", "k", "no", "khong dong y", "thoi"})
SEND_WORDS = frozenset({"gui", "gui di", "gui phan anh", "dong y", "ok", "xac nhan", "co", "send"})
EDIT_WORDS = frozenset({"sua", "chinh sua", "sua lai", "edit"})
ANONYMOUS_WORDS = frozenset({"an danh", "gui an danh", "khong", "khong de lai", "khong co", "ko"})
UNKNOWN_DATE_WORDS = frozenset({"khong nho", "khong nho ro", "khong ro", "quen", "khong biet"})

STATUS_LABELS = {
    ComplaintStatus.SUBMITTED.value: "Đã gửi, chờ cơ quan chức năng tiếp nhận",
    ComplaintStatus.ACKNOWLEDGED.value: "Đã được tiếp nhận",
    ComplaintStatus.IN_PROGRESS.value: "Đang xác minh, xử lý",
    ComplaintStatus.RESOLVED.value: "Đã xử lý xong",
    ComplaintStatus.REJECTED.value: "Đã đóng (không đủ cơ sở xử lý)",
}

INTRO = (
    "🚨 Phản ánh hàng giả, hàng kém chất lượng\n"
    "Mình sẽ hỏi vài câu ngắn (khoảng 2 phút). Bạn có thể bấm «Quay lại» để sửa câu trước, hoặc gõ «hủy» "
    "bất cứ lúc nào. Phản ánh chưa gửi được giữ làm bản nháp trong {hours} giờ."
)
PRIVATE_ONLY = (
    "Để bảo vệ thông tin của bạn, mình chỉ nhận phản ánh qua tin nhắn riêng. Bạn bấm vào tên trợ lý, "
    "chọn «Nhắn tin», rồi gõ /phananh nhé."
)
LIMIT_REACHED = (
    "Hôm nay bạn đã gửi {count} phản ánh — mức tối đa mỗi ngày là {limit}. Bạn có thể gửi tiếp từ ngày mai, "
    "hoặc bổ sung thông tin vào phản ánh đã gửi bằng /tracuu MÃ. Cần hỗ trợ gấp, bạn gọi Tổng đài tư vấn "
    "người tiêu dùng 1800 6838 (miễn phí)."
)
RESUMED = "📝 Mình vẫn giữ phản ánh bạn đang soạn dở — mình tiếp tục từ bước trước nhé."
DRAFT_EXPIRED = (
    "⌛ Bản nháp phản ánh chưa gửi của bạn đã quá thời hạn lưu nên mình đã đóng lại. "
    "Nếu vẫn cần phản ánh, bạn gõ /phananh để bắt đầu lại nhé."
)
DRAFT_CLOSED = (
    "⌛ Phản ánh bạn đang soạn dở đã quá {hours} giờ chưa được gửi nên mình đã đóng bản nháp. "
    "Nếu vẫn cần phản ánh, bạn gõ /phananh để bắt đầu lại nhé."
)
PRIVACY = (
    "🔒 Số điện thoại chỉ dùng để cơ quan chức năng liên hệ xác minh phản ánh này, không công khai; trong nhóm "
    "cán bộ số được che bớt (ví dụ 09xx xxx 678). Phản ánh ẩn danh không lưu số điện thoại hay tên của bạn."
)
NO_FILE = "Mình không nhận được tệp nào (có thể đường dẫn hoặc tệp bị lỗi). Bạn gửi lại ảnh nhé."


class Step(enum.StrEnum):
    CATEGORY = "category"
    PLATFORM = "platform"
    SELLER = "seller"
    SELLER_WHERE = "seller_where"
    PRODUCT = "product"
    PURCHASE_DATE = "purchase_date"
    DESCRIPTION = "description"
    PHOTOS = "photos"
    AREA = "area"
    CONTACT = "contact"
    CONSENT = "consent"
    CONFIRM = "confirm"
    EDIT = "edit"


ORDER = [
    Step.CATEGORY,
    Step.PLATFORM,
    Step.SELLER,
    Step.SELLER_WHERE,
    Step.PRODUCT,
    Step.PURCHASE_DATE,
    Step.DESCRIPTION,
    Step.PHOTOS,
    Step.AREA,
    Step.CONTACT,
    Step.CONSENT,
    Step.CONFIRM,
]
EDITABLE = {
    Step.CATEGORY: "Loại vi phạm",
    Step.PLATFORM: "Nơi mua",
    Step.SELLER: "Người bán",
    Step.SELLER_WHERE: "Link / địa chỉ",
    Step.PRODUCT: "Sản phẩm",
    Step.PURCHASE_DATE: "Ngày mua",
    Step.DESCRIPTION: "Nội dung",
    Step.PHOTOS: "Ảnh",
    Step.AREA: "Địa bàn",
    Step.CONTACT: "Liên hệ",
}
NUMBERED = 10  # steps shown as "Bước n/10" (consent is part of step 10)


# -- small helpers -------------------------------------------------------------------------------------


def pick(text: str, options: list[tuple[str, str]], words: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """Match typed text to an option key: by number, by label or key, by known words, or by a unique part."""
    folded = fold_text(text)
    if not folded:
        return None
    if folded.isdigit():
        number = int(folded)
        return options[number - 1][0] if 1 <= number <= len(options) else None
    for key, label in options:
        if folded in (fold_text(label), fold_text(key)):
            return key
    padded = f" {folded} "
    hits = {key for key, _ in options for word in (words or {}).get(key, ()) if f" {word} " in padded}
    if len(hits) == 1:
        return hits.pop()
    if len(folded) >= 3:
        partial = [key for key, label in options if f" {folded} " in f" {fold_text(label)} "]
        if len(partial) == 1:
            return partial[0]
    return None


def _core_area(folded: str) -> str:
    for prefix in _AREA_PREFIXES:
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1 :]
    return folded


def pick_area(text: str, config: AppConfig) -> str | None:
    options = [(a.id, a.name) for a in config.areas]
    found = pick(text, options)
    if found:
        return found
    wanted = _core_area(fold_text(text))
    if len(wanted) < 2:
        return None
    exact = [a.id for a in config.areas if _core_area(fold_text(a.name)) == wanted]
    if len(exact) == 1:
        return exact[0]
    partial = [a.id for a in config.areas if f" {wanted} " in f" {_core_area(fold_text(a.name))} "]
    return partial[0] if len(partial) == 1 else None


_DATE = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})(?:\s*[/\-.]\s*(\d{2}|\d{4}))?$")


class DateError(ValueError):
    pass


def parse_purchase_date(text: str, today: date) -> date | None:
    """A typed purchase date; None means "not remembered". Raises :class:`DateError` with the reason."""
    folded = fold_text(text)
    if folded in UNKNOWN_DATE_WORDS:
        return None
    relative = {"hom nay": 0, "nay": 0, "hom qua": 1, "qua": 1, "hom kia": 2}
    if folded in relative:
        return today - timedelta(days=relative[folded])
    match = re.match(r"^(\d{1,3}) ngay truoc$", folded)
    if match:
        return today - timedelta(days=int(match.group(1)))
    match = _DATE.match(text.strip())
    if not match:
        raise DateError("format")
    day, month = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else today.year
    if year < 100:
        year += 2000
    try:
        value = date(year, month, day)
    except ValueError as exc:
        raise DateError("format") from exc
    if value > today and not match.group(3):
        value = value.replace(year=year - 1)  # "28/12" typed in January means last December
    if value > today:
        raise DateError("future")
    if value.year < today.year - 10:
        raise DateError("old")
    return value


def choice_arg(prefix: str, index: int, key: str) -> str:
    """A button argument naming an option by id, or by position when the id is too long for a payload."""
    arg = f"{prefix}:{key}"
    return arg if len(arg) <= MAX_PAYLOAD_ARG else f"{prefix}:#{index}"


def resolve_choice(value: str, keys: list[str]) -> str | None:
    if value.startswith("#"):
        number = value[1:]
        return keys[int(number)] if number.isdigit() and int(number) < len(keys) else None
    return value if value in keys else None


def local_text(value: datetime) -> str:
    return local(value).strftime("%H:%M %d/%m/%Y")


def date_text(value: str | date | None) -> str:
    if value is None:
        return "không nhớ rõ"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%d/%m/%Y")


def local_midnight(now: datetime) -> datetime:
    """The start of today in Vietnam, as UTC: the daily limit counts from here."""
    day = local(now).date()
    return as_utc(datetime.combine(day, time(0), tzinfo=LOCAL_TZ))


def category_name(config: AppConfig, key: str) -> str:
    return next((c.name for c in config.categories if c.id == key), key)


def area_name(config: AppConfig, key: str) -> str:
    area = config.area(key)
    return area.name if area else key


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def contact_text(anonymous: bool, phone: str | None, consent: bool, *, masked: bool) -> str:
    if anonymous:
        return "Ẩn danh"
    if not phone:
        return "Không để lại số điện thoại"
    shown = mask_phone(phone) if masked else format_phone(phone)
    return f"{shown} ({'đồng ý' if consent else 'không đồng ý'} để cán bộ liên hệ)"


# -- photos --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """One media item of a message after :func:`fetch_media`: stored, or the reason it was not."""

    file_id: str
    file_name: str | None
    stored: StoredMedia | None = None
    error: str | None = None  # too_large, not_image, broken, unavailable, over_limit
    size: int | None = None
    limit: int | None = None


def media_refs(msg: IncomingMessage) -> list[MediaRef]:
    if msg.photos:
        return list(msg.photos)
    return [msg.document] if msg.document is not None else []


async def fetch_media(msg: IncomingMessage, services: Services, room: int) -> list[Fetched]:
    """Download and store the message's photos one at a time (never all in memory); at most ``room``."""
    store = services.media
    download = services.downloaders.get(msg.channel)
    results: list[Fetched] = []
    for i, ref in enumerate(media_refs(msg)):
        if i >= room:
            results.append(Fetched(ref.file_id, ref.file_name, error="over_limit"))
            continue
        if store is None:
            results.append(Fetched(ref.file_id, ref.file_name, error="unavailable"))
            continue
        try:
            stored = await store.save(ref, download)
        except MediaTooLarge as exc:
            results.append(Fetched(ref.file_id, ref.file_name, error="too_large", size=exc.size, limit=exc.limit))
        except NotAnImage:
            results.append(Fetched(ref.file_id, ref.file_name, error="not_image"))
        except BrokenImage:
            results.append(Fetched(ref.file_id, ref.file_name, error="broken"))
        except MediaUnavailable as exc:
            logger.warning("could not fetch media from %s: %s", msg.channel, exc)
            results.append(Fetched(ref.file_id, ref.file_name, error="unavailable"))
        else:
            results.append(Fetched(ref.file_id, ref.file_name, stored=stored))
    return results


def _mb(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1024 / 1024:.1f}".replace(".", ",").removesuffix(",0")


def problem_text(item: Fetched, name: str, max_photos: int) -> str:
    if item.error == "too_large":
        return (
            f"• {name} quá lớn ({_mb(item.size)} MB; tối đa {_mb(item.limit)} MB) nên mình chưa lưu. Bạn gửi "
            "dạng ảnh thường (không gửi dạng tệp) hoặc chụp lại với dung lượng nhỏ hơn nhé."
        )
    if item.error == "not_image":
        return f"• {name} không phải ảnh (mình nhận ảnh JPEG, PNG, WebP, HEIC) nên chưa lưu."
    if item.error == "broken":
        return f"• {name} bị lỗi hoặc chưa tải trọn vẹn nên mình không mở được. Bạn gửi lại giúp mình nhé."
    if item.error == "over_limit":
        return f"• Mỗi phản ánh nhận tối đa {max_photos} ảnh nên {name[0].lower() + name[1:]} chưa được lưu."
    return f"• Mình chưa tải được {name[0].lower() + name[1:]} (lỗi kết nối). Bạn gửi lại giúp mình nhé."


@dataclass
class Intake:
    added: list[dict[str, Any]]
    problems: list[str]
    duplicates: int = 0


async def take_photos(ctx: Context, known: set[str], room: int, max_photos: int) -> Intake:
    """Turn the prepared (or, as a fallback, freshly fetched) media of ``ctx.msg`` into photo entries."""
    fetched = ctx.prepared if isinstance(ctx.prepared, list) else None
    if fetched is None:
        fetched = await fetch_media(ctx.msg, ctx.services, max(room, 0))
    intake = Intake([], [])
    several = len(fetched) > 1
    for i, item in enumerate(fetched, start=1):
        name = f"Tệp «{item.file_name}»" if item.file_name else (f"Ảnh thứ {i}" if several else "Ảnh này")
        if item.stored is None:
            intake.problems.append(problem_text(item, name, max_photos))
            continue
        if item.stored.sha256 in known:
            intake.duplicates += 1
            continue
        if len(intake.added) >= room:
            intake.problems.append(problem_text(Fetched(item.file_id, None, error="over_limit"), name, max_photos))
            continue
        known.add(item.stored.sha256)
        intake.added.append(
            {
                "sha256": item.stored.sha256,
                "size": item.stored.size,
                "mime": item.stored.mime,
                "file_id": item.file_id[:255],
                "file_name": (item.file_name or "")[:255] or None,
                "at": ctx.now.isoformat(),
            }
        )
    return intake


def photo_rows(entries: list[dict[str, Any]], source: str) -> list[ComplaintPhoto]:
    return [
        ComplaintPhoto(
            sha256=e["sha256"],
            size=e["size"],
            mime=e["mime"],
            platform_file_id=e.get("file_id"),
            file_name=e.get("file_name"),
            source=source,
            received_at=datetime.fromisoformat(e["at"]),
        )
        for e in entries
    ]


# -- duplicates and limits -----------------------------------------------------------------------------


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
            "code": complaint.code,
            "status": complaint.status,
            "category": complaint.category,
            "category_name": category_name(config, complaint.category),
            "area": complaint.area,
            "area_name": area_name(config, complaint.area),
            "platform": complaint.platform,
            "platform_name": PLATFORMS.get(complaint.platform, complaint.platform),
            "seller": complaint.seller,
            "seller_where": complaint.seller_where,
            "product": complaint.product,
            "purchase_date": complaint.purchase_date.isoformat() if complaint.purchase_date else None,
            "description": complaint.description,
            "photo_note": complaint.photo_note,
            "photos": [{"sha256": p.sha256, "size": p.size, "mime": p.mime} for p in photos],
            "anonymous": complaint.anonymous,
            "contact_consent": complaint.contact_consent,
            "phone_masked": mask_phone(complaint.phone) or None,
            "submitted_at": as_utc(complaint.created_at).isoformat(),
        },
    }


# -- the flow ------------------------------------------------------------------------------------------


class ComplaintFlow(Flow):
    name = FLOW
    accepts = frozenset({MessageKind.TEXT, MessageKind.BUTTON, MessageKind.PHOTO, MessageKind.DOCUMENT})
    expired_text = DRAFT_EXPIRED

    def ttl(self, ctx: Context) -> timedelta:
        return timedelta(hours=ctx.config.limits.draft_hours)

    def goto(self, ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
        data = dict(data if data is not None else ctx.data)
        data["t"] = ctx.now.isoformat()  # when the reporter last answered: to greet them back after a pause
        super().goto(ctx, step, data)

    def nav(self, *, back: bool = True) -> list[Button]:
        row = [self.button("⬅️ Quay lại", "back")] if back else []
        return [*row, self.button("✖️ Hủy", "cancel")]

    # -- entry ------------------------------------------------------------------------------------------
    async def begin(self, ctx: Context) -> None:
        if ctx.msg.chat_kind is ChatKind.GROUP:
            ctx.reply(PRIVATE_ONLY)
            return
        if ctx.state is not None and ctx.state.flow == self.name:
            data = ctx.data
            about = f" về «{data['product']}»" if data.get("product") else ""
            ctx.reply(
                f"📝 Bạn đang có một phản ánh soạn dở{about}. Bạn muốn tiếp tục hay bắt đầu lại?",
                [
                    [self.button("▶️ Tiếp tục", "resume"), self.button("🆕 Bắt đầu lại", "restart")],
                    [self.button("✖️ Hủy", "cancel")],
                ],
            )
            return
        await self._start(ctx)

    async def _start(self, ctx: Context) -> None:
        limit = ctx.config.limits.reports_per_day
        count = await reports_today(ctx.uow, ctx.msg, ctx.now)
        if count >= limit:
            ctx.reply(LIMIT_REACHED.format(count=count, limit=limit), texts.menu_buttons())
            return
        self.goto(ctx, Step.CATEGORY, {})
        ctx.reply(INTRO.format(hours=ctx.config.limits.draft_hours))
        await self.reprompt(ctx)

    async def prepare(self, msg: IncomingMessage, state: FlowState, services: Services) -> Any:
        room = MAX_PHOTOS - len(state.data.get("photos", []))
        return await fetch_media(msg, services, room)

    # -- questions --------------------------------------------------------------------------------------
    async def reprompt(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        data = ctx.data
        editing = bool(data.get("editing"))
        if step is Step.CONFIRM:
            self._summary(ctx, data)
            return
        if step is Step.EDIT:
            fields = list(EDITABLE.items())
            rows = [
                [self.button(label, f"edit:{key.value}") for key, label in fields[i : i + 2]]
                for i in range(0, len(fields), 2)
            ]
            ctx.reply("Bạn muốn sửa mục nào?", [*rows, [self.button("⬅️ Quay lại bản tóm tắt", "back")]])
            return
        number = min(ORDER.index(step) + 1, NUMBERED)
        head = f"({'Sửa' if editing else f'Bước {number}/{NUMBERED}'}) "
        if step is Step.CATEGORY:
            options = ctx.config.categories
            rows = [[self.button(c.name, choice_arg("cat", i, c.id))] for i, c in enumerate(options)]
            ctx.reply(head + "Bạn muốn phản ánh về vấn đề gì?", [*rows, self.nav(back=editing)])
        elif step is Step.PLATFORM:
            items = list(PLATFORMS.items())
            rows = [
                [self.button(label, f"plat:{key}") for key, label in items[i : i + 2]] for i in range(0, len(items), 2)
            ]
            ctx.reply(head + "Bạn mua hàng ở đâu?", [*rows, self.nav()])
        elif step is Step.SELLER:
            ctx.reply(head + "Tên người bán hoặc tên gian hàng là gì? (ví dụ: «Shop Mỹ Phẩm Hoa Hồng»)", [self.nav()])
        elif step is Step.SELLER_WHERE:
            if data.get("platform") in ONLINE:
                question = "Bạn dán đường link gian hàng hoặc sản phẩm (sao chép từ ứng dụng) nhé."
            else:
                question = "Địa chỉ cửa hàng hoặc vị trí sạp ở chợ là gì?"
            ctx.reply(head + question, [[self.button("🤷 Không nhớ / bỏ qua", "skip")], self.nav()])
        elif step is Step.PRODUCT:
            ctx.reply(head + "Sản phẩm bạn mua là gì? (tên sản phẩm, nhãn hiệu nếu có)", [self.nav()])
        elif step is Step.PURCHASE_DATE:
            ctx.reply(
                head + "Bạn mua hàng ngày nào? Bạn chọn nút hoặc gõ ngày, ví dụ 25/11/2024.",
                [
                    [self.button("Hôm nay", "date:today"), self.button("Hôm qua", "date:yesterday")],
                    [self.button("🤷 Không nhớ rõ", "date:unknown")],
                    self.nav(),
                ],
            )
        elif step is Step.DESCRIPTION:
            ctx.reply(
                head + "Bạn kể ngắn gọn chuyện gì đã xảy ra: hàng có dấu hiệu gì (giả, kém chất lượng, khác quảng "
                "cáo, giảm giá không thật…), giá mua, người bán trả lời thế nào…",
                [self.nav()],
            )
        elif step is Step.PHOTOS:
            ctx.reply(
                head + f"📷 Bạn gửi ảnh làm bằng chứng: sản phẩm, nhãn mác, hóa đơn, ảnh chụp đoạn chat… (tối đa "
                f"{MAX_PHOTOS} ảnh, gửi nhiều ảnh một lần cũng được). Đủ ảnh thì bấm «Xong»; không có ảnh thì "
                "bấm «Bỏ qua».",
                self._photo_buttons(len(data.get("photos", []))),
            )
        elif step is Step.AREA:
            areas = ctx.config.areas
            buttons = [self.button(a.name, choice_arg("area", i, a.id)) for i, a in enumerate(areas)]
            rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
            where = "Bạn đang ở" if data.get("platform") in ONLINE else "Nơi bán thuộc"
            ctx.reply(head + f"{where} địa bàn nào?", [*rows, self.nav()])
        elif step is Step.CONTACT:
            ctx.reply(
                head + "Số điện thoại để cán bộ liên hệ khi cần xác minh là số nào? Không muốn để lại liên hệ thì "
                "bấm «Gửi ẩn danh».\n" + PRIVACY,
                [[self.button("🙈 Gửi ẩn danh", "anonymous")], self.nav()],
            )
        elif step is Step.CONSENT:
            ctx.reply(
                head + f"Bạn đồng ý để cán bộ gọi hoặc nhắn tin tới số {format_phone(data['phone'])} về phản ánh "
                "này chứ?",
                [
                    [self.button("✅ Đồng ý", "consent:yes")],
                    [self.button("❌ Không, tôi theo dõi bằng mã", "consent:no")],
                    self.nav(),
                ],
            )

    def _photo_buttons(self, count: int) -> list[list[Button]]:
        if count:
            rows = [[self.button(f"✅ Xong ({count} ảnh)", "done")], [self.button("🗑 Xóa ảnh đã gửi", "clear")]]
        else:
            rows = [[self.button("⏭ Bỏ qua, không có ảnh", "skip")]]
        return [*rows, self.nav()]

    def _summary(self, ctx: Context, data: dict[str, Any]) -> None:
        config = ctx.config
        photos = len(data.get("photos", []))
        lines = [
            "📋 Bạn kiểm tra lại phản ánh nhé:",
            f"• Loại: {category_name(config, data['category'])}",
            f"• Nơi mua: {PLATFORMS[data['platform']]}",
            f"• Người bán: {data['seller']}",
            f"• Link / địa chỉ: {data.get('seller_where') or 'không có'}",
            f"• Sản phẩm: {data['product']}",
            f"• Ngày mua: {date_text(data.get('purchase_date'))}",
            f"• Nội dung: {data['description']}",
            f"• Ảnh: {photos} ảnh" if photos else "• Ảnh: không có",
        ]
        if data.get("note"):
            lines.append(f"• Ghi chú kèm ảnh: {data['note']}")
        lines += [
            f"• Địa bàn: {area_name(config, data['area'])}",
            "• Liên hệ: "
            + contact_text(bool(data.get("anonymous")), data.get("phone"), bool(data.get("consent")), masked=False),
            "",
            "🔒 Thông tin chỉ dùng để cơ quan chức năng xác minh, xử lý phản ánh.",
            "Bấm «Gửi phản ánh» để gửi, «Sửa» để chỉnh một mục, hoặc «Hủy».",
        ]
        ctx.reply(
            "\n".join(lines),
            [
                [self.button("📨 Gửi phản ánh", "send")],
                [self.button("✏️ Sửa", "edit"), self.button("✖️ Hủy", "cancel")],
            ],
        )

    # -- answers ----------------------------------------------------------------------------------------
    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        data = ctx.data
        answer = ctx.arg if ctx.payload else ""
        last = data.get("t")
        if last and ctx.now - datetime.fromisoformat(last) >= RESUME_GAP and answer not in ("resume", "restart"):
            ctx.reply(RESUMED)
        if ctx.msg.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT):
            await self._media(ctx, step, data)
            return
        folded = fold_text(ctx.text)
        if answer == "cancel":
            ctx.finish()
            ctx.reply(
                "Đã hủy phản ánh đang soạn; thông tin chưa được gửi đi. Bạn cần gì tiếp theo?", texts.menu_buttons()
            )
            return
        if answer == "resume":
            self.goto(ctx, step, data)
            await self.reprompt(ctx)
            return
        if answer == "restart":
            ctx.finish()
            await self._start(ctx)
            return
        if answer == "back" or (not answer and folded in BACK_WORDS):
            self._back(ctx, step, data)
            await self.reprompt(ctx)
            return
        steps = {
            Step.CATEGORY: self._category,
            Step.PLATFORM: self._platform,
            Step.SELLER: self._seller,
            Step.SELLER_WHERE: self._seller_where,
            Step.PRODUCT: self._product,
            Step.PURCHASE_DATE: self._purchase_date,
            Step.DESCRIPTION: self._description,
            Step.PHOTOS: self._photos,
            Step.AREA: self._area,
            Step.CONTACT: self._contact,
            Step.CONSENT: self._consent,
            Step.CONFIRM: self._confirm,
            Step.EDIT: self._edit,
        }
        await steps[step](ctx, data, answer, ctx.text)

    async def _invalid(self, ctx: Context, why: str) -> None:
        ctx.reply(why)
        await self.reprompt(ctx)

    async def _next(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        """Move past ``step``: to the next question, or back to the summary when editing one answer."""
        if step is Step.CONTACT and data.get("phone"):
            target = Step.CONSENT
        elif data.pop("editing", False):
            target = Step.CONFIRM
        else:
            target = ORDER[ORDER.index(step) + 1]
            if target is Step.CONSENT and not data.get("phone"):
                target = Step.CONFIRM
        self.goto(ctx, target, data)
        await self.reprompt(ctx)

    def _back(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        if data.pop("editing", False) or step is Step.EDIT:
            self.goto(ctx, Step.CONFIRM, data)
            return
        if step is Step.CATEGORY:
            ctx.reply("Đây là câu hỏi đầu tiên rồi. Muốn dừng thì bạn bấm «Hủy» nhé.")
            return
        target = ORDER[ORDER.index(step) - 1]
        if target is Step.CONSENT and not data.get("phone"):
            target = Step.CONTACT
        self.goto(ctx, target, data)

    async def _category(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        keys = [c.id for c in ctx.config.categories]
        if answer.startswith("cat:"):
            key = resolve_choice(answer[4:], keys)
        else:
            key = pick(text, [(c.id, c.name) for c in ctx.config.categories], _CATEGORY_WORDS)
        if key is None:
            await self._invalid(
                ctx, f"Mình chưa rõ bạn muốn phản ánh vấn đề nào. Bạn chọn một nút hoặc gõ số 1–{len(keys)} nhé."
            )
            return
        data["category"] = key
        await self._next(ctx, Step.CATEGORY, data)

    async def _platform(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer.startswith("plat:"):
            key = answer[5:] if answer[5:] in PLATFORMS else None
        else:
            key = pick(text, list(PLATFORMS.items()), _PLATFORM_WORDS)
        if key is None:
            await self._invalid(ctx, f"Mình chưa rõ bạn mua ở đâu. Bạn chọn một nút hoặc gõ số 1–{len(PLATFORMS)} nhé.")
            return
        data["platform"] = key
        await self._next(ctx, Step.PLATFORM, data)

    async def _seller(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = " ".join(text.split())
        if len(fold_text(value)) < 2:
            await self._invalid(
                ctx, "Tên người bán cần ít nhất 2 ký tự. Không nhớ tên thì bạn mô tả ngắn, ví dụ «sạp quần áo đầu chợ»."
            )
            return
        if len(value) > 300:
            await self._invalid(ctx, "Tên người bán dài quá (tối đa 300 ký tự). Bạn viết gọn lại nhé.")
            return
        data["seller"] = value
        if data.get("editing"):
            existing = await find_duplicate(ctx.uow, ctx.msg, value, data["product"], ctx.now)
            if existing is not None:
                ctx.finish()
                duplicate_reply(ctx, existing)
                return
        await self._next(ctx, Step.SELLER, data)

    async def _seller_where(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer == "skip" or (not answer and fold_text(text) in SKIP_WORDS | UNKNOWN_DATE_WORDS):
            data["seller_where"] = None
            await self._next(ctx, Step.SELLER_WHERE, data)
            return
        value = " ".join(text.split())
        if len(fold_text(value)) < 3:
            await self._invalid(
                ctx, "Mình chưa đọc được link hoặc địa chỉ. Bạn gõ rõ hơn, hoặc bấm «Không nhớ / bỏ qua»."
            )
            return
        if len(value) > 500:
            await self._invalid(ctx, "Link hoặc địa chỉ dài quá (tối đa 500 ký tự). Bạn rút gọn giúp mình nhé.")
            return
        data["seller_where"] = value
        await self._next(ctx, Step.SELLER_WHERE, data)

    async def _product(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = " ".join(text.split())
        if len(fold_text(value)) < 2:
            await self._invalid(ctx, "Tên sản phẩm cần ít nhất 2 ký tự, ví dụ «son môi», «nồi chiên không dầu».")
            return
        if len(value) > 300:
            await self._invalid(ctx, "Tên sản phẩm dài quá (tối đa 300 ký tự). Bạn viết gọn lại nhé.")
            return
        existing = await find_duplicate(ctx.uow, ctx.msg, data["seller"], value, ctx.now)
        if existing is not None:
            ctx.finish()
            duplicate_reply(ctx, existing)
            return
        data["product"] = value
        await self._next(ctx, Step.PRODUCT, data)

    async def _purchase_date(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        today = local(ctx.now).date()
        buttons = {"date:today": "hom nay", "date:yesterday": "hom qua", "date:unknown": "khong nho"}
        try:
            value = parse_purchase_date(buttons.get(answer, text), today)
        except DateError as exc:
            why = {
                "future": f"Ngày mua không thể ở tương lai (hôm nay là {today:%d/%m/%Y}). Bạn kiểm tra lại nhé.",
                "old": "Ngày này đã quá lâu. Bạn kiểm tra lại năm mua hàng nhé.",
            }.get(
                str(exc), "Mình chưa hiểu ngày này. Bạn gõ theo dạng ngày/tháng/năm, ví dụ 25/11/2024, hoặc chọn nút."
            )
            await self._invalid(ctx, why)
            return
        data["purchase_date"] = value.isoformat() if value else None
        await self._next(ctx, Step.PURCHASE_DATE, data)

    async def _description(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = text.strip()
        if len(fold_text(value)) < 10:
            await self._invalid(
                ctx, "Bạn mô tả thêm một chút nhé (ít nhất 10 ký tự), để cán bộ hiểu rõ sự việc và xác minh nhanh hơn."
            )
            return
        if len(value) > 2000:
            await self._invalid(ctx, "Nội dung dài quá (tối đa 2.000 ký tự). Bạn tóm tắt lại giúp mình nhé.")
            return
        data["description"] = value
        await self._next(ctx, Step.DESCRIPTION, data)

    async def _photos(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer == "clear" or (not answer and folded in ("xoa anh", "xoa het anh", "xoa")):
            data["photos"] = []
            data.pop("album", None)
            self.goto(ctx, Step.PHOTOS, data)
            ctx.reply("🗑 Đã bỏ các ảnh đã gửi khỏi phản ánh. Bạn gửi lại ảnh nhé.")
            await self.reprompt(ctx)
            return
        if answer in ("done", "skip") or (not answer and folded in DONE_WORDS | SKIP_WORDS):
            data.pop("album", None)
            await self._next(ctx, Step.PHOTOS, data)
            return
        await self._invalid(
            ctx, "Ở bước này bạn gửi ảnh (bấm 📎 để chọn ảnh trong máy), hoặc bấm «Xong» / «Bỏ qua» để đi tiếp."
        )

    async def _area(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        keys = [a.id for a in ctx.config.areas]
        key = resolve_choice(answer[5:], keys) if answer.startswith("area:") else pick_area(text, ctx.config)
        if key is None:
            await self._invalid(
                ctx, f"Mình chưa rõ địa bàn nào. Bạn chọn một nút, gõ số 1–{len(keys)} hoặc gõ tên, ví dụ «Đồng Xoài»."
            )
            return
        data["area"] = key
        await self._next(ctx, Step.AREA, data)

    async def _contact(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer == "anonymous" or (not answer and fold_text(text) in ANONYMOUS_WORDS):
            data.update(anonymous=True, phone=None, consent=False)
            await self._next(ctx, Step.CONTACT, data)
            return
        phone = normalise_phone(text)
        if phone is None:
            await self._invalid(
                ctx,
                "Số điện thoại chưa đúng. Bạn nhập số di động 10 số (ví dụ 0912 345 678 hoặc +84 912 345 678) "
                "hoặc số bàn kèm mã vùng (ví dụ 0271 3879 123); không muốn để lại số thì bấm «Gửi ẩn danh».",
            )
            return
        data.update(anonymous=False, phone=phone, consent=False)
        await self._next(ctx, Step.CONTACT, data)

    async def _consent(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer == "consent:yes" or (not answer and folded in YES_WORDS):
            data["consent"] = True
        elif answer == "consent:no" or (not answer and folded in NO_WORDS):
            # No consent, no reason to keep the number: the report is followed by its code only.
            data.update(consent=False, phone=None)
            ctx.reply("Mình sẽ không lưu số điện thoại; bạn theo dõi phản ánh bằng mã tra cứu nhé.")
        else:
            await self._invalid(ctx, "Bạn bấm «Đồng ý» hoặc «Không» giúp mình nhé.")
            return
        data.pop("editing", None)
        self.goto(ctx, Step.CONFIRM, data)
        await self.reprompt(ctx)

    async def _confirm(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer == "send" or (not answer and folded in SEND_WORDS):
            await self._submit(ctx, data)
            return
        if answer == "edit" or (not answer and folded in EDIT_WORDS):
            self.goto(ctx, Step.EDIT, data)
            await self.reprompt(ctx)
            return
        await self._invalid(ctx, "Bạn bấm «Gửi phản ánh» để gửi, «Sửa» để chỉnh một mục, hoặc «Hủy» nhé.")

    async def _edit(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer.startswith("edit:"):
            key = answer[5:]
        else:
            key = pick(text, [(step.value, label) for step, label in EDITABLE.items()])
        if key not in {step.value for step in EDITABLE}:
            await self._invalid(ctx, "Bạn chọn mục cần sửa bằng một nút nhé.")
            return
        data["editing"] = True
        self.goto(ctx, Step(key), data)
        await self.reprompt(ctx)

    # -- photos at any step -----------------------------------------------------------------------------
    async def _media(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        if not media_refs(ctx.msg):
            ctx.reply(NO_FILE)
            await self.reprompt(ctx)
            return
        photos = list(data.get("photos", []))
        intake = await take_photos(ctx, {p["sha256"] for p in photos}, MAX_PHOTOS - len(photos), MAX_PHOTOS)
        photos += intake.added
        data["photos"] = photos
        caption = ctx.text
        if caption:
            data["note"] = "\n".join(filter(None, [data.get("note"), caption]))[:1000]
        album = ctx.msg.album_id
        silent = album is not None and data.get("album") == album and not intake.problems
        if album is not None and intake.added:
            data["album"] = album
        self.goto(ctx, step, data)
        if silent:
            return  # a later item of an album already acknowledged: stored, nothing to say
        lines = []
        if intake.added:
            total = len(photos)
            lines.append(f"📷 Đã nhận {len(intake.added)} ảnh — tổng cộng {total}/{MAX_PHOTOS} ảnh.")
        elif intake.duplicates:
            lines.append("Ảnh này bạn đã gửi rồi nên mình không lưu thêm.")
        if caption and intake.added:
            lines.append("📝 Mình đã ghi lại chú thích kèm ảnh.")
        lines += intake.problems
        if step is Step.PHOTOS:
            lines.append("Bạn gửi thêm ảnh, hoặc bấm «Xong» khi đã đủ.")
            ctx.reply("\n".join(lines), self._photo_buttons(len(photos)))
            return
        if intake.added:
            lines.append("Mình sẽ đính kèm vào phản ánh; giờ mình hỏi tiếp nhé.")
        ctx.reply("\n".join(lines))
        await self.reprompt(ctx)

    # -- submission -------------------------------------------------------------------------------------
    async def _submit(self, ctx: Context, data: dict[str, Any]) -> None:
        uow, msg, now, config = ctx.uow, ctx.msg, ctx.now, ctx.config
        limit = config.limits.reports_per_day
        count = await reports_today(uow, msg, now)
        if count >= limit:
            deadline = local_text(now + self.ttl(ctx))
            ctx.reply(LIMIT_REACHED.format(count=count, limit=limit) + f"\nBản nháp được giữ đến {deadline}.")
            self.goto(ctx, Step.CONFIRM, data)
            return
        existing = await find_duplicate(uow, msg, data["seller"], data["product"], now)
        if existing is not None:
            ctx.finish()
            duplicate_reply(ctx, existing)
            return
        media = ctx.services.media
        entries = list(data.get("photos", []))
        if media is not None:
            missing = [e for e in entries if not media.exists(e["sha256"])]
            if missing:
                logger.error(
                    "complaint draft of %s/%s refers to %d missing files", msg.channel, msg.user_id, len(missing)
                )
                entries = [e for e in entries if e not in missing]
        anonymous = bool(data.get("anonymous"))
        complaint = Complaint(
            code=await uow.complaints.new_code(),
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
        if len(entries) < len(data.get("photos", [])):
            lines.append("⚠️ Một số ảnh không còn trên máy chủ; bạn gửi bổ sung giúp mình qua mục Tra cứu nhé.")
        ctx.reply(
            "\n".join(lines),
            [
                [Button("🔎 Xem trạng thái", f"track:view:{complaint.code}")],
                [Button("🏠 Menu chính", "menu:menu")],
            ],
        )
        logger.info("complaint %s submitted with %d photos", complaint.code, len(photos))


async def close_stale_drafts(db: Database, now: datetime, *, limit: int = 500, config: AppConfig | None = None) -> int:
    """Close complaint drafts past their deadline: tell the reporter (outbox) and delete the draft.

    Each draft is closed in its own transaction under the conversation's lock, after checking it is still
    expired (the reporter may have just answered). Returns how many drafts were closed.
    """
    hours = config.limits.draft_hours if config else 24
    async with db.unit_of_work() as uow:
        stale = [(r.channel, r.chat_id, r.user_id) for r in await uow.complaints.stale_drafts(FLOW, now, limit)]
    closed = 0
    for key in stale:
        async with db.unit_of_work() as uow:
            await uow.lock(*key)
            row = await uow.conversations.get(*key)
            if row is None or row.flow != FLOW or as_utc(row.deadline) > now:
                continue
            digest = hashlib.blake2b("\x1f".join([*key, row.deadline.isoformat()]).encode(), digest_size=16)
            await uow.outbox.enqueue(
                channel=row.channel,
                chat_id=row.chat_id,
                kind=KIND_DRAFT_CLOSED,
                payload=Reply(DRAFT_CLOSED.format(hours=hours), texts.menu_buttons()).to_dict(),
                now=now,
                dedupe_key=f"{KIND_DRAFT_CLOSED}:{digest.hexdigest()}",
            )
            await uow.conversations.clear(*key)
            await uow.commit()
            closed += 1
    if closed:
        logger.info("closed %d stale complaint drafts", closed)
    return closed
