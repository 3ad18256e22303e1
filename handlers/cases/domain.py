"""Cases: every submitted report reaches the right agency's chat, is acted on, and its reporter hears back.

This module is the domain logic; the chat side (buttons, the text-input flow, "reply to" in a group) is in
``handlers/case_flow.py``, the background worker and the SLA job in ``bot/case_router.py``.

Decisions:

* **Routing is one transaction per submitted report.** The complaint flow leaves an outbox row on the
  pseudo-channel ``staff``; :func:`route_pending` takes each (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and,
  in one transaction, creates the case (lead agency and copies from ``handlers.cases.routing.route``, SLA due times
  from ``due_times``), writes one card row per chat of the lead agency and one copy per chat of each copy
  agency, records the audit row and marks the source row sent. A crash before the commit leaves the source
  row pending; after it, the cards are in the outbox: nothing is lost, nothing half-routed. The unique
  constraint on ``cases.complaint_id`` makes a second routing impossible.
* **Cards are edited in place.** Each card row is mapped (``case_messages``) to its case; once the sender has
  delivered it, the platform message id is copied into the mapping. A state change re-renders every card and
  copy of the case: a card still waiting in the outbox (not claimed) gets the new text in place; otherwise one
  ``case_edit`` row per card is queued (a pending one is updated, never duplicated), and the sender turns it
  into ``edit(chat_id, message_id, reply)`` — or a new message on a platform without edits (Zalo).
* **A long queue becomes digests.** When a chat already has ``cases.digest_after`` case messages waiting,
  new cases join a digest row (up to ``cases.digest_size``) that waits ``cases.digest_wait_seconds`` to
  collect more; each case in it has a button that posts its full card. 500 reports to one group at
  20 messages a minute take minutes, not 25 minutes.
* **The reporter hears from the agency, never from a person.** Replies, requests for more information and
  status changes go to the reporter's chat through the outbox, signed with the agency's name; every status
  change is also a public history event (``/tracuu``). The staff member's name stays in the audit trail.
* **A reporter who cannot be reached is not left waiting in silence.** When a message to the reporter fails
  for good (Zalo OA -230/-232: outside the OA's 7-day window; the bot blocked; attempts run out), the outbox
  sender calls :func:`reporter_unreachable` in the transaction that marks the row failed: the lead agency's
  chats get one message per failed row (a dedupe key on the row id) with the masked contact, so staff call
  the reporter instead.
* **SLA steps happen once.** ``case_sla_marks`` has a unique (case, epoch, step); on PostgreSQL an advisory
  lock per case serialises processes, and every outbox row carries a dedupe key. A transfer starts a new
  epoch with new due times.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.cases.routing import due_times, route
from handlers.clock import as_utc, local
from handlers.complaints.flow import (
    KIND_SUBMITTED,
    KIND_UPDATED,
    PLATFORMS,
    STAFF_CHANNEL,
    area_name,
    category_name,
    date_text,
    local_text,
)
from handlers.config import Agency, AppConfig
from handlers.phone import format_phone, mask_phone
from handlers.staff import lead_agency_for_questions
from handlers.types import Button, Reply
from storage.cases import Case, CaseAction, CaseMessage, CaseStatus, MessageKind, SlaStep
from storage.complaints import Complaint, ComplaintEvent, ComplaintPhoto, ComplaintStatus
from storage.db import Database, UnitOfWork
from storage.models import OutboxMessage, OutboxStatus
from storage.outbox import FailureCause, Undelivered
from storage.staff import StaffMember

logger = logging.getLogger(__name__)

# Outbox kinds of this module.
KIND_CARD = "case_card"
KIND_COPY = "case_copy"
KIND_DIGEST = "case_digest"
KIND_EDIT = "case_edit"
KIND_RELAY = "case_relay"
KIND_NOTICE = "case_notice"  # to the reporter
KIND_REMINDER = "case_reminder"
KIND_ESCALATION = "case_escalation"
KIND_CONTACT = "case_contact"  # a contact sent privately to the staff member who asked (no alerts there)
KIND_UNREACHABLE = "case_unreachable"  # to the lead agency: a message to the reporter did not get through
QUEUED_KINDS = (
    KIND_CARD,
    KIND_COPY,
    KIND_DIGEST,
    KIND_EDIT,
    KIND_RELAY,
    KIND_REMINDER,
    KIND_ESCALATION,
    KIND_UNREACHABLE,
)
MAX_ROUTING_ATTEMPTS = 5
CARD_DESCRIPTION = 1200  # characters of the description on a card (an edited card must fit one message)
HISTORY_LINES = 4

CHANNEL_NAMES = {"telegram": "Telegram", "zalo_bot": "Zalo", "zalo_oa": "Zalo OA", "console": "console"}
STATUS_LABELS = {
    CaseStatus.NEW: "🆕 Mới — chờ tiếp nhận",
    CaseStatus.ACKNOWLEDGED: "📥 Đã tiếp nhận",
    CaseStatus.IN_PROGRESS: "🔎 Đang xử lý",
    CaseStatus.WAITING: "⏳ Chờ người phản ánh bổ sung",
    CaseStatus.RESOLVED: "✅ Đã hoàn tất",
    CaseStatus.REJECTED: "⛔ Đã từ chối",
    CaseStatus.TRANSFERRED: "🔁 Được chuyển đến — chờ tiếp nhận",
}
ACTION_LABELS = {
    "routed": "Chuyển tới cơ quan chủ trì",
    "ack": "Tiếp nhận",
    "take": "Nhận xử lý",
    "assign": "Phân công",
    "transfer": "Chuyển cơ quan",
    "more": "Yêu cầu bổ sung",
    "reply": "Trả lời người phản ánh",
    "resolve": "Hoàn tất",
    "reject": "Từ chối",
    "reporter_added": "Người phản ánh bổ sung",
    "copy_seen": "Đã nắm thông tin (bản sao)",
    "contact_viewed": "Xem liên hệ",
    "contact_exported": "Xuất gói chứng cứ kèm liên hệ",
    "reporter_unreachable": "Không gửi được tin tới người phản ánh",
    "sla_ack_reminder": "Nhắc quá hạn tiếp nhận",
    "sla_ack_escalation": "Báo lãnh đạo: quá hạn tiếp nhận",
    "sla_resolve_escalation": "Báo lãnh đạo: quá hạn xử lý",
}
CARD_HISTORY = frozenset(
    {"ack", "take", "assign", "transfer", "more", "reply", "resolve", "reject", "reporter_added", "copy_seen"}
)


class CaseError(Exception):
    """An action that cannot be done on the case as it is; the message is for the staff member (Vietnamese)."""


# ----------------------------------------------------------------------------------------------------------
# Configuration helpers
# ----------------------------------------------------------------------------------------------------------


def agency_name(config: AppConfig, agency_id: str, *, short: bool = False) -> str:
    agency = config.agency(agency_id)
    if agency is None:
        return agency_id
    return agency.short_name if short else agency.name


def coordinator(config: AppConfig) -> Agency:
    """The agency that coordinates (gets escalations): ``cases.coordinator``, else the merchant-question lead."""
    if config.cases.coordinator:
        agency = config.agency(config.cases.coordinator)
        if agency is not None:
            return agency
    return lead_agency_for_questions(config)


def agency_chats(config: AppConfig, agency_id: str) -> list[tuple[str, str]]:
    agency = config.agency(agency_id)
    if agency is None:
        return []
    return [(channel, str(chat)) for channel, chats in agency.chats.items() for chat in chats]


def agency_for_chat(config: AppConfig, channel: str, chat_id: str) -> Agency | None:
    return next((a for a in config.agencies if chat_id in a.chats.get(channel, [])), None)


def is_staff_chat(config: AppConfig, channel: str, chat_id: str) -> bool:
    return agency_for_chat(config, channel, chat_id) is not None


def photo_paths(media: Any, photos: list[ComplaintPhoto], *, source: str | None = "report") -> list[str]:
    """Paths of the stored photos (those still in the media store), in the order they were received."""
    if media is None:
        return []
    chosen = [p for p in photos if source is None or p.source == source]
    return [str(media.path(p.sha256)) for p in chosen if media.exists(p.sha256)][:10]


# ----------------------------------------------------------------------------------------------------------
# SLA steps
# ----------------------------------------------------------------------------------------------------------


def sla_steps(case: Case, config: AppConfig) -> list[tuple[SlaStep, datetime]]:
    """The SLA steps that apply to the case as it is now, with when each is due."""
    if not case.open:
        return []
    margin = timedelta(hours=config.cases.escalate_after_hours)
    steps: list[tuple[SlaStep, datetime]] = []
    if case.state.unacknowledged and case.ack_due is not None:
        ack_due = as_utc(case.ack_due)
        steps += [(SlaStep.ACK_REMINDER, ack_due), (SlaStep.ACK_ESCALATION, ack_due + margin)]
    if case.resolve_due is not None:
        steps.append((SlaStep.RESOLVE_ESCALATION, as_utc(case.resolve_due)))
    return steps


def next_sla_at(case: Case, done: set[str], config: AppConfig) -> datetime | None:
    pending = [at for step, at in sla_steps(case, config) if step.value not in done]
    return min(pending) if pending else None


# ----------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------


def reporter_account(complaint: Complaint) -> str:
    channel = CHANNEL_NAMES.get(complaint.channel, complaint.channel)
    if complaint.anonymous:
        return f"Ẩn danh · {channel}"
    return f"{complaint.reporter_name or 'không tên'} · {channel}"


def contact_line(complaint: Complaint) -> str:
    if complaint.anonymous:
        return "Ẩn danh (không lưu liên hệ)"
    if not complaint.phone:
        return "Không để lại số điện thoại"
    consent = "đồng ý" if complaint.contact_consent else "không đồng ý"
    return f"{mask_phone(complaint.phone)} ({consent} để cán bộ liên hệ)"


def history_line(action: CaseAction) -> str:
    who = action.actor_name or ("người phản ánh" if action.actor_role == "reporter" else "hệ thống")
    label = ACTION_LABELS.get(action.action, action.action)
    extra = ""
    if action.action == "transfer":
        extra = f" → {action.after.get('lead')}"
    elif action.action == "assign" and action.after.get("assignee"):
        extra = f" → {action.after['assignee']}"
    return f"• {local(action.at):%H:%M %d/%m} {label}{extra} — {who}"


def card_text(
    config: AppConfig,
    case: Case,
    complaint: Complaint,
    photo_count: int,
    history: list[CaseAction],
    *,
    view: str,
    agency_id: str | None = None,
) -> str:
    """The text of a card: ``view`` is ``lead`` (the lead's card), ``copy`` (BẢN SAO) or ``former`` (the old
    lead's card after a transfer). The state comes first: a card sent as a photo's caption is cut at 1,024
    characters when edited, and staff scan a busy group by it."""
    lead = agency_name(config, case.lead)
    if view == "copy":
        head = [f"📋 BẢN SAO — PHẢN ÁNH {case.code}", f"Chủ trì: {lead}. Bản sao để nắm thông tin, phối hợp khi cần."]
    elif view == "former":
        former = agency_name(config, agency_id or "", short=True)
        head = [f"🔁 PHẢN ÁNH {case.code} — {former} đã chuyển cho {lead}", "Thẻ này chỉ còn để tra cứu."]
    else:
        head = [f"🚨 PHẢN ÁNH {case.code} — {agency_name(config, case.lead, short=True)} chủ trì"]
    lines = [*head, f"Trạng thái: {STATUS_LABELS[case.state]}"]
    if case.assignee_name and case.open:
        lines.append(f"Phụ trách: {case.assignee_name}")
    if case.outcome and not case.open:
        label = "Kết quả" if case.state is CaseStatus.RESOLVED else "Lý do"
        lines.append(f"{label}: {case.outcome[:600]}")
    if case.open and case.ack_due is not None and case.state.unacknowledged:
        lines.append(f"Hạn tiếp nhận: {local_text(case.ack_due)}")
    if case.open and case.resolve_due is not None:
        lines.append(f"Hạn xử lý: {local_text(case.resolve_due)}")
    where = f" ({complaint.seller_where})" if complaint.seller_where else ""
    description = complaint.description
    if len(description) > CARD_DESCRIPTION:
        description = description[:CARD_DESCRIPTION].rstrip() + "…"
    lines += [
        "━━━━━━━━━━",
        f"Loại: {category_name(config, complaint.category)}",
        f"Người bán: {complaint.seller} — {PLATFORMS.get(complaint.platform, complaint.platform)}{where}",
        f"Sản phẩm: {complaint.product} (ngày mua: {date_text(complaint.purchase_date)})",
        f"Địa bàn: {area_name(config, complaint.area)}",
        f"Nội dung: {description}",
    ]
    if complaint.photo_note:
        lines.append(f"Ghi chú kèm ảnh: {complaint.photo_note}")
    lines += [
        f"Ảnh: {photo_count}",
        f"Người phản ánh: {reporter_account(complaint)}",
        f"Liên hệ: {contact_line(complaint)}",
        f"Gửi lúc: {local_text(complaint.created_at)}",
    ]
    if case.copies:
        lines.append("Bản sao: " + ", ".join(agency_name(config, a, short=True) for a in case.copies))
    shown = [a for a in history if a.action in CARD_HISTORY][-HISTORY_LINES:]
    if shown:
        lines += ["Diễn biến:", *(history_line(a) for a in shown)]
    return "\n".join(lines)


def _b(label: str, action: str, case: Case, extra: str = "") -> Button:
    return Button(label, f"case:{action}:{case.id}" + (f":{extra}" if extra else ""))


def card_buttons(case: Case, complaint: Complaint, *, view: str) -> list[list[Button]]:
    if view == "former":
        return []
    if view == "copy":
        return [[_b("👀 Đã nắm thông tin", "seen", case)]] if case.open else []
    rows: list[list[Button]] = []
    if case.open:
        first = [_b("📥 Tiếp nhận", "ack", case)] if case.state.unacknowledged else []
        first.append(_b("🙋 Nhận xử lý", "take", case))
        rows += [
            first,
            [_b("👥 Phân công", "assign", case), _b("🔁 Chuyển cơ quan", "xfer", case)],
            [_b("📝 Yêu cầu bổ sung", "more", case), _b("💬 Trả lời người phản ánh", "reply", case)],
            [_b("✅ Hoàn tất", "done", case), _b("⛔ Từ chối", "rej", case)],
        ]
    if complaint.phone and not complaint.anonymous:
        rows.append([_b("📞 Xem liên hệ", "contact", case)])
    return rows


@dataclass
class CaseView:
    """What rendering a case needs, loaded once per change."""

    case: Case
    complaint: Complaint
    photos: list[ComplaintPhoto]
    history: list[CaseAction]

    def card(self, config: AppConfig, view: str, agency_id: str | None = None, media: Any = None) -> Reply:
        text = card_text(
            config, self.case, self.complaint, len(self.photos), self.history, view=view, agency_id=agency_id
        )
        photos = photo_paths(media, self.photos) if media is not None else []
        return Reply(text, card_buttons(self.case, self.complaint, view=view), photos)


async def load_view(uow: UnitOfWork, case: Case, complaint: Complaint | None = None) -> CaseView:
    if complaint is None:
        complaint = await uow.complaints.get(case.code)
        if complaint is None:
            raise CaseError(f"Không tìm thấy phản ánh {case.code}.")
    assert complaint.id is not None and case.id is not None
    photos = await uow.complaints.photos(complaint.id)
    history = await uow.cases.actions(case.id)
    return CaseView(case, complaint, photos, history)


def digest_line(config: AppConfig, complaint: Complaint, *, copy: bool) -> str:
    line = (
        f"{complaint.code} · {category_name(config, complaint.category)} · {complaint.product[:60]} · "
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


# ----------------------------------------------------------------------------------------------------------
# Posting to agency chats
# ----------------------------------------------------------------------------------------------------------


async def post_card(
    uow: UnitOfWork,
    config: AppConfig,
    media: Any,
    view: CaseView,
    agency: Agency,
    channel: str,
    chat_id: str,
    now: datetime,
    *,
    copy: bool,
    allow_digest: bool = True,
) -> OutboxMessage | None:
    """Queue the case's card (or copy) for one chat; join a digest instead when the chat's queue is long."""
    case = view.case
    assert case.id is not None
    kind = KIND_COPY if copy else KIND_CARD
    if allow_digest:
        queued = await uow.cases.queued_for_chat(channel, chat_id, QUEUED_KINDS)
        if queued >= config.cases.digest_after:
            return await add_to_digest(uow, config, view, agency, channel, chat_id, now, copy=copy)
    reply = view.card(config, "copy" if copy else "lead", media=media)
    row = await uow.outbox.enqueue(
        channel=channel,
        chat_id=chat_id,
        kind=kind,
        payload=reply.to_dict() | {"case_id": case.id},
        now=now,
        ref=case.code,
    )
    assert row is not None and row.id is not None
    await uow.cases.add_message(
        case.id,
        MessageKind.COPY if copy else MessageKind.CARD,
        channel=channel,
        chat_id=chat_id,
        outbox_id=row.id,
        agency=agency.id,
        now=now,
    )
    return row


async def add_to_digest(
    uow: UnitOfWork,
    config: AppConfig,
    view: CaseView,
    agency: Agency,
    channel: str,
    chat_id: str,
    now: datetime,
    *,
    copy: bool,
) -> OutboxMessage:
    """Put the case into the chat's digest still collecting (or start one that waits to collect more)."""
    case = view.case
    assert case.id is not None
    entry = {"id": case.id, "code": case.code, "line": digest_line(config, view.complaint, copy=copy)}
    row = await uow.cases.open_digest(channel, chat_id, KIND_DIGEST, now)
    if row is not None and len(row.payload.get("digest", [])) < config.cases.digest_size:
        entries = [*row.payload["digest"], entry]
        uow.cases.set_payload(row, digest_reply(config, agency, entries).to_dict() | {"digest": entries})
    else:
        entries = [entry]
        row = await uow.outbox.enqueue(
            channel=channel,
            chat_id=chat_id,
            kind=KIND_DIGEST,
            payload=digest_reply(config, agency, entries).to_dict() | {"digest": entries},
            now=now,
            not_before=now + timedelta(seconds=config.cases.digest_wait_seconds),
            ref=f"digest:{agency.id}",
        )
        assert row is not None
    assert row.id is not None
    await uow.cases.add_message(
        case.id, MessageKind.DIGEST, channel=channel, chat_id=chat_id, outbox_id=row.id, agency=agency.id, now=now
    )
    return row


async def card_row_for(uow: UnitOfWork, case: Case, channel: str, chat_id: str) -> int | None:
    """The outbox row of the newest card (or digest) of the case in this chat: what a relay answers."""
    assert case.id is not None
    rows = await uow.cases.messages(case.id, [MessageKind.CARD, MessageKind.COPY, MessageKind.DIGEST])
    mine = [m for m in rows if m.channel == channel and m.chat_id == chat_id]
    return mine[-1].outbox_id if mine else None


async def post_to_chats(
    uow: UnitOfWork,
    case: Case,
    chats: list[tuple[str, str]],
    reply: Reply,
    *,
    kind: str,
    message_kind: MessageKind,
    now: datetime,
    dedupe: str | None = None,
    agency: str | None = None,
) -> int:
    """Queue ``reply`` for each chat, answering the case's card there when there is one; map each message."""
    assert case.id is not None
    queued = 0
    for channel, chat_id in dict.fromkeys(chats):
        payload = reply.to_dict() | {"case_id": case.id}
        card = await card_row_for(uow, case, channel, chat_id)
        if card is not None:
            payload["reply_to_row"] = card
        row = await uow.outbox.enqueue(
            channel=channel,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            now=now,
            dedupe_key=f"{dedupe}:{channel}:{chat_id}" if dedupe else None,
            ref=case.code,
        )
        if row is None:
            continue
        assert row.id is not None
        await uow.cases.add_message(
            case.id, message_kind, channel=channel, chat_id=chat_id, outbox_id=row.id, agency=agency, now=now
        )
        queued += 1
    return queued


async def refresh_cards(uow: UnitOfWork, config: AppConfig, view: CaseView, now: datetime) -> int:
    """Show the case's current state on every card and copy: in place if not sent yet, else by an edit."""
    case = view.case
    assert case.id is not None
    view.history = await uow.cases.actions(case.id)
    edits = 0
    for message in await uow.cases.messages(case.id, [MessageKind.CARD, MessageKind.COPY]):
        if message.kind == MessageKind.COPY.value:
            shown = "copy"
        else:
            shown = "lead" if message.agency == case.lead else "former"
        reply = view.card(config, shown, agency_id=message.agency)
        edits += await update_message(uow, message, reply, case.code, now)
    return edits


async def update_message(uow: UnitOfWork, message: CaseMessage, reply: Reply, ref: str, now: datetime) -> int:
    target = await uow.cases.outbox_row(message.outbox_id)
    if target is None:
        return 0
    body = {"text": reply.text, "buttons": reply.to_dict()["buttons"]}
    if target.status == OutboxStatus.PENDING.value:
        # Not on its way yet: it will go out showing the new state. (A conditional update, not a row lock: a
        # sender that claimed it meanwhile wins, and the change goes out as an edit below.)
        if await uow.cases.replace_if_unclaimed(target.id, {**target.payload, **body}, now):
            return 0
    elif target.status != OutboxStatus.SENT.value:
        return 0  # never delivered (failed): nothing to edit
    for edit in await uow.cases.pending_edits(ref, KIND_EDIT, now):
        if edit.payload.get("edit_of") == target.id:
            uow.cases.set_payload(edit, {**edit.payload, **body})
            return 0
    await uow.outbox.enqueue(
        channel=message.channel,
        chat_id=message.chat_id,
        kind=KIND_EDIT,
        payload=Reply(reply.text, reply.buttons).to_dict() | {"edit_of": target.id, "case_id": message.case_id},
        now=now,
        ref=ref,
    )
    return 1


# ----------------------------------------------------------------------------------------------------------
# Routing (the staff pseudo-channel)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class RouteStats:
    routed: int = 0
    relayed: int = 0
    deferred: int = 0
    failed: int = 0
    cases: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.routed + self.relayed + self.failed


class Deferred(Exception):
    """The row cannot be handled yet (its case is not routed yet); try again later."""


async def open_case(uow: UnitOfWork, config: AppConfig, media: Any, source: OutboxMessage, now: datetime) -> Case:
    """Create the case of a submitted complaint and queue its cards (idempotent: an existing case is returned)."""
    code = source.ref or (source.payload.get("complaint") or {}).get("code")
    complaint = await uow.complaints.get(code) if code else None
    if complaint is None or complaint.id is None:
        raise CaseError(f"no complaint {code!r} for staff row {source.id}")
    existing = await uow.cases.by_complaint(complaint.id)
    if existing is not None:
        return existing
    decided = route(config, kind="consumer_report", category=complaint.category, area=complaint.area)
    due = due_times(config, complaint.category, as_utc(complaint.created_at))
    case = Case(
        complaint_id=complaint.id,
        code=complaint.code,
        lead=decided.lead,
        copies=list(decided.copies),
        status=CaseStatus.NEW.value,
        ack_due=due[0] if due else None,
        resolve_due=due[1] if due else None,
        created_at=now,
        updated_at=now,
    )
    case.sla_next_at = next_sla_at(case, set(), config)
    await uow.cases.add(case)
    copies = ", ".join(agency_name(config, a, short=True) for a in case.copies) or "không"
    await uow.cases.record(
        case, "routed", now, before={}, note=f"Chủ trì: {agency_name(config, case.lead)}; bản sao: {copies}"
    )
    view = await load_view(uow, case, complaint)
    await post_cards(uow, config, media, view, now)
    return case


async def post_cards(uow: UnitOfWork, config: AppConfig, media: Any, view: CaseView, now: datetime) -> int:
    case = view.case
    posted = 0
    lead = config.agency(case.lead)
    if lead is not None:
        for channel, chat_id in agency_chats(config, lead.id):
            await post_card(uow, config, media, view, lead, channel, chat_id, now, copy=False)
            posted += 1
        if not lead.chats:
            logger.warning("case %s: the lead agency %s has no staff chat configured", case.code, lead.id)
    for agency_id in case.copies:
        agency = config.agency(agency_id)
        if agency is None:
            continue
        for channel, chat_id in agency_chats(config, agency.id):
            await post_card(uow, config, media, view, agency, channel, chat_id, now, copy=True)
            posted += 1
    return posted


async def relay_update(uow: UnitOfWork, config: AppConfig, media: Any, source: OutboxMessage, now: datetime) -> int:
    """Relay the reporter's addition (text, photos) to the lead agency's chats, answering the card there."""
    info = source.payload.get("complaint") or {}
    code = source.ref or info.get("code")
    found = await uow.cases.by_code(code) if code else None
    case = await uow.cases.get(found.id, for_update=True) if found is not None and found.id is not None else None
    if case is None:
        raise Deferred(code)
    view = await load_view(uow, case)
    wanted = set(info.get("photos") or [])
    photos = [p for p in view.photos if p.sha256 in wanted]
    lines = [f"➕ {case.code} — người phản ánh bổ sung {('ảnh' if photos and not info.get('detail') else 'thông tin')}"]
    if info.get("detail"):
        lines.append(str(info["detail"]))
    elif photos:
        lines.append(f"({len(photos)} ảnh)")
    reply = Reply("\n".join(lines), photos=photo_paths(media, photos, source=None))
    before = case.snapshot()
    if case.state is CaseStatus.WAITING:
        case.status = CaseStatus.IN_PROGRESS.value
        case.updated_at = now
    await uow.cases.record(case, "reporter_added", now, before=before, role="reporter", note=info.get("note"))
    queued = await post_to_chats(
        uow,
        case,
        agency_chats(config, case.lead),
        reply,
        kind=KIND_RELAY,
        message_kind=MessageKind.RELAY,
        now=now,
        agency=case.lead,
    )
    await refresh_cards(uow, config, view, now)
    return queued


async def route_pending(
    db: Database, config: AppConfig, now: datetime, *, media: Any = None, limit: int = 200
) -> RouteStats:
    """Turn pending rows of the ``staff`` pseudo-channel into cases, cards and relays; one transaction each."""
    stats = RouteStats()
    async with db.unit_of_work() as uow:
        ids = await uow.cases.pending_ids(STAFF_CHANNEL, now, limit)
    for row_id in ids:
        # On SQLite a transaction never waits, so without this a burst of routings would hold the event loop
        # (and every reply and delivery on it) until the last one is done.
        await asyncio.sleep(0)
        try:
            async with db.unit_of_work() as uow:
                source = await uow.cases.outbox_row(row_id, lock=True, skip_locked=True)
                if source is None or source.status != OutboxStatus.PENDING.value:
                    continue  # another process has it
                if source.kind == KIND_SUBMITTED:
                    case = await open_case(uow, config, media, source, now)
                    stats.routed += 1
                    stats.cases.append(case.code)
                elif source.kind == KIND_UPDATED:
                    await relay_update(uow, config, media, source, now)
                    stats.relayed += 1
                else:
                    raise CaseError(f"unknown staff row kind {source.kind!r}")
                await uow.outbox.mark_sent(row_id, now)
                await uow.commit()
        except Deferred:
            stats.deferred += 1
            await _retry_later(db, row_id, now, "its case is not routed yet", seconds=5)
        except IntegrityError:
            # Another process routed it first (the unique case per complaint) and marked the row; if not, the
            # row comes back later like any other failure.
            logger.info("staff row %s: routed concurrently elsewhere", row_id)
            stats.failed += await _retry_later(db, row_id, now, "conflict with a concurrent routing", seconds=5)
        except Exception as exc:  # a bad row must not stop the others
            logger.exception("staff row %s could not be routed", row_id)
            stats.failed += await _retry_later(db, row_id, now, f"{type(exc).__name__}: {exc}", seconds=30)
    if stats.handled or stats.deferred:
        logger.info(
            "cases: %d routed, %d additions relayed, %d deferred, %d failed",
            stats.routed,
            stats.relayed,
            stats.deferred,
            stats.failed,
        )
    return stats


async def _retry_later(db: Database, row_id: int, now: datetime, reason: str, *, seconds: float) -> int:
    """Put a staff row back for later; after MAX_ROUTING_ATTEMPTS it fails for good (returns 1 then)."""
    async with db.unit_of_work() as uow:
        row = await uow.cases.outbox_row(row_id, lock=True)
        if row is None or row.status != OutboxStatus.PENDING.value:
            return 0
        row.attempts += 1
        permanent = row.attempts >= MAX_ROUTING_ATTEMPTS and not reason.startswith("its case")
        await uow.outbox.mark_failed(
            row_id, reason, permanent=permanent, retry_at=now + timedelta(seconds=seconds * row.attempts)
        )
        await uow.commit()
    return 1 if permanent else 0


# ----------------------------------------------------------------------------------------------------------
# The reporter's side
# ----------------------------------------------------------------------------------------------------------


def track_buttons(code: str, *, add: bool = False) -> list[list[Button]]:
    rows = [[Button("➕ Bổ sung thông tin / ảnh", f"track:add:{code}")]] if add else []
    return [*rows, [Button("🔎 Xem trạng thái", f"track:view:{code}")]]


async def notify_reporter(
    uow: UnitOfWork, complaint: Complaint, text: str, now: datetime, *, add: bool = False
) -> None:
    await uow.outbox.enqueue(
        channel=complaint.channel,
        chat_id=complaint.chat_id,
        kind=KIND_NOTICE,
        payload=Reply(text, track_buttons(complaint.code, add=add)).to_dict(),
        now=now,
        ref=complaint.code,
    )


async def public_event(
    uow: UnitOfWork,
    complaint: Complaint,
    now: datetime,
    note: str,
    *,
    status: ComplaintStatus | None = None,
    kind: str = "status",
    detail: str | None = None,
) -> None:
    """A line of the complaint's public history (``/tracuu``), changing its public status when given."""
    if status is not None:
        event = await uow.complaints.set_status(complaint, status, note, now, actor="staff")
        event.detail = detail
        return
    await uow.complaints.add_event(
        complaint, ComplaintEvent(at=now, kind=kind, note=note[:500], detail=detail, actor="staff")
    )


# ----------------------------------------------------------------------------------------------------------
# Actions (called by the chat handlers with the case locked; the caller checked the actor may act)
# ----------------------------------------------------------------------------------------------------------


def _require_open(case: Case) -> None:
    if not case.open:
        raise CaseError(f"Phản ánh {case.code} đã đóng ({STATUS_LABELS[case.state]}).")


def _set_status(case: Case, status: CaseStatus, now: datetime) -> None:
    previous = case.state
    case.status = status.value
    case.updated_at = now
    if previous.unacknowledged and not status.unacknowledged and case.acknowledged_at is None:
        case.acknowledged_at = now
    if not status.is_open:
        case.closed_at = now


async def _after(uow: UnitOfWork, config: AppConfig, view: CaseView, now: datetime) -> None:
    case = view.case
    assert case.id is not None
    done = await uow.cases.sla_marks(case.id, case.sla_epoch)
    case.sla_next_at = next_sla_at(case, done, config)
    await refresh_cards(uow, config, view, now)


async def acknowledge(
    uow: UnitOfWork, config: AppConfig, view: CaseView, member: StaffMember, now: datetime, *, refresh: bool = True
) -> str:
    case, complaint = view.case, view.complaint
    _require_open(case)
    if not case.state.unacknowledged:
        return f"Phản ánh {case.code} đã được tiếp nhận trước đó."
    before = case.snapshot()
    _set_status(case, CaseStatus.ACKNOWLEDGED, now)
    await uow.cases.record(case, "ack", now, before=before, actor=member)
    name = agency_name(config, case.lead)
    await public_event(uow, complaint, now, f"Đã được {name} tiếp nhận", status=ComplaintStatus.ACKNOWLEDGED)
    await notify_reporter(
        uow,
        complaint,
        f"📬 Phản ánh {case.code} của bạn đã được {name} tiếp nhận. Cán bộ sẽ xác minh và báo kết quả cho bạn "
        "qua tin nhắn này.",
        now,
    )
    if refresh:
        await _after(uow, config, view, now)
    return f"📥 Đã tiếp nhận {case.code}."


async def take(
    uow: UnitOfWork,
    config: AppConfig,
    view: CaseView,
    member: StaffMember,
    now: datetime,
    *,
    assignee: StaffMember | None = None,
) -> str:
    """Nhận xử lý (``assignee`` None: the member takes it) or Phân công (to ``assignee``)."""
    case, complaint = view.case, view.complaint
    _require_open(case)
    person = assignee or member
    before = case.snapshot()
    previous = case.state
    case.assignee_channel, case.assignee_user_id, case.assignee_name = person.channel, person.user_id, person.name
    case.updated_at = now
    if previous in (CaseStatus.NEW, CaseStatus.TRANSFERRED, CaseStatus.ACKNOWLEDGED):
        _set_status(case, CaseStatus.IN_PROGRESS, now)
    await uow.cases.record(case, "assign" if assignee else "take", now, before=before, actor=member)
    if previous is not case.state:
        name = agency_name(config, case.lead)
        taken = "đã được tiếp nhận và " if previous.unacknowledged else ""
        await public_event(uow, complaint, now, f"{name} đang xác minh, xử lý", status=ComplaintStatus.IN_PROGRESS)
        await notify_reporter(
            uow, complaint, f"🔎 Phản ánh {case.code} của bạn {taken}đang được {name} xác minh, xử lý.", now
        )
    await _after(uow, config, view, now)
    if assignee is not None:
        return f"👥 Đã phân công {case.code} cho {person.name}."
    return f"🙋 {member.name} nhận xử lý {case.code}."


async def request_more(
    uow: UnitOfWork, config: AppConfig, view: CaseView, member: StaffMember, text: str, now: datetime
) -> str:
    case, complaint = view.case, view.complaint
    _require_open(case)
    if case.state.unacknowledged:
        await acknowledge(uow, config, view, member, now, refresh=False)
    before = case.snapshot()
    _set_status(case, CaseStatus.WAITING, now)
    await uow.cases.record(case, "more", now, before=before, actor=member, note=text)
    name = agency_name(config, case.lead)
    note = f"{name} đề nghị bổ sung thông tin"
    if complaint.status in (ComplaintStatus.SUBMITTED.value, ComplaintStatus.ACKNOWLEDGED.value):
        await public_event(uow, complaint, now, note, status=ComplaintStatus.IN_PROGRESS, detail=text)
    else:
        await public_event(uow, complaint, now, note, kind="info_requested", detail=text)
    await notify_reporter(
        uow,
        complaint,
        f"📝 {name} đề nghị bạn bổ sung thông tin cho phản ánh {case.code}:\n«{text}»\n\n"
        "Bạn bấm «Bổ sung thông tin / ảnh» để gửi thêm (gõ tin nhắn hoặc gửi ảnh).",
        now,
        add=True,
    )
    await _after(uow, config, view, now)
    return f"📝 Đã gửi yêu cầu bổ sung cho người phản ánh {case.code}."


async def reply_reporter(
    uow: UnitOfWork, config: AppConfig, view: CaseView, member: StaffMember, text: str, now: datetime
) -> str:
    case, complaint = view.case, view.complaint
    _require_open(case)
    if case.state.unacknowledged:
        await acknowledge(uow, config, view, member, now, refresh=False)
    await uow.cases.record(case, "reply", now, actor=member, note=text)
    name = agency_name(config, case.lead)
    await public_event(uow, complaint, now, f"{name} đã trả lời", kind="staff_reply", detail=text)
    await notify_reporter(uow, complaint, f"💬 {name} trả lời về phản ánh {case.code} của bạn:\n{text}", now)
    await _after(uow, config, view, now)
    return f"💬 Đã gửi trả lời tới người phản ánh {case.code} (dưới tên {agency_name(config, case.lead, short=True)})."


async def close(
    uow: UnitOfWork, config: AppConfig, view: CaseView, member: StaffMember, text: str, now: datetime, *, resolved: bool
) -> str:
    """Hoàn tất (with the outcome) or Từ chối (with the reason)."""
    case, complaint = view.case, view.complaint
    _require_open(case)
    before = case.snapshot()
    _set_status(case, CaseStatus.RESOLVED if resolved else CaseStatus.REJECTED, now)
    case.outcome = text
    await uow.cases.record(case, "resolve" if resolved else "reject", now, before=before, actor=member, note=text)
    name = agency_name(config, case.lead)
    if resolved:
        await public_event(uow, complaint, now, f"{name} đã xử lý xong", status=ComplaintStatus.RESOLVED, detail=text)
        message = (
            f"✅ Phản ánh {case.code} của bạn đã được {name} xử lý xong.\nKết quả: {text}\n"
            "Cảm ơn bạn đã góp phần bảo vệ quyền lợi người tiêu dùng!"
        )
    else:
        await public_event(
            uow, complaint, now, f"{name} đã đóng phản ánh", status=ComplaintStatus.REJECTED, detail=text
        )
        message = (
            f"Phản ánh {case.code} của bạn đã được {name} xem xét và đóng lại.\nLý do: {text}\n"
            "Nếu có thêm bằng chứng, bạn có thể gửi phản ánh mới bằng /phananh hoặc gọi Tổng đài tư vấn người "
            "tiêu dùng 1800 6838 (miễn phí)."
        )
    await notify_reporter(uow, complaint, message, now)
    await _after(uow, config, view, now)
    return f"{'✅ Đã hoàn tất' if resolved else '⛔ Đã từ chối'} {case.code}; người phản ánh đã được báo."


async def transfer(
    uow: UnitOfWork,
    config: AppConfig,
    media: Any,
    view: CaseView,
    member: StaffMember,
    agency_id: str,
    reason: str | None,
    now: datetime,
) -> str:
    case, complaint = view.case, view.complaint
    _require_open(case)
    target = config.agency(agency_id)
    if target is None:
        raise CaseError(f"Không có cơ quan «{agency_id}».")
    if target.id == case.lead:
        raise CaseError(f"{target.short_name} đang chủ trì {case.code} rồi.")
    before = case.snapshot()
    old = case.lead
    case.lead = target.id
    case.copies = [a for a in case.copies if a != target.id]
    case.assignee_channel = case.assignee_user_id = case.assignee_name = None
    _set_status(case, CaseStatus.TRANSFERRED, now)
    case.acknowledged_at = None
    case.sla_epoch += 1
    due = due_times(config, complaint.category, now)
    case.ack_due, case.resolve_due = (due[0], due[1]) if due else (None, None)
    note = f"{agency_name(config, old)} → {target.name}" + (f". Lý do: {reason}" if reason else "")
    await uow.cases.record(case, "transfer", now, before=before, actor=member, note=note)
    await public_event(
        uow,
        complaint,
        now,
        f"Được chuyển tới {target.name} để xử lý theo thẩm quyền",
        status=ComplaintStatus.SUBMITTED,
    )
    await notify_reporter(
        uow,
        complaint,
        f"🔁 Phản ánh {case.code} của bạn đã được chuyển tới {target.name} để xử lý theo đúng thẩm quyền. "
        "Bạn sẽ nhận được thông báo khi cơ quan này tiếp nhận.",
        now,
    )
    await _after(uow, config, view, now)  # the old lead's card now says where it went
    for channel, chat_id in agency_chats(config, target.id):
        await post_card(uow, config, media, view, target, channel, chat_id, now, copy=False)
    return f"🔁 Đã chuyển {case.code} cho {target.name}."


async def copy_seen(uow: UnitOfWork, config: AppConfig, view: CaseView, member: StaffMember, now: datetime) -> str:
    await uow.cases.record(view.case, "copy_seen", now, actor=member)
    await _after(uow, config, view, now)
    return f"👀 {agency_name(config, member.agency, short=True)} đã nắm thông tin {view.case.code}."


def contact_text(complaint: Complaint) -> str:
    if complaint.anonymous or not complaint.phone:
        return f"{complaint.code}: phản ánh ẩn danh hoặc không để lại số điện thoại."
    name = f" ({complaint.reporter_name})" if complaint.reporter_name else ""
    return (
        f"📞 {complaint.code}: {format_phone(complaint.phone)}{name}. Chỉ dùng để xác minh phản ánh này; "
        "lượt xem đã được ghi lại."
    )


# ----------------------------------------------------------------------------------------------------------
# A reporter who cannot be reached
# ----------------------------------------------------------------------------------------------------------

UNREACHABLE_CAUSES = {
    FailureCause.OUTSIDE_WINDOW: (
        "họ không nhắn tin cho {channel} của Sở trong 7 ngày qua nên Zalo không cho gửi thêm tin (quy tắc 7 ngày)"
    ),
    FailureCause.BLOCKED: "họ đã chặn trợ lý hoặc không còn nhận tin nhắn trên {channel}",
    FailureCause.GAVE_UP: "trợ lý đã gửi nhiều lần qua {channel} nhưng không thành công",
}
UNDELIVERED_EXCERPT = 300  # characters of the undelivered message quoted to staff


def unreachable_text(case: Case, complaint: Complaint, failure: Undelivered) -> str:
    """What the lead agency's chat is told when a message to the reporter did not get through (Vietnamese)."""
    channel = CHANNEL_NAMES.get(failure.channel, failure.channel)
    cause = UNREACHABLE_CAUSES.get(failure.cause, UNREACHABLE_CAUSES[FailureCause.GAVE_UP]).format(channel=channel)
    lines = [f"⚠️ Không liên lạc được với người phản ánh {case.code} qua {channel}: {cause}."]
    excerpt = " ".join(failure.text.split())
    if excerpt:
        if len(excerpt) > UNDELIVERED_EXCERPT:
            excerpt = excerpt[:UNDELIVERED_EXCERPT].rstrip() + "…"
        lines.append(f"Tin chưa tới được người phản ánh: «{excerpt}»")
    if complaint.anonymous:
        lines.append(
            "Phản ánh ẩn danh nên không có cách liên hệ khác; người phản ánh vẫn xem được kết quả bằng "
            f"/tracuu {case.code}."
        )
    elif not complaint.phone:
        lines.append(
            "Người phản ánh không để lại số điện thoại nên chưa có cách liên hệ khác; họ vẫn xem được kết quả "
            f"bằng /tracuu {case.code}."
        )
    else:
        lines.append(
            f"Đề nghị liên hệ người phản ánh bằng cách khác: {contact_line(complaint)}. Bấm «📞 Xem liên hệ» để "
            "xem số đầy đủ."
        )
    return "\n".join(lines)


async def reporter_unreachable(uow: UnitOfWork, config: AppConfig, failures: list[Undelivered], now: datetime) -> int:
    """The outbox sender's hook for rows that failed for good (in the transaction that marks them): each
    message to a case's reporter that did not get through is told to the lead agency's chats, once per row."""
    queued = 0
    for failure in failures:
        if failure.kind != KIND_NOTICE or not failure.ref:
            continue
        case = await uow.cases.by_code(failure.ref)
        complaint = await uow.complaints.get(failure.ref)
        if case is None or complaint is None:
            logger.warning("outbox row %s: no case %s for an unreachable reporter", failure.row_id, failure.ref)
            continue
        chats = agency_chats(config, case.lead)
        if not chats:
            logger.warning("case %s: the reporter is unreachable and the lead agency has no staff chat", case.code)
            continue
        buttons = [[_b("📞 Xem liên hệ", "contact", case)]] if complaint.phone and not complaint.anonymous else []
        sent = await post_to_chats(
            uow,
            case,
            chats,
            Reply(unreachable_text(case, complaint, failure), buttons),
            kind=KIND_UNREACHABLE,
            message_kind=MessageKind.UNREACHABLE,
            now=now,
            dedupe=f"unreachable:{failure.row_id}",
            agency=case.lead,
        )
        if sent:
            note = f"{CHANNEL_NAMES.get(failure.channel, failure.channel)}: {failure.cause.value} ({failure.error})"
            await uow.cases.record(case, "reporter_unreachable", now, role="system", note=note[:500])
            logger.info("case %s: reporter unreachable (%s); lead agency told", case.code, failure.cause.value)
        queued += sent
    return queued


# ----------------------------------------------------------------------------------------------------------
# SLA: reminders and escalation, each exactly once
# ----------------------------------------------------------------------------------------------------------


async def escalation_chats(uow: UnitOfWork, config: AppConfig, case: Case) -> list[tuple[str, str]]:
    """Where an escalation goes: the coordinator's chats and the private chats of the lead agency's
    supervisors and of every admin."""
    chats = agency_chats(config, coordinator(config).id)
    for member in await uow.staff.list():
        if member.role == "admin" or (member.role == "supervisor" and member.agency == case.lead):
            chats.append((member.channel, member.user_id))  # a private chat's id is the user's id
    return list(dict.fromkeys(chats))


def sla_text(config: AppConfig, case: Case, complaint: Complaint, step: SlaStep) -> str:
    lead = agency_name(config, case.lead)
    what = f"{case.code} ({category_name(config, complaint.category)}, {complaint.product[:60]})"
    if step is SlaStep.ACK_REMINDER:
        assert case.ack_due is not None
        return (
            f"⏰ Nhắc: phản ánh {what} chưa được tiếp nhận — đã quá hạn tiếp nhận lúc {local_text(case.ack_due)}. "
            "Đề nghị bấm «Tiếp nhận» trên thẻ phản ánh."
        )
    if step is SlaStep.ACK_ESCALATION:
        assert case.ack_due is not None
        return (
            f"🚨 Cảnh báo quá hạn: phản ánh {what} giao {lead} chủ trì vẫn chưa được tiếp nhận "
            f"(hạn {local_text(case.ack_due)}, quá {config.cases.escalate_after_hours:g} giờ). Đề nghị lãnh đạo "
            "đôn đốc."
        )
    assert case.resolve_due is not None
    return (
        f"🚨 Quá hạn xử lý: phản ánh {what} giao {lead} chủ trì chưa hoàn tất (hạn {local_text(case.resolve_due)}). "
        f"Trạng thái: {STATUS_LABELS[case.state]}."
    )


async def check_case_sla(uow: UnitOfWork, config: AppConfig, case_id: int, now: datetime) -> list[SlaStep]:
    """Do the SLA steps of one case that are due and not done yet (in the caller's transaction)."""
    await uow.lock("case", str(case_id))
    case = await uow.cases.get(case_id, for_update=True)
    if case is None or not case.open:
        return []
    assert case.id is not None
    complaint = await uow.complaints.get(case.code)
    if complaint is None:
        return []
    done = await uow.cases.sla_marks(case.id, case.sla_epoch)
    fired: list[SlaStep] = []
    for step, at in sla_steps(case, config):
        if at > now or step.value in done:
            continue
        await uow.cases.mark_sla(case.id, case.sla_epoch, step, now)
        reply = Reply(sla_text(config, case, complaint, step))
        dedupe = f"sla:{case.id}:{case.sla_epoch}:{step.value}"
        if step is SlaStep.ACK_REMINDER:
            chats = agency_chats(config, case.lead)
            kind, message_kind = KIND_REMINDER, MessageKind.REMINDER
        else:
            chats = await escalation_chats(uow, config, case)
            if step is SlaStep.RESOLVE_ESCALATION:
                chats = agency_chats(config, case.lead) + chats
            kind, message_kind = KIND_ESCALATION, MessageKind.ESCALATION
        sent = await post_to_chats(
            uow, case, chats, reply, kind=kind, message_kind=message_kind, now=now, dedupe=dedupe, agency=case.lead
        )
        await uow.cases.record(case, f"sla_{step.value}", now, role="system", note=f"{sent} tin nhắn")
        done.add(step.value)
        fired.append(step)
    case.sla_next_at = next_sla_at(case, done, config)
    return fired


async def check_sla(db: Database, config: AppConfig, now: datetime, *, limit: int = 500) -> dict[str, int]:
    """Send the SLA reminders and escalations that are due; each exactly once, whatever runs it how often."""
    counts: dict[str, int] = {}
    async with db.unit_of_work() as uow:
        ids = await uow.cases.sla_due(now, limit)
    for case_id in ids:
        await asyncio.sleep(0)  # let replies and deliveries in between (see route_pending)
        try:
            async with db.unit_of_work() as uow:
                fired = await check_case_sla(uow, config, case_id, now)
                await uow.commit()
        except IntegrityError:
            logger.info("case %s: SLA step already done by another process", case_id)
            continue
        for step in fired:
            counts[step.value] = counts.get(step.value, 0) + 1
    if counts:
        logger.info("cases SLA: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts


async def link_sent(db: Database, *, limit: int = 500) -> int:
    """Copy delivered platform message ids into the case message map (for "reply to" and edits)."""
    async with db.unit_of_work() as uow:
        linked = await uow.cases.link_sent(limit)
        if linked:
            await uow.commit()
    return linked


async def alert_lost_chats(db: Database, config: AppConfig, now: datetime) -> int:
    """A staff chat the bot can no longer post to (removed from the group, group deleted): tell the admins
    privately and the coordinator's chats, once per chat."""
    from sqlalchemy import select

    async with db.unit_of_work() as uow:
        result = await uow.session.execute(
            select(OutboxMessage.channel, OutboxMessage.chat_id)
            .where(
                OutboxMessage.status == OutboxStatus.FAILED.value,
                OutboxMessage.kind.in_(QUEUED_KINDS),
                OutboxMessage.last_error.like("unreachable%"),
            )
            .distinct()
        )
        lost = [(channel, chat) for channel, chat in result.all() if is_staff_chat(config, channel, chat)]
        if not lost:
            return 0
        admins = [(m.channel, m.user_id) for m in await uow.staff.list() if m.role == "admin"]
        queued = 0
        for channel, chat_id in lost:
            agency = agency_for_chat(config, channel, chat_id)
            assert agency is not None
            text = (
                f"⚠️ Trợ lý không gửi được tin vào nhóm {chat_id} ({CHANNEL_NAMES.get(channel, channel)}) của "
                f"{agency.name}: có thể bot đã bị xóa khỏi nhóm. Phản ánh mới của cơ quan này sẽ không tới được "
                "cán bộ cho đến khi bot được thêm lại (hoặc sửa `agencies[].chats` trong tệp cấu hình)."
            )
            targets = [*admins, *agency_chats(config, coordinator(config).id)]
            for target_channel, target_chat in dict.fromkeys(targets):
                if (target_channel, target_chat) == (channel, chat_id):
                    continue
                row = await uow.outbox.enqueue(
                    channel=target_channel,
                    chat_id=target_chat,
                    kind="case_chat_lost",
                    payload=Reply(text).to_dict(),
                    now=now,
                    dedupe_key=f"chat-lost:{channel}:{chat_id}:{target_channel}:{target_chat}",
                )
                queued += row is not None
        if queued:
            logger.error("cases: staff chats unreachable: %s; admins alerted", lost)
            await uow.commit()
    return queued
