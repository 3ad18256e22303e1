"""What staff see of a case: its card (the lead's, a copy, the former lead's) and a digest's line.

The state comes first on a card: a card sent as a photo's caption is cut at 1,024 characters when edited, and
staff scan a busy group by it. The buttons are those of the action table that apply to the card and the state.
"""

from __future__ import annotations

from typing import Any

from handlers.cases.actions import ACTIONS, AUDIT_LABELS, BY_AUDIT, CARD_HISTORY, case_payload
from handlers.cases.duplicates import reasons_text
from handlers.cases.routing import agency_name
from handlers.cases.view import CaseView, photo_paths
from handlers.cases.vocabulary import CASE_STATUS_LABELS, CardView
from handlers.clock import local
from handlers.complaints.vocabulary import PLATFORMS, area_name, category_name, contact_text, date_text, local_text
from handlers.config import Agency, AppConfig
from handlers.delivery import channel_name
from handlers.text_safety import mask_contacts
from handlers.types import Button, Reply
from storage.cases import Case, CaseAction, CaseStatus
from storage.complaints import Complaint

CARD_DESCRIPTION = 1200  # characters of the description on a card (an edited card must fit one message)
HISTORY_LINES = 4


def reporter_account(complaint: Complaint) -> str:
    channel = channel_name(complaint.channel)
    if complaint.anonymous:
        return f"Ẩn danh · {channel}"
    return f"{mask_contacts(complaint.reporter_name) or 'không tên'} · {channel}"


def contact_line(complaint: Complaint) -> str:
    """The reporter's contact on a card: masked, and saying that an anonymous report keeps none."""
    if complaint.anonymous:
        return "Ẩn danh (không lưu liên hệ)"
    return contact_text(False, complaint.phone, complaint.contact_consent, masked=True)


def history_line(action: CaseAction) -> str:
    who = action.actor_name or ("người phản ánh" if action.actor_role == "reporter" else "hệ thống")
    label = AUDIT_LABELS.get(action.action, action.action)
    done = BY_AUDIT.get(action.action)
    detail = action.after.get(done.history_detail) if done is not None and done.history_detail else None
    extra = f" → {mask_contacts(str(detail))}" if detail else ""
    return f"• {local(action.at):%H:%M %d/%m} {label}{extra} — {who}"


def card_head(config: AppConfig, case: Case, view: CardView, agency_id: str | None) -> list[str]:
    lead = agency_name(config, case.lead, names=case.names)
    if view is CardView.COPY:
        return [f"📋 BẢN SAO — PHẢN ÁNH {case.code}", f"Chủ trì: {lead}. Bản sao để nắm thông tin, phối hợp khi cần."]
    if view is CardView.FORMER:
        former = agency_name(config, agency_id or "", short=True, names=case.names)
        return [f"🔁 PHẢN ÁNH {case.code} — {former} đã chuyển cho {lead}", "Thẻ này chỉ còn để tra cứu."]
    return [f"🚨 PHẢN ÁNH {case.code} — {agency_name(config, case.lead, short=True, names=case.names)} chủ trì"]


def case_state_lines(case: Case) -> list[str]:
    lines = [f"Trạng thái: {CASE_STATUS_LABELS[case.state]}"]
    if case.assignee_name and case.open:
        lines.append(f"Phụ trách: {case.assignee_name}")
    if case.outcome and not case.open:
        label = "Kết quả" if case.state is CaseStatus.RESOLVED else "Lý do"
        lines.append(f"{label}: {case.outcome[:600]}")
    if case.open and case.ack_due is not None and case.state.unacknowledged:
        lines.append(f"Hạn tiếp nhận: {local_text(case.ack_due)}")
    if case.open and case.resolve_due is not None:
        lines.append(f"Hạn xử lý: {local_text(case.resolve_due)}")
    return lines


def card_text(
    config: AppConfig,
    case: Case,
    complaint: Complaint,
    photo_count: int,
    history: list[CaseAction],
    *,
    view: CardView,
    agency_id: str | None = None,
) -> str:
    """The text of a card; ``agency_id`` is the former lead's on its card after a transfer."""
    lines = [*card_head(config, case, view, agency_id), *case_state_lines(case)]
    where = f" ({mask_contacts(complaint.seller_where)})" if complaint.seller_where else ""
    description = mask_contacts(complaint.description)
    if len(description) > CARD_DESCRIPTION:
        description = description[:CARD_DESCRIPTION].rstrip() + "…"
    lines += [
        "━━━━━━━━━━",
        f"Loại: {category_name(config, complaint.category)}",
        f"Người bán: {mask_contacts(complaint.seller)} — {PLATFORMS.get(complaint.platform, complaint.platform)}"
        f"{where}",
        f"Sản phẩm: {mask_contacts(complaint.product)} (ngày mua: {date_text(complaint.purchase_date)})",
        f"Địa bàn: {area_name(config, complaint.area, case.names.get('area'))}",
        f"Nội dung: {description}",
    ]
    if complaint.photo_note:
        lines.append(f"Ghi chú kèm ảnh: {mask_contacts(complaint.photo_note)}")
    lines += [
        f"Ảnh: {photo_count}",
        f"Người phản ánh: {reporter_account(complaint)}",
        f"Liên hệ: {contact_line(complaint)}",
        f"Gửi lúc: {local_text(complaint.created_at)}",
    ]
    if case.copies:
        lines.append("Bản sao: " + ", ".join(agency_name(config, a, short=True, names=case.names) for a in case.copies))
    shown = [a for a in history if a.action in CARD_HISTORY][-HISTORY_LINES:]
    if shown:
        lines += ["Diễn biến:", *(history_line(a) for a in shown)]
    return "\n".join(lines)


def card_buttons(case: Case, complaint: Complaint, *, view: CardView) -> list[list[Button]]:
    """The buttons of the actions the card shows in the case's state, by row."""
    reachable = bool(complaint.phone and not complaint.anonymous)
    rows: dict[int, list[Button]] = {}
    for action in ACTIONS.values():
        if not action.button or action.card is not view or case.state not in action.statuses:
            continue
        if action.needs_contact and not reachable:
            continue
        rows.setdefault(action.row, []).append(Button(action.button, case_payload(action.code, case)))
    return [rows[row] for row in sorted(rows)]


def card_reply(
    config: AppConfig, view: CaseView, shown: CardView, *, agency_id: str | None = None, media: Any = None
) -> Reply:
    """A card of the case as a message (with the report's photos when ``media`` is given)."""
    case, complaint = view.case, view.complaint
    text = card_text(config, case, complaint, len(view.photos), view.history, view=shown, agency_id=agency_id)
    photos = photo_paths(media, view.photos) if media is not None else []
    buttons = card_buttons(case, complaint, view=shown)
    if shown is CardView.LEAD and case.open and view.duplicates:
        merges = [
            [Button(f"🔗 Gộp vào {d.other_code}", case_payload("merge", case, str(d.other_id)))]
            for d in view.duplicates
        ]
        buttons = [*buttons, *merges, [Button("✖️ Không trùng", case_payload("notdup", case))]]
    return Reply("\n".join([text, *duplicate_lines(view)]), buttons, photos)


def duplicate_lines(view: CaseView) -> list[str]:
    """The card's lines about duplicates: suggested, merged in, or merged into another case."""
    lines = []
    if view.merged_code:
        lines.append(f"🔗 Đã gộp vào {view.merged_code}: theo dõi và xử lý ở thẻ của {view.merged_code}.")
    if view.merged:
        codes = ", ".join(c.code for c, _ in view.merged[:10]) + (" …" if len(view.merged) > 10 else "")
        lines.append(f"🔗 Gộp cùng {len(view.merged)} phản ánh trùng: {codes} (mỗi người phản ánh đều được báo).")
    if view.case.open and view.duplicates:
        shown = ", ".join(f"{d.other_code} ({reasons_text(d.reasons)})" for d in view.duplicates)
        lines.append(f"⚠️ Có thể trùng: {shown}")
    return lines


def digest_line(config: AppConfig, complaint: Complaint, *, copy: bool) -> str:
    line = (
        f"{complaint.code} · {category_name(config, complaint.category)} · {mask_contacts(complaint.product)[:60]} · "
        f"{PLATFORMS.get(complaint.platform, complaint.platform)} · {area_name(config, complaint.area)} · "
        f"{local(complaint.created_at):%H:%M %d/%m}"
    )
    return line + (" (bản sao)" if copy else "")


def digest_reply(config: AppConfig, agency: Agency, entries: list[dict[str, Any]]) -> Reply:
    lines = [
        f"📚 BẢN TIN PHẢN ÁNH — {len(entries)} phản ánh mới cho {agency.short_name}",
        "Nhóm đang có nhiều tin chờ gửi nên các phản ánh được gộp lại. Bấm mã để mở thẻ đầy đủ và xử lý.",
        "",
    ]
    lines += [f"{i}. {entry['line']}" for i, entry in enumerate(entries, start=1)]
    buttons = [Button(f"📋 {entry['code']}", f"case:open:{entry['id']}") for entry in entries]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("\n".join(lines), rows)
