"""The staff side in chat: case buttons, the text-input flow, "reply to" a card in a group, /viec.

Buttons are ``case:ACTION:CASE_ID[:ARG]`` (signed like every payload; a forged one never gets here). Every
press is checked here: only active staff, only for their agency's case (the lead agency; a copy agency may
only mark its copy as seen), supervisors and admins wider:

* **agent**: every action on cases its agency leads, except Phân công;
* **supervisor**: the same and Phân công; a supervisor of the coordinating agency may also transfer any case;
* **admin**: everything, on every case.

Refusals are logged and written to the case's audit trail, and shown only to the person who pressed where
the platform can (an alert). A staff member's conversation in a group is keyed by (channel, group, user),
so two colleagues can type a reply at the same time in the same group.
"""

from __future__ import annotations

import logging

from handlers.cases import domain as service
from handlers.core import Context, Flow
from handlers.matching import fold_text
from handlers.types import Button, ChatKind, MessageKind, Reply
from storage.cases import Case
from storage.cases import MessageKind as CaseMessageKind
from storage.staff import StaffMember

logger = logging.getLogger(__name__)

FLOW = "caseinput"
ALERT_CHANNELS = frozenset({"telegram", "console"})  # platforms that can show a pressed button's answer privately
MIN_TEXT = 3
MAX_TEXT = 2000

NOT_STAFF = "⛔ Chỉ cán bộ được phân công mới thao tác được trên phản ánh."
LEAD_ONLY = "⛔ Phản ánh {code} do {lead} chủ trì; cơ quan của bạn không thao tác được trên phản ánh này."
ASSIGN_ONLY = "⛔ Chỉ lãnh đạo (supervisor) hoặc quản trị viên mới phân công được."
STALE = "Thẻ này không còn tương ứng với phản ánh nào."

# action -> (needs text, prompt)
PROMPTS = {
    "more": "📝 {name}, bạn nhập nội dung cần người phản ánh bổ sung cho {code}.",
    "reply": "💬 {name}, bạn nhập nội dung trả lời người phản ánh {code}. Nội dung được gửi dưới tên {agency}, "
    "không kèm tên của bạn.",
    "done": "✅ {name}, bạn nhập kết quả xử lý {code} (sẽ gửi cho người phản ánh).",
    "rej": "⛔ {name}, bạn nhập lý do từ chối {code} (sẽ gửi cho người phản ánh).",
    "to": "🔁 {name}, chuyển {code} cho {target}: bạn nhập lý do chuyển (ghi vào nhật ký), hoặc bấm «Bỏ qua».",
}
HOW_TO_ANSWER = "Bạn trả lời (reply) vào tin nhắn này; gõ «hủy» để thôi."
NOT_RELAYED = (
    "Trợ lý không gửi được tin tới người phản ánh {code} nên không chuyển nội dung này. Bạn liên hệ người phản "
    "ánh bằng cách khác (nút «📞 Xem liên hệ»); muốn thử gửi lại qua trợ lý thì trả lời (reply) vào thẻ phản ánh."
)


def alert(ctx: Context, text: str) -> None:
    """A short answer for the person who pressed: an alert where the platform has them, else a message."""
    ctx.replies.append(Reply(text, alert=ctx.msg.kind is MessageKind.BUTTON))


def refuse(ctx: Context, text: str, case: Case | None = None, member: StaffMember | None = None) -> None:
    logger.warning(
        "refused case action %r by %s/%s in chat %s: %s",
        ctx.payload or ctx.text[:40],
        ctx.msg.channel,
        ctx.msg.user_id,
        ctx.msg.chat_id,
        text,
    )
    alert(ctx, text)


async def audit_refusal(ctx: Context, case: Case, action: str, member: StaffMember | None, reason: str) -> None:
    await ctx.uow.cases.record(
        case,
        "refused",
        ctx.now,
        actor=member,
        role=member.role if member else "none",
        actor_channel=ctx.msg.channel,
        actor_user_id=ctx.msg.user_id,
        actor_name=ctx.msg.display_name or None,
        note=f"{action}: {reason}",
    )


async def authorize(ctx: Context, case: Case, action: str) -> StaffMember | None:
    """The staff member allowed to do ``action`` on ``case``, or None (refused, logged, audited)."""
    member = await ctx.uow.staff.active(ctx.msg.channel, ctx.msg.user_id)
    reason = None
    if member is None:
        reason = NOT_STAFF
    elif member.role == "admin":
        return member
    elif action in ("seen", "open"):
        if member.agency != case.lead and member.agency not in case.copies:
            reason = LEAD_ONLY.format(code=case.code, lead=service.agency_name(ctx.config, case.lead))
    elif action in ("xfer", "to") and member.role == "supervisor" and member.agency == coordinator_id(ctx):
        return member
    elif member.agency != case.lead:
        reason = LEAD_ONLY.format(code=case.code, lead=service.agency_name(ctx.config, case.lead))
    elif action in ("assign", "asg") and member.role != "supervisor":
        reason = ASSIGN_ONLY
    if reason is None:
        return member
    refuse(ctx, reason)
    await audit_refusal(ctx, case, action, member, reason)
    return None


def coordinator_id(ctx: Context) -> str:
    return service.coordinator(ctx.config).id


async def load(ctx: Context, raw_id: str) -> Case | None:
    case = await ctx.uow.cases.get(int(raw_id), for_update=True) if raw_id.isdigit() else None
    if case is None:
        refuse(ctx, STALE)
    return case


# ----------------------------------------------------------------------------------------------------------
# Buttons
# ----------------------------------------------------------------------------------------------------------


async def on_button(ctx: Context, flow: CaseInputFlow) -> None:
    """``case:ACTION:ID[:ARG]`` from a card, a copy, a digest or a list of choices."""
    action, _, rest = ctx.arg.partition(":")
    raw_id, _, extra = rest.partition(":")
    case = await load(ctx, raw_id)
    if case is None:
        return
    member = await authorize(ctx, case, action)
    if member is None:
        return
    try:
        await _act(ctx, flow, case, member, action, extra)
    except service.CaseError as exc:
        alert(ctx, str(exc))


async def _act(ctx: Context, flow: CaseInputFlow, case: Case, member: StaffMember, action: str, extra: str) -> None:
    uow, config, now = ctx.uow, ctx.config, ctx.now
    if action == "contact":
        await reveal_contact(ctx, case, member)
        return
    if action == "open":
        await open_card(ctx, case)
        return
    view = await service.load_view(uow, case)
    if action == "ack":
        alert(ctx, await service.acknowledge(uow, config, view, member, now))
    elif action == "take":
        alert(ctx, await service.take(uow, config, view, member, now))
    elif action == "seen":
        alert(ctx, await service.copy_seen(uow, config, view, member, now))
    elif action == "assign":
        await offer_assignees(ctx, case)
    elif action == "asg":
        assignee = await _staff_by_id(ctx, extra)
        if assignee is None or assignee.agency != case.lead or not assignee.active:
            alert(ctx, "Cán bộ này không còn hoạt động trong cơ quan chủ trì.")
            return
        alert(ctx, await service.take(uow, config, view, member, now, assignee=assignee))
    elif action == "xfer":
        offer_agencies(ctx, case)
    elif action == "to":
        target = config.agency(extra)
        if target is None or target.id == case.lead:
            alert(ctx, "Cơ quan này không hợp lệ để chuyển.")
            return
        if not case.open:
            alert(ctx, f"Phản ánh {case.code} đã đóng.")
            return
        await flow.start(ctx, case, "to", member, target=target.id)
    elif action in ("more", "reply", "done", "rej"):
        if not case.open:
            alert(ctx, f"Phản ánh {case.code} đã đóng.")
            return
        await flow.start(ctx, case, action, member)
    else:
        refuse(ctx, STALE)


async def _staff_by_id(ctx: Context, raw: str) -> StaffMember | None:
    if not raw.isdigit():
        return None
    return await ctx.uow.session.get(StaffMember, int(raw))


async def offer_assignees(ctx: Context, case: Case) -> None:
    members = [m for m in await ctx.uow.staff.list(agency=case.lead) if m.channel == ctx.msg.channel]
    if not members:
        alert(ctx, "Cơ quan chủ trì chưa có cán bộ nào trên kênh này.")
        return
    buttons = [Button(f"👤 {m.name}", f"case:asg:{case.id}:{m.id}") for m in members[:20]]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    ctx.reply(f"👥 Phân công {case.code} cho:", rows)


def offer_agencies(ctx: Context, case: Case) -> None:
    agencies = [a for a in ctx.config.agencies if a.id != case.lead]
    buttons = [Button(a.short_name, f"case:to:{case.id}:{a.id}") for a in agencies]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    ctx.reply(f"🔁 Chuyển {case.code} cho cơ quan nào?", rows)


async def reveal_contact(ctx: Context, case: Case, member: StaffMember) -> None:
    """The phone, only to the person who asked (an alert, or a private message), and recorded."""
    complaint = await ctx.uow.complaints.get(case.code)
    if complaint is None:
        refuse(ctx, STALE)
        return
    text = service.contact_text(complaint)
    await ctx.uow.cases.record(case, "contact_viewed", ctx.now, actor=member, note=f"in {ctx.msg.chat_id}")
    private = ctx.msg.chat_kind is ChatKind.PRIVATE
    if private or (ctx.msg.channel in ALERT_CHANNELS and ctx.msg.kind is MessageKind.BUTTON):
        ctx.replies.append(Reply(text, alert=not private))
        return
    await ctx.uow.outbox.enqueue(
        channel=ctx.msg.channel,
        chat_id=ctx.msg.user_id,
        kind=service.KIND_CONTACT,
        payload=Reply(text).to_dict(),
        now=ctx.now,
        ref=case.code,
    )
    ctx.reply("📩 Đã gửi số liên hệ vào tin nhắn riêng của bạn với trợ lý.")


async def open_card(ctx: Context, case: Case) -> None:
    """From a digest: post the case's full card (or copy) in this chat, once."""
    agency = service.agency_for_chat(ctx.config, ctx.msg.channel, ctx.msg.chat_id)
    if agency is None:
        alert(ctx, "Thẻ phản ánh chỉ mở được trong nhóm của cơ quan.")
        return
    assert case.id is not None
    existing = [
        m
        for m in await ctx.uow.cases.messages(case.id, [CaseMessageKind.CARD, CaseMessageKind.COPY])
        if m.channel == ctx.msg.channel and m.chat_id == ctx.msg.chat_id
    ]
    if existing:
        alert(ctx, f"Thẻ {case.code} đã được gửi trong nhóm này; bạn tìm tin nhắn «PHẢN ÁNH {case.code}».")
        return
    view = await service.load_view(ctx.uow, case)
    copy = agency.id != case.lead
    await service.post_card(
        ctx.uow, ctx.config, ctx.services.media, view, agency, ctx.msg.channel, ctx.msg.chat_id, ctx.now,
        copy=copy, allow_digest=False,
    )  # fmt: skip
    alert(ctx, f"📋 Đang gửi thẻ {case.code}…")


# ----------------------------------------------------------------------------------------------------------
# The text-input flow (reply, request for more, outcome, reason)
# ----------------------------------------------------------------------------------------------------------


class CaseInputFlow(Flow):
    """Ask a staff member for one text (in the group, keyed by group and user), then do the action."""

    name = FLOW

    async def start(
        self, ctx: Context, case: Case, action: str, member: StaffMember, *, target: str | None = None
    ) -> None:
        data = {"case": case.id, "action": action, "code": case.code}
        if target:
            data["target"] = target
        self.goto(ctx, "text", data)
        await self.reprompt(ctx, member_name=member.name)

    async def begin(self, ctx: Context) -> None:  # only started from a case button
        ctx.finish()

    async def reprompt(self, ctx: Context, member_name: str | None = None) -> None:
        data = ctx.data
        config = ctx.config
        case = await ctx.uow.cases.get(int(data["case"]))
        lead = service.agency_name(config, case.lead) if case else ""
        text = PROMPTS[data["action"]].format(
            name=member_name or ctx.msg.display_name or "Bạn",
            code=data["code"],
            agency=lead,
            target=service.agency_name(config, data.get("target", "")),
        )
        buttons = [[self.button("✖️ Hủy", "cancel")]]
        if data["action"] == "to":
            buttons[0].insert(0, self.button("⏭ Bỏ qua", "skip"))
        ctx.reply(f"{text}\n{HOW_TO_ANSWER}", buttons)

    async def handle(self, ctx: Context) -> None:
        data = ctx.data
        answer = ctx.arg if ctx.payload else ""
        if answer == "cancel":
            ctx.finish()
            ctx.reply(f"Đã thôi thao tác trên {data['code']}.")
            return
        if ctx.msg.kind is not MessageKind.TEXT and answer != "skip":
            ctx.reply("Ở bước này mình cần một tin nhắn chữ.")
            await self.reprompt(ctx)
            return
        text = "" if answer == "skip" else ctx.text.strip()
        if answer == "skip" and data["action"] != "to":
            await self.reprompt(ctx)
            return
        if answer != "skip" and len(fold_text(text)) < MIN_TEXT:
            ctx.reply("Nội dung ngắn quá; bạn viết rõ hơn nhé.")
            await self.reprompt(ctx)
            return
        if len(text) > MAX_TEXT:
            ctx.reply(f"Nội dung dài quá (tối đa {MAX_TEXT} ký tự); bạn rút gọn giúp mình nhé.")
            await self.reprompt(ctx)
            return
        ctx.finish()
        case = await ctx.uow.cases.get(int(data["case"]), for_update=True)
        if case is None:
            ctx.reply(STALE)
            return
        member = await authorize(ctx, case, data["action"])  # still staff, still their case?
        if member is None:
            return
        uow, config, now = ctx.uow, ctx.config, ctx.now
        try:
            view = await service.load_view(uow, case)
            action = data["action"]
            if action == "more":
                done = await service.request_more(uow, config, view, member, text, now)
            elif action == "reply":
                done = await service.reply_reporter(uow, config, view, member, text, now)
            elif action in ("done", "rej"):
                done = await service.close(uow, config, view, member, text, now, resolved=action == "done")
            else:
                done = await service.transfer(
                    uow, config, ctx.services.media, view, member, data["target"], text or None, now
                )
        except service.CaseError as exc:
            ctx.reply(str(exc))
            return
        ctx.reply(done)


# ----------------------------------------------------------------------------------------------------------
# Messages in staff groups outside any flow
# ----------------------------------------------------------------------------------------------------------

THREAD_KINDS = frozenset(
    k.value
    for k in (
        CaseMessageKind.CARD,
        CaseMessageKind.COPY,
        CaseMessageKind.RELAY,
        CaseMessageKind.REMINDER,
        CaseMessageKind.ESCALATION,
    )
)


async def group_message(ctx: Context) -> bool:
    """A text in a group: a platform "reply to" a case message goes to the reporter; other chatter in a
    staff group is left alone. Returns True when handled (nothing else should answer)."""
    msg = ctx.msg
    if msg.chat_kind is not ChatKind.GROUP:
        return False
    if msg.reply_to_message_id:
        rows = await ctx.uow.cases.by_message(msg.channel, msg.chat_id, msg.reply_to_message_id)
        if rows:
            await reply_in_thread(ctx, rows)
            return True
    return service.is_staff_chat(ctx.config, msg.channel, msg.chat_id)


async def reply_in_thread(ctx: Context, rows: list) -> None:
    threads = [r for r in rows if r.kind in THREAD_KINDS]
    if not threads and {r.kind for r in rows} == {CaseMessageKind.UNREACHABLE.value}:
        # An answer to "the reporter cannot be reached" would not reach them either.
        case = await ctx.uow.cases.get(rows[0].case_id)
        ctx.reply(NOT_RELAYED.format(code=case.code if case else ""))
        return
    case_ids = {r.case_id for r in threads}
    if len(case_ids) != 1:
        ctx.reply("Tin nhắn này gộp nhiều phản ánh. Bạn bấm mã để mở thẻ, rồi trả lời (reply) vào thẻ đó nhé.")
        return
    case = await ctx.uow.cases.get(case_ids.pop(), for_update=True)
    if case is None:
        ctx.reply(STALE)
        return
    member = await authorize(ctx, case, "reply")
    if member is None:
        return
    text = ctx.text.strip()
    if len(fold_text(text)) < MIN_TEXT or len(text) > MAX_TEXT:
        ctx.reply(f"Nội dung trả lời cần từ {MIN_TEXT} đến {MAX_TEXT} ký tự.")
        return
    try:
        view = await service.load_view(ctx.uow, case)
        ctx.reply(await service.reply_reporter(ctx.uow, ctx.config, view, member, text, ctx.now))
    except service.CaseError as exc:
        ctx.reply(str(exc))


# ----------------------------------------------------------------------------------------------------------
# /viec: my open cases
# ----------------------------------------------------------------------------------------------------------


async def my_cases_command(ctx: Context) -> None:
    """/viec — the open cases assigned to me, then those of my agency nobody took yet."""
    member = await ctx.uow.staff.active(ctx.msg.channel, ctx.msg.user_id)
    if member is None:
        ctx.reply("Lệnh này chỉ dành cho cán bộ được phân công.")
        return
    mine = await ctx.uow.cases.open_for(assignee=(member.channel, member.user_id))
    agency = [c for c in await ctx.uow.cases.open_for(agency=member.agency) if c.assignee_user_id is None]
    lines = [f"📋 Việc của {member.name} ({service.agency_name(ctx.config, member.agency, short=True)})"]
    lines.append(f"Đang phụ trách: {len(mine)}")
    lines += [_case_line(c, ctx) for c in mine[:20]]
    lines.append(f"Chưa ai nhận trong cơ quan: {len(agency)}")
    lines += [_case_line(c, ctx) for c in agency[:20]]
    ctx.reply("\n".join(lines))


def _case_line(case: Case, ctx: Context) -> str:
    due = case.ack_due if case.state.unacknowledged else case.resolve_due
    late = " ⚠️ quá hạn" if due is not None and service.as_utc(due) <= ctx.now else ""
    deadline = f" — hạn {service.local_text(due)}" if due is not None else ""
    return f"• {case.code} · {service.STATUS_LABELS[case.state]}{deadline}{late}"
