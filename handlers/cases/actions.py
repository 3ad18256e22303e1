"""What staff do on a case: one table, :data:`ACTIONS`, one entry per action, each with its handler.

An entry says everything about its action: the code in its button, the button on the card (which card, which
row, in which states), who may press it, the text asked for first, the audit row it writes, and the words for
the public history, the reporter and the staff member. The chat side (:mod:`handlers.cases.chat`) checks the
permission, asks for the text, loads the case and calls the handler; when the handler wrote an audit row the
cards show (``history``), every card of the case is re-rendered, and a new lead agency gets its cards.

Adding an action is one :class:`Action` entry and its handler, an ``async def (act: Act) -> str | None``
returning what the person who pressed is told (None when it answered itself).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.cases.reporter import ask_verdict, notify_reporter, public_event
from handlers.cases.routing import agency_for_chat, agency_name, due_times, remember
from handlers.cases.view import CaseView
from handlers.cases.vocabulary import CASE_STATUS_LABELS, EVENT_LABELS, Audit, CardView, CaseError, OutboxKind
from handlers.config import Agency, AppConfig
from handlers.core import Context
from handlers.phone import format_phone
from handlers.text_safety import ascii_int
from handlers.types import Button, ChatKind, MessageKind, Reply
from storage.cases import Case, CaseMessageKind, CaseStatus
from storage.complaints import Complaint, ComplaintStatus
from storage.duplicates import DuplicateState
from storage.staff import StaffMember

ALERT_CHANNELS = frozenset({"telegram", "console"})  # platforms that can show a pressed button's answer privately

OPEN = frozenset(s for s in CaseStatus if s.is_open)
UNACKNOWLEDGED = frozenset(s for s in CaseStatus if s.unacknowledged)
ALWAYS = frozenset(CaseStatus)


class Who(enum.Enum):
    """Who may do an action; an admin may do every action on every case."""

    LEAD = "lead"  # staff of the lead agency
    LEAD_OR_COPY = "lead_or_copy"  # staff of the lead agency or of an agency with a copy
    SUPERVISOR = "supervisor"  # a supervisor of the lead agency
    TRANSFER = "transfer"  # staff of the lead agency, or a supervisor of the coordinating agency (any case)


@dataclass(frozen=True)
class Action:
    """One staff action. Texts are ``str.format`` templates over :meth:`Act.say`'s fields."""

    code: str  # in its button's payload ``case:CODE:ID[:ARG]``; sent buttons keep it, so never change one
    run: Handler
    who: Who = Who.LEAD
    button: str = ""  # its button's label ("" when no card shows it)
    card: CardView = CardView.LEAD  # the card that shows the button
    row: int = 0  # the row of the card's buttons it goes in
    statuses: frozenset[CaseStatus] = OPEN  # the states in which the card shows it (and its prompt is asked)
    needs_contact: bool = False  # shown only when the reporter left a phone number
    prompt: str = ""  # asks for a text first (fields: name, code, agency, target)
    skippable: bool = False  # the text may be skipped («Bỏ qua»)
    reasons: bool = False  # a closing: asks first for its reason (the agency's list, or typed), required
    canned: bool = False  # the agency's canned replies are offered as buttons under the prompt
    check: Callable[[AppConfig, Case, str], str | None] | None = None  # the button's ARG, before the prompt
    audit: str = ""  # the code of the audit row it writes
    audit_label: str = ""  # how the audit trail and the card name that row
    history: bool = False  # the card lists that row (so the cards are re-rendered after it)
    history_detail: str = ""  # the key of the row's state after, shown next to it on the card
    status: CaseStatus | None = None  # the state it moves the case to
    public: str = ""  # its line in the public history (/tracuu)
    public_status: ComplaintStatus | None = None  # the public status it sets
    notice: str = ""  # to the reporter
    done: str = ""  # to the staff member
    moves: bool = False  # changes who handles the case or where it stands, without a ``status`` of its own

    @property
    def changes_state(self) -> bool:
        """Of two presses at once only one may do it: the other is told (``chat.perform``)."""
        return self.moves or self.status is not None


Handler = Callable[["Act"], Awaitable[str | None]]


@dataclass
class Act:
    """One action being done on a case (locked), by a staff member allowed to do it."""

    ctx: Context
    action: Action
    view: CaseView
    member: StaffMember
    text: str = ""  # what the staff member typed (actions with a prompt)
    arg: str = ""  # the choice the button carries
    reason: str = ""  # why the case is closed (actions with ``reasons``)
    photos: list[str] = field(default_factory=list)  # stored photos the staff member sent with the text
    recorded: bool = False  # an audit row the cards list was written
    card_for: Agency | None = None  # post the case's card in this chat (for this agency) afterwards
    touched: list[Case] = field(default_factory=list)  # other cases whose cards show the change (a merge)

    @property
    def case(self) -> Case:
        return self.view.case

    @property
    def complaint(self) -> Complaint:
        return self.view.complaint

    @property
    def now(self) -> datetime:
        return self.ctx.now

    def say(self, template: str, *, code: str | None = None, **extra: Any) -> str:
        """The template filled in (``code``: a merged reporter's own code instead of the case's)."""
        config, case = self.ctx.config, self.case
        return template.format(
            code=code or case.code,
            agency=agency_name(config, case.lead),
            short=agency_name(config, case.lead, short=True),
            member=self.member.name,
            member_agency=agency_name(config, self.member.agency, short=True),
            text=self.text,
            reason=self.reason,
            **extra,
        )

    def move(self, action: Action | None = None, *, outcome: str | None = None) -> None:
        """Put the case in the state the action leads to (its ``status`` in the table)."""
        action = action or self.action
        assert action.status is not None
        self.ctx.uow.cases.set_status(self.case, action.status, self.now, outcome=outcome)

    async def record(
        self, action: Action | None = None, *, before: dict[str, Any] | None = None, note: str | None = None
    ) -> None:
        """Write the action's audit row (``action``: another one this action includes, like the acknowledgement
        before a first answer)."""
        action = action or self.action
        await self.ctx.uow.cases.record(self.case, action.audit, self.now, before=before, actor=self.member, note=note)
        self.recorded = self.recorded or action.history

    async def inform(
        self,
        action: Action | None = None,
        *,
        status: ComplaintStatus | None = None,
        kind: str = "status",
        detail: str | None = None,
        add: bool = False,
        **extra: Any,
    ) -> None:
        """The action's line in the public history and its message to the reporter, those it has (``add``: the
        message has the button to add information)."""
        action = action or self.action
        uow = self.ctx.uow
        for complaint in self.view.complaints:  # every reporter of the case, each with their own code
            if action.public:
                note = self.say(action.public, code=complaint.code, **extra)
                status = status or action.public_status
                await public_event(uow, complaint, self.now, note, status=status, kind=kind, detail=detail)
            if action.notice:
                text = self.say(action.notice, code=complaint.code, **extra)
                photos = self.photos if action is self.action else None  # not on an included acknowledgement
                await notify_reporter(uow, complaint, text, self.now, add=add, photos=photos)


def case_payload(code: str, case: Case, arg: str = "") -> str:
    """``case:CODE:ID.VERSION[:ARG]``: the version the button was shown at (a change of the case makes the buttons
    of the card it replaced stale for the actions that change it; ``chat.perform``)."""
    return f"case:{code}:{case.id}.{case.version}" + (f":{arg}" if arg else "")


def action_button(code: str, case: Case) -> Button:
    action = ACTIONS[code]
    return Button(action.button, case_payload(code, case))


def require_open(case: Case) -> None:
    if not case.open:
        raise CaseError(f"Phản ánh {case.code} đã đóng ({CASE_STATUS_LABELS[case.state]}).")


# ----------------------------------------------------------------------------------------------------------
# Handlers
# ----------------------------------------------------------------------------------------------------------


async def acknowledge(act: Act) -> str:
    require_open(act.case)
    if not act.case.state.unacknowledged:
        return f"Phản ánh {act.case.code} đã được tiếp nhận trước đó."
    await acknowledged(act)
    return act.say(act.action.done)


async def acknowledged(act: Act) -> None:
    """Acknowledge the case (by itself, or as part of a first request or answer to the reporter)."""
    ack = ACTIONS["ack"]
    before = act.case.snapshot()
    act.move(ack)
    await act.record(ack, before=before)
    await act.inform(ack)


async def take(act: Act, assignee: StaffMember | None = None) -> str:
    """Nhận xử lý (the member takes it) or, with ``assignee``, Phân công."""
    case = act.case
    require_open(case)
    person = assignee or act.member
    before = case.snapshot()
    previous = case.state
    act.ctx.uow.cases.assign(case, person.channel, person.user_id, person.name, act.now)
    if previous in (CaseStatus.NEW, CaseStatus.TRANSFERRED, CaseStatus.ACKNOWLEDGED):
        act.ctx.uow.cases.set_status(case, CaseStatus.IN_PROGRESS, act.now)
    await act.record(before=before)
    if previous is not case.state:
        await act.inform(ACTIONS["take"], taken="đã được tiếp nhận và " if previous.unacknowledged else "")
    return act.say(act.action.done, assignee=person.name)


async def offer_assignees(act: Act) -> str | None:
    ctx, case = act.ctx, act.case
    members = [m for m in await ctx.uow.staff.list(agency=case.lead) if m.channel == ctx.msg.channel]
    if not members:
        return "Cơ quan chủ trì chưa có cán bộ nào trên kênh này."
    buttons = [Button(f"👤 {m.name}", case_payload("asg", case, str(m.id))) for m in members[:20]]
    ctx.reply(f"👥 Phân công {case.code} cho:", [buttons[i : i + 2] for i in range(0, len(buttons), 2)])
    return None


async def assign(act: Act) -> str:
    staff_id = ascii_int(act.arg)
    assignee = await act.ctx.uow.staff.by_id(staff_id) if staff_id is not None else None
    if assignee is None or assignee.agency != act.case.lead or not assignee.active:
        return "Cán bộ này không còn hoạt động trong cơ quan chủ trì."
    return await take(act, assignee)


async def offer_agencies(act: Act) -> None:
    ctx, case = act.ctx, act.case
    buttons = [Button(a.short_name, case_payload("to", case, a.id)) for a in ctx.config.agencies if a.id != case.lead]
    ctx.reply(f"🔁 Chuyển {case.code} cho cơ quan nào?", [buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def transfer_target(config: AppConfig, case: Case, agency_id: str) -> str | None:
    target = config.agency(agency_id)
    return "Cơ quan này không hợp lệ để chuyển." if target is None or target.id == case.lead else None


async def transfer(act: Act) -> str:
    """Give the case to another agency (its chats get the card afterwards; the old lead's card says where)."""
    case, config = act.case, act.ctx.config
    require_open(case)
    target = config.agency(act.arg)
    if target is None:
        raise CaseError(f"Không có cơ quan «{act.arg}».")
    if target.id == case.lead:
        raise CaseError(f"{target.short_name} đang chủ trì {case.code} rồi.")
    before = case.snapshot()
    old = case.lead
    act.ctx.uow.cases.transfer(case, target.id, act.now, due_times(config, act.complaint.category, act.now))
    case.names = remember(config, case, act.complaint.area)
    reason = f". Lý do: {act.text}" if act.text else ""
    await act.record(before=before, note=f"{agency_name(config, old)} → {target.name}{reason}")
    await act.inform(target=target.name)
    return act.say(act.action.done, target=target.name)


async def request_more(act: Act) -> str:
    case, complaint = act.case, act.complaint
    require_open(case)
    if case.state.unacknowledged:
        await acknowledged(act)
    before = case.snapshot()
    act.move()
    await act.record(before=before, note=act.text)
    if complaint.status in (ComplaintStatus.SUBMITTED.value, ComplaintStatus.ACKNOWLEDGED.value):
        await act.inform(status=ComplaintStatus.IN_PROGRESS, detail=act.text, add=True)
    else:
        await act.inform(kind="info_requested", detail=act.text, add=True)
    return act.say(act.action.done)


async def reply_reporter(act: Act) -> str:
    require_open(act.case)
    if act.case.state.unacknowledged:
        await acknowledged(act)
    await act.record(note=act.text)
    await act.inform(kind="staff_reply", detail=act.text)
    return act.say(act.action.done)


async def close(act: Act) -> str:
    """Hoàn tất or Từ chối, always with a reason (the text is what the reporter reads); the reporter is then
    asked once whether it was solved."""
    require_open(act.case)
    reason = " ".join(act.reason.split())
    if not reason:
        raise CaseError(f"Cần chọn hoặc nhập lý do để đóng phản ánh {act.case.code}.")
    act.reason = reason
    before = act.case.snapshot()
    assert act.action.status is not None
    act.ctx.uow.cases.close(act.case, act.action.status, act.now, reason=reason, outcome=act.text)
    await act.record(before=before, note=f"Lý do: {reason}. {act.text}")
    await act.inform(detail=act.text)
    await ask_verdict(act.ctx.uow, act.case, act.complaint, act.now)
    for merged, complaint in act.view.merged:  # each merged reporter is asked on their own case
        merged.verdict = None
        await ask_verdict(act.ctx.uow, merged, complaint, act.now, round_=act.case.reopens)
    return act.say(act.action.done)


async def merge(act: Act) -> str:
    """Gộp vào PA-…: this duplicate closes as merged; its reporter (and those merged into it) follow the other."""
    ctx, case = act.ctx, act.case
    require_open(case)
    target = await ctx.uow.cases.get(n, for_update=True) if (n := ascii_int(act.arg)) is not None else None
    if target is None or target.id == case.id or not target.open:
        raise CaseError("Phản ánh định gộp vào không còn mở; bạn bấm «Không trùng» hoặc xử lý riêng.")
    if target.lead != act.member.agency and act.member.role != "admin":
        raise CaseError(f"{target.code} do cơ quan khác chủ trì; chỉ gộp được vào phản ánh cơ quan bạn chủ trì.")
    before = case.snapshot()
    if not await ctx.uow.cases.merge(case, target, act.now):
        raise CaseError(f"Phản ánh {case.code} đã được gộp hoặc đóng trước đó.")
    await ctx.uow.duplicates.settle(case.id or 0, DuplicateState.MERGED, target.id)
    await ctx.uow.duplicates.follow(case.id or 0, target.id or 0)
    await act.record(before=before, note=f"Gộp vào {target.code}")
    await ctx.uow.cases.record(target, Audit.MERGED_IN, act.now, actor=act.member, note=f"{case.code} gộp vào")
    await act.inform(target=target.code)
    act.touched.append(target)
    return act.say(act.action.done, target=target.code)


async def not_duplicate(act: Act) -> str:
    await act.ctx.uow.duplicates.settle(act.case.id or 0, DuplicateState.DISMISSED)
    await act.record()
    return act.say(act.action.done)


async def copy_seen(act: Act) -> str:
    await act.record()
    return act.say(act.action.done)


def contact_message(complaint: Complaint) -> str:
    """The full phone for the staff member who asked to see it."""
    if complaint.anonymous or not complaint.phone:
        return f"{complaint.code}: phản ánh ẩn danh hoặc không để lại số điện thoại."
    name = f" ({complaint.reporter_name})" if complaint.reporter_name else ""
    return (
        f"📞 {complaint.code}: {format_phone(complaint.phone)}{name}. Chỉ dùng để xác minh phản ánh này; "
        "lượt xem đã được ghi lại."
    )


async def reveal_contact(act: Act) -> None:
    """The phone, only to the person who asked (an alert, or a private message), and recorded."""
    ctx, case = act.ctx, act.case
    text = contact_message(act.complaint)
    await act.record(note=f"in {ctx.msg.chat_id}")
    private = ctx.msg.chat_kind is ChatKind.PRIVATE
    if private or (ctx.msg.channel in ALERT_CHANNELS and ctx.msg.kind is MessageKind.BUTTON):
        ctx.replies.append(Reply(text, alert=not private))
        return
    await ctx.uow.outbox.enqueue(
        channel=ctx.msg.channel,
        chat_id=ctx.msg.user_id,
        kind=OutboxKind.CONTACT,
        payload=Reply(text).to_dict(),
        now=ctx.now,
        ref=case.code,
    )
    ctx.reply("📩 Đã gửi số liên hệ vào tin nhắn riêng của bạn với trợ lý.")


async def open_card(act: Act) -> str:
    """From a digest: post the case's full card (or copy) in this chat, once."""
    ctx, case = act.ctx, act.case
    agency = agency_for_chat(ctx.config, ctx.msg.channel, ctx.msg.chat_id)
    if agency is None:
        return "Thẻ phản ánh chỉ mở được trong nhóm của cơ quan."
    assert case.id is not None
    existing = [
        m
        for m in await ctx.uow.cases.messages(case.id, [CaseMessageKind.CARD, CaseMessageKind.COPY])
        if m.channel == ctx.msg.channel and m.chat_id == ctx.msg.chat_id
    ]
    if existing:
        return f"Thẻ {case.code} đã được gửi trong nhóm này; bạn tìm tin nhắn «PHẢN ÁNH {case.code}»."
    act.card_for = agency
    return f"📋 Đang gửi thẻ {case.code}…"


# ----------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------

_ACTIONS = (
    Action(
        "ack", acknowledge, button="📥 Tiếp nhận", row=0, statuses=UNACKNOWLEDGED,
        audit="ack", audit_label="Tiếp nhận", history=True, status=CaseStatus.ACKNOWLEDGED,
        public="Đã được {agency} tiếp nhận", public_status=ComplaintStatus.ACKNOWLEDGED,
        notice="📬 Phản ánh {code} của bạn đã được {agency} tiếp nhận. Cán bộ sẽ xác minh và báo kết quả cho bạn "
        "qua tin nhắn này.",
        done="📥 Đã tiếp nhận {code}.",
    ),
    Action(
        "take", take, button="🙋 Nhận xử lý", row=0, audit="take", audit_label="Nhận xử lý", history=True, moves=True,
        public="{agency} đang xác minh, xử lý", public_status=ComplaintStatus.IN_PROGRESS,
        notice="🔎 Phản ánh {code} của bạn {taken}đang được {agency} xác minh, xử lý.",
        done="🙋 {member} nhận xử lý {code}.",
    ),
    Action("assign", offer_assignees, Who.SUPERVISOR, button="👥 Phân công", row=1),
    Action(
        "asg", assign, Who.SUPERVISOR, audit="assign", audit_label="Phân công", history=True, moves=True,
        history_detail="assignee", done="👥 Đã phân công {code} cho {assignee}.",
    ),
    Action("xfer", offer_agencies, Who.TRANSFER, button="🔁 Chuyển cơ quan", row=1),
    Action(
        "to", transfer, Who.TRANSFER, check=transfer_target, skippable=True, moves=True,
        prompt="🔁 {name}, chuyển {code} cho {target}: bạn nhập lý do chuyển (ghi vào nhật ký), hoặc bấm «Bỏ qua».",
        audit="transfer", audit_label="Chuyển cơ quan", history=True, history_detail="lead",
        public="Được chuyển tới {target} để xử lý theo thẩm quyền", public_status=ComplaintStatus.SUBMITTED,
        notice="🔁 Phản ánh {code} của bạn đã được chuyển tới {target} để xử lý theo đúng thẩm quyền. "
        "Bạn sẽ nhận được thông báo khi cơ quan này tiếp nhận.",
        done="🔁 Đã chuyển {code} cho {target}.",
    ),
    Action(
        "more", request_more, button="📝 Yêu cầu bổ sung", row=2, canned=True,
        prompt="📝 {name}, bạn nhập nội dung cần người phản ánh bổ sung cho {code}.",
        audit="more", audit_label="Yêu cầu bổ sung", history=True, status=CaseStatus.WAITING,
        public="{agency} đề nghị bổ sung thông tin",
        notice="📝 {agency} đề nghị bạn bổ sung thông tin cho phản ánh {code}:\n«{text}»\n\n"
        "Bạn bấm «Bổ sung thông tin / ảnh» để gửi thêm (gõ tin nhắn hoặc gửi ảnh).",
        done="📝 Đã gửi yêu cầu bổ sung cho người phản ánh {code}.",
    ),
    Action(
        "reply", reply_reporter, button="💬 Trả lời người phản ánh", row=2, canned=True,
        prompt="💬 {name}, bạn nhập nội dung trả lời người phản ánh {code}. Nội dung được gửi dưới tên {agency}, "
        "không kèm tên của bạn.",
        audit="reply", audit_label="Trả lời người phản ánh", history=True, public="{agency} đã trả lời",
        notice="💬 {agency} trả lời về phản ánh {code} của bạn:\n{text}",
        done="💬 Đã gửi trả lời tới người phản ánh {code} (dưới tên {short}).",
    ),
    Action(
        "done", close, button="✅ Hoàn tất", row=3, reasons=True, canned=True,
        prompt="✅ {name}, bạn nhập kết quả xử lý {code} (sẽ gửi cho người phản ánh).",
        audit="resolve", audit_label="Hoàn tất", history=True, status=CaseStatus.RESOLVED,
        public="{agency} đã xử lý xong", public_status=ComplaintStatus.RESOLVED,
        notice="✅ Phản ánh {code} của bạn đã được {agency} xử lý xong ({reason}).\nKết quả: {text}\n"
        "Cảm ơn bạn đã góp phần bảo vệ quyền lợi người tiêu dùng!",
        done="✅ Đã hoàn tất {code}; người phản ánh đã được báo.",
    ),
    Action(
        "rej", close, button="⛔ Từ chối", row=3, reasons=True, canned=True,
        prompt="⛔ {name}, bạn nhập lời giải thích gửi người phản ánh {code}.",
        audit="reject", audit_label="Từ chối", history=True, status=CaseStatus.REJECTED,
        public="{agency} đã đóng phản ánh", public_status=ComplaintStatus.REJECTED,
        notice="Phản ánh {code} của bạn đã được {agency} xem xét và đóng lại.\nLý do: {reason}. {text}\n"
        "Nếu có thêm bằng chứng, bạn có thể gửi phản ánh mới bằng /phananh hoặc gọi Tổng đài tư vấn người "
        "tiêu dùng 1800 6838 (miễn phí).",
        done="⛔ Đã từ chối {code}; người phản ánh đã được báo.",
    ),
    Action(
        "seen", copy_seen, Who.LEAD_OR_COPY, button="👀 Đã nắm thông tin", card=CardView.COPY,
        audit="copy_seen", audit_label="Đã nắm thông tin (bản sao)", history=True,
        done="👀 {member_agency} đã nắm thông tin {code}.",
    ),
    Action(
        "contact", reveal_contact, button="📞 Xem liên hệ", row=4, statuses=ALWAYS, needs_contact=True,
        audit="contact_viewed", audit_label="Xem liên hệ",
    ),
    Action("open", open_card, Who.LEAD_OR_COPY),  # a digest's button: the full card in this chat
    Action(
        "merge", merge, audit="merge", audit_label="Gộp vào phản ánh trùng", history=True, moves=True,
        public="Được gộp với phản ánh {target} cùng nội dung để {agency} xử lý chung",
        public_status=ComplaintStatus.IN_PROGRESS,
        notice="🔗 Phản ánh {code} của bạn được gộp với phản ánh {target} cùng nội dung để {agency} xử lý chung. "
        "Bạn vẫn nhận mọi thông báo và tra cứu bằng mã {code}.",
        done="🔗 Đã gộp {code} vào {target}.",
    ),  # the buttons are the card's suggestions (cards.py)
    Action(
        "notdup", not_duplicate, audit="not_duplicate", audit_label="Không trùng", history=True, moves=True,
        done="Đã ghi nhận {code} không trùng với phản ánh nào.",
    ),
)  # fmt: skip
ACTIONS: dict[str, Action] = {action.code: action for action in _ACTIONS}

# Every audit code with its label: the staff actions' and the other events'.
AUDIT_LABELS: dict[str, str] = {a.audit: a.audit_label for a in _ACTIONS if a.audit} | EVENT_LABELS
BY_AUDIT: dict[str, Action] = {a.audit: a for a in _ACTIONS if a.audit}
CARD_HISTORY = frozenset(
    {a.audit for a in _ACTIONS if a.history}
    | {Audit.REPORTER_ADDED, Audit.REOPENED, Audit.MERGED_IN, Audit.CONFIG_MOVE}
)

# The audit rows of the changes that give a case a new version (``chat.own_change``).
STATE_AUDITS = frozenset(
    {a.audit for a in ACTIONS.values() if a.changes_state and a.audit} | {Audit.REOPENED, Audit.CONFIG_MOVE}
)
