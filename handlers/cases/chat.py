"""The staff side in chat: case buttons, the text-input flow, "reply to" a card in a group, /viec.

Buttons are ``case:ACTION:CASE_ID[:ARG]`` (signed like every payload; a forged one never gets here), ACTION one
of the action table (:mod:`handlers.cases.actions`). Every press is checked here against the action's ``who``:
only active staff, only for their agency's case (the lead agency; a copy agency may only mark its copy as seen),
supervisors and admins wider:

* **agent**: every action on cases its agency leads, except Phân công;
* **supervisor**: the same and Phân công; a supervisor of the coordinating agency may also transfer any case;
* **admin**: everything, on every case.

Refusals are logged and written to the case's audit trail, and shown only to the person who pressed where
the platform can (an alert). A staff member's conversation in a group is keyed by (channel, group, user),
so two colleagues can type a reply at the same time in the same group.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.cases.actions import ACTIONS, STATE_AUDITS, Act, Action, Who
from handlers.cases.canned import MAX_OFFERED, choices, fill
from handlers.cases.posting import post_card, post_cards, refresh_cards
from handlers.cases.routing import agency_name, coordinator, is_staff_chat
from handlers.cases.sla import reschedule
from handlers.cases.view import CaseView, load_view
from handlers.cases.vocabulary import CASE_STATUS_LABELS, Audit, CaseError
from handlers.clock import as_utc
from handlers.complaints.photos import fetch_media, photo_rows, take_photos
from handlers.complaints.vocabulary import local_text
from handlers.config import AppConfig
from handlers.core import Context, Flow, FlowState, Services
from handlers.matching import fold_text
from handlers.text_safety import ascii_int
from handlers.types import ChatKind, IncomingMessage, MessageKind, Reply
from storage.cases import Case, CaseMessageKind
from storage.staff import StaffMember

logger = logging.getLogger(__name__)

FLOW = "caseinput"
MIN_TEXT = 3
MAX_TEXT = 2000
MAX_REASON = 200
MAX_STAFF_PHOTOS = 5
PHOTO_ACTIONS = frozenset({"reply", "more", "done", "rej"})  # the texts to the reporter that may carry photos
PHOTO_ONLY = "(Mời bạn xem ảnh đính kèm.)"
NO_REASON = "⛔ Cần lý do để đóng {code}: chọn một lý do, hoặc gõ lý do khác ({low}–{high} ký tự)."
REASON_PROMPT = "{name}, bạn chọn lý do «{verb}» {code} (bắt buộc), hoặc gõ lý do khác."

NOT_STAFF = "⛔ Chỉ cán bộ được phân công mới thao tác được trên phản ánh."
LEAD_ONLY = "⛔ Phản ánh {code} do {lead} chủ trì; cơ quan của bạn không thao tác được trên phản ánh này."
ASSIGN_ONLY = "⛔ Chỉ lãnh đạo (supervisor) hoặc quản trị viên mới phân công được."
STALE = "Thẻ này không còn tương ứng với phản ánh nào."
HOW_TO_ANSWER = "Bạn trả lời (reply) vào tin nhắn này; gõ «hủy» để thôi."
NOT_RELAYED = (
    "Trợ lý không gửi được tin tới người phản ánh {code} nên không chuyển nội dung này. Bạn liên hệ người phản "
    "ánh bằng cách khác (nút «📞 Xem liên hệ»); muốn thử gửi lại qua trợ lý thì trả lời (reply) vào thẻ phản ánh."
)


def alert(ctx: Context, text: str) -> None:
    """A short answer for the person who pressed: an alert where the platform has them, else a message."""
    ctx.replies.append(Reply(text, alert=ctx.msg.kind is MessageKind.BUTTON))


def refuse(ctx: Context, text: str) -> None:
    logger.warning(
        "refused case action %r by %s/%s in chat %s: %s",
        ctx.payload or ctx.text[:40],
        ctx.msg.channel,
        ctx.msg.user_id,
        ctx.msg.chat_id,
        text,
    )
    alert(ctx, text)


async def audit_refusal(ctx: Context, case: Case, code: str, member: StaffMember | None, reason: str) -> None:
    await ctx.uow.cases.record(
        case,
        Audit.REFUSED,
        ctx.now,
        actor=member,
        role=member.role if member else "none",
        actor_channel=ctx.msg.channel,
        actor_user_id=ctx.msg.user_id,
        actor_name=ctx.msg.display_name or None,
        note=f"{code}: {reason}",
    )


def refusal(ctx: Context, who: Who, member: StaffMember, case: Case) -> str | None:
    """Why ``member`` (not an admin) may not do an action open to ``who`` on ``case``; None when they may."""
    lead_only = LEAD_ONLY.format(code=case.code, lead=agency_name(ctx.config, case.lead))
    if who is Who.LEAD_OR_COPY:
        return None if member.agency == case.lead or member.agency in case.copies else lead_only
    if who is Who.TRANSFER and member.role == "supervisor" and member.agency == coordinator(ctx.config).id:
        return None
    if member.agency != case.lead:
        return lead_only
    if who is Who.SUPERVISOR and member.role != "supervisor":
        return ASSIGN_ONLY
    return None


async def authorize(ctx: Context, case: Case, code: str) -> StaffMember | None:
    """The staff member allowed to do action ``code`` on ``case``, or None (refused, logged, audited)."""
    member = await ctx.uow.staff.active(ctx.msg.channel, ctx.msg.user_id)
    if member is not None and member.role == "admin":
        return member
    action = ACTIONS.get(code)
    reason = NOT_STAFF if member is None else refusal(ctx, action.who if action else Who.LEAD, member, case)
    if reason is None:
        return member
    refuse(ctx, reason)
    await audit_refusal(ctx, case, code, member, reason)
    return None


async def load(ctx: Context, raw_id: str) -> Case | None:
    case_id = ascii_int(raw_id)
    case = await ctx.uow.cases.get(case_id) if case_id is not None else None  # claimed by perform
    if case is None:
        refuse(ctx, STALE)
    return case


# ----------------------------------------------------------------------------------------------------------
# Doing an action
# ----------------------------------------------------------------------------------------------------------


async def on_button(ctx: Context, flow: CaseInputFlow) -> None:
    """``case:ACTION:ID[:ARG]`` from a card, a copy, a digest or a list of choices."""
    code, _, rest = ctx.arg.partition(":")
    raw_id, _, arg = rest.partition(":")
    raw_id, _, shown = raw_id.partition(".")  # the case's version the button was shown at (none on old cards)
    case = await load(ctx, raw_id)
    if case is None:
        return
    member = await authorize(ctx, case, code)
    if member is None:
        return
    action = ACTIONS.get(code)
    if action is None:
        refuse(ctx, STALE)
    elif action.prompt:
        await ask(ctx, flow, case, member, action, arg, shown)
    else:
        said = await perform(ctx, action, case, member, arg=arg, seen=ascii_int(shown) if shown else None)
        if said:
            alert(ctx, said)


async def ask(
    ctx: Context, flow: CaseInputFlow, case: Case, member: StaffMember, action: Action, arg: str, shown: str = ""
) -> None:
    """An action that needs a text: check its choice and the case, then ask the staff member for the text."""
    problem = action.check(ctx.config, case, arg) if action.check is not None else None
    if problem is not None:
        alert(ctx, problem)
    elif case.state not in action.statuses:
        alert(ctx, f"Phản ánh {case.code} đã đóng.")
    else:
        await flow.start(ctx, case, action.code, member, target=arg or None, seen=ascii_int(shown) if shown else None)


async def perform(
    ctx: Context,
    action: Action,
    case: Case,
    member: StaffMember,
    *,
    text: str = "",
    arg: str = "",
    reason: str = "",
    photos: list[str] | None = None,
    seen: int | None = None,
) -> str | None:
    """Do the action (the member allowed), then show the new state on every card. Returns
    what the staff member is told (None: the action answered itself).

    The change is claimed first on the version the case was read at: of two presses at once (in one process
    or two, on SQLite or PostgreSQL) of actions that change the case, one does it and the other is told how the
    case stands; an action that only adds (an answer to the reporter, a contact viewed) goes on with the case
    read again. ``seen``: the version the pressed button (or the prompt answered) was shown at; an action that
    changes the case is not done on a case changed since (a press after the other one was done, on a card not
    yet redrawn, or a prompt answered after someone else acted).
    """
    moves = action.changes_state
    stale = moves and seen is not None and seen != case.version and not await own_change(ctx, case, member)
    if stale or not await ctx.uow.cases.claim(case, bump=moves):
        await ctx.uow.cases.reread(case)
        if moves or not await ctx.uow.cases.claim(case, bump=False):
            typed = f"\nNội dung bạn đã nhập: «{text}»" if text else ""
            return RACED.format(code=case.code, status=CASE_STATUS_LABELS[case.state]) + typed
    try:
        view = await load_view(ctx.uow, case)
        lead = case.lead
        act = Act(ctx, action, view, member, text=text, arg=arg, reason=reason, photos=photos or [])
        said = await action.run(act)
        if act.recorded:
            await after(ctx, await load_view(ctx.uow, case, view.complaint), lead)
        for other in act.touched:
            await after(ctx, await load_view(ctx.uow, other), other.lead)
        if act.card_for is not None:
            await post_card(
                ctx.uow, ctx.config, ctx.services.media, view, act.card_for, ctx.msg.channel, ctx.msg.chat_id,
                ctx.now, copy=act.card_for.id != case.lead, allow_digest=False,
            )  # fmt: skip
    except CaseError as exc:
        return str(exc)
    return said


RACED = (
    "⏳ Phản ánh {code} vừa được cán bộ khác cập nhật cùng lúc (hiện: {status}); thao tác của bạn chưa được "
    "thực hiện. Bạn xem lại thẻ rồi bấm lại nếu vẫn cần nhé."
)


async def own_change(ctx: Context, case: Case, member: StaffMember) -> bool:
    """Whether the newest change of the case is the member's own (a second button pressed on their card before
    it was redrawn is not a race)."""
    assert case.id is not None
    last = await ctx.uow.cases.last_change(case.id, STATE_AUDITS)
    return last is not None and (last.actor_channel, last.actor_user_id) == (member.channel, member.user_id)


async def after(ctx: Context, view: CaseView, lead: str) -> None:
    """After a change the cards list: the next SLA step, every card re-rendered, and a new lead (a transfer)
    gets its cards (the old lead's card now says where the case went)."""
    await reschedule(ctx.uow, ctx.config, view.case)
    await refresh_cards(ctx.uow, ctx.config, view, ctx.now)
    if view.case.lead != lead:
        await post_cards(ctx.uow, ctx.config, ctx.services.media, view, ctx.now, copies=False)


# ----------------------------------------------------------------------------------------------------------
# The text-input flow (reply, request for more, outcome, reason)
# ----------------------------------------------------------------------------------------------------------


class CaseInputFlow(Flow):
    """Ask a staff member for one text (in the group, keyed by group and user), then do the action; a closing
    first asks for its reason (the agency's list, or typed). The agency's canned replies are offered as buttons."""

    name = FLOW
    accepts = frozenset({MessageKind.TEXT, MessageKind.BUTTON, MessageKind.PHOTO, MessageKind.DOCUMENT})

    async def start(
        self,
        ctx: Context,
        case: Case,
        action: str,
        member: StaffMember,
        *,
        target: str | None = None,
        seen: int | None = None,
    ) -> None:
        data = {"case": case.id, "action": action, "code": case.code, "version": case.version if seen is None else seen}
        if target:
            data["target"] = target
        self.goto(ctx, "reason" if ACTIONS[action].reasons else "text", data)
        await self.reprompt(ctx, member_name=member.name)

    async def begin(self, ctx: Context) -> None:  # only started from a case button
        ctx.finish()

    async def prepare(self, msg: IncomingMessage, state: FlowState, services: Services) -> Any:
        """A photo sent for the reporter: stored before the step's transaction."""
        wanted = state.step == "text" and state.data.get("action") in PHOTO_ACTIONS
        return await fetch_media(msg, services, MAX_STAFF_PHOTOS) if wanted else None

    async def reprompt(self, ctx: Context, member_name: str | None = None) -> None:
        data = ctx.data
        config = ctx.config
        action = ACTIONS[data["action"]]
        case = await ctx.uow.cases.get(int(data["case"]))
        name = member_name or ctx.msg.display_name or "Bạn"
        cancel = self.button("✖️ Hủy", "cancel")
        if ctx.state is not None and ctx.state.step == "reason":
            reasons = close_reasons(config, case, action.code)
            buttons = [[self.button(r, f"r{i}")] for i, r in enumerate(reasons)]
            verb = action.button.split(" ", 1)[-1]
            ctx.reply(REASON_PROMPT.format(name=name, verb=verb, code=data["code"]), [*buttons, [cancel]])
            return
        text = action.prompt.format(
            name=name,
            code=data["code"],
            agency=agency_name(config, case.lead) if case else "",
            target=agency_name(config, data.get("target", "")),
        )
        buttons = [[cancel]]
        if action.skippable:
            buttons[0].insert(0, self.button("⏭ Bỏ qua", "skip"))
        if action.canned and case is not None:
            offered = (await choices(ctx.uow, config, case.lead, action.code))[:MAX_OFFERED]
            buttons = [[self.button(f"📄 {c.title}", c.key)] for c in offered] + buttons
            text += "\nHoặc chọn một mẫu trả lời có sẵn." if offered else ""
        photos = "\nBạn có thể gửi kèm ảnh (chú thích của ảnh là nội dung)." if action.code in PHOTO_ACTIONS else ""
        ctx.reply(f"{text}{photos}\n{HOW_TO_ANSWER}", buttons)

    async def handle(self, ctx: Context) -> None:
        data = ctx.data
        answer = ctx.arg if ctx.payload else ""
        if answer == "cancel":
            ctx.finish()
            ctx.reply(f"Đã thôi thao tác trên {data['code']}.")
            return
        case = await ctx.uow.cases.get(int(data["case"]))  # claimed by perform
        if case is None:
            ctx.finish()
            ctx.reply(STALE)
            return
        if ctx.state is not None and ctx.state.step == "reason":
            reason = self.reason(ctx, case, answer)
            if reason is not None:
                self.goto(ctx, "text", {**data, "reason": reason})
            await self.reprompt(ctx)
            return
        photos = None
        if ctx.msg.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT) and data["action"] in PHOTO_ACTIONS:
            photos = await self.staff_photos(ctx, case)
            text = (ctx.text.strip() or PHOTO_ONLY) if photos else None
        elif answer[:1] in ("c", "d"):
            text = await self.canned(ctx, case, answer)
        else:
            text = await self.typed(ctx, answer)
        if text is None:
            return
        ctx.finish()
        member = await authorize(ctx, case, data["action"])  # still staff, still their case?
        if member is None:
            return
        action = ACTIONS[data["action"]]
        said = await perform(
            ctx,
            action,
            case,
            member,
            text=text,
            arg=data.get("target", ""),
            reason=data.get("reason", ""),
            photos=photos,
            seen=data.get("version"),
        )
        if said:
            ctx.reply(said)

    def reason(self, ctx: Context, case: Case, answer: str) -> str | None:
        """The reason chosen (a button) or typed; None (said why) when there is none."""
        reasons = close_reasons(ctx.config, case, ctx.data["action"])
        chosen = ascii_int(answer[1:]) if answer[:1] == "r" else None
        if chosen is not None and chosen < len(reasons):
            return reasons[chosen]
        text = ctx.text.strip() if ctx.msg.kind is MessageKind.TEXT and not answer else ""
        if len(fold_text(text)) < MIN_TEXT or len(text) > MAX_REASON:
            ctx.reply(NO_REASON.format(code=case.code, low=MIN_TEXT, high=MAX_REASON))
            return None
        return text

    async def staff_photos(self, ctx: Context, case: Case) -> list[str] | None:
        """The photos sent, kept with the report (source ``staff``) and relayed; None (said why) when none."""
        intake = await take_photos(ctx, set(), MAX_STAFF_PHOTOS, MAX_STAFF_PHOTOS)
        if intake.problems:
            ctx.reply("\n".join(intake.problems))
        complaint = await ctx.uow.complaints.get(case.code)
        if not intake.added or complaint is None or ctx.services.media is None:
            await self.reprompt(ctx)
            return None
        await ctx.uow.complaints.add_photos(complaint, photo_rows(intake.added, "staff"), ctx.now)
        return [str(ctx.services.media.path(entry["sha256"])) for entry in intake.added]

    async def canned(self, ctx: Context, case: Case, key: str) -> str | None:
        """The canned reply chosen, with the case's fields filled in."""
        found = [c for c in await choices(ctx.uow, ctx.config, case.lead, ctx.data["action"]) if c.key == key]
        if not found:
            ctx.reply("Mẫu trả lời này không còn; bạn chọn mẫu khác hoặc tự nhập nội dung.")
            await self.reprompt(ctx)
            return None
        complaint = await ctx.uow.complaints.get(case.code)
        assert complaint is not None
        return fill(found[0].text, ctx.config, case, complaint, ctx.now)

    async def typed(self, ctx: Context, answer: str) -> str | None:
        """The text typed (or "" when skipped), or None after asking again."""
        skippable = ACTIONS[ctx.data["action"]].skippable
        if ctx.msg.kind is not MessageKind.TEXT and answer != "skip":
            ctx.reply("Ở bước này mình cần một tin nhắn chữ.")
        elif answer == "skip":
            if skippable:
                return ""
        else:
            text = ctx.text.strip()
            if len(fold_text(text)) < MIN_TEXT:
                ctx.reply("Nội dung ngắn quá; bạn viết rõ hơn nhé.")
            elif len(text) > MAX_TEXT:
                ctx.reply(f"Nội dung dài quá (tối đa {MAX_TEXT} ký tự); bạn rút gọn giúp mình nhé.")
            else:
                return text
        await self.reprompt(ctx)
        return None


def close_reasons(config: AppConfig, case: Case | None, action: str) -> list[str]:
    """The lead agency's reasons for closing with ``action`` (done, rej)."""
    agency = config.agency(case.lead) if case is not None else None
    return list(getattr(agency.close_reasons, action, [])) if agency is not None else []


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
        CaseMessageKind.TOPIC,
    )
)


async def group_message(ctx: Context) -> bool:
    """A text in a group: a platform "reply to" a case message goes to the reporter; other chatter in a
    staff group is left alone. Returns True when handled (nothing else should answer)."""
    msg = ctx.msg
    if msg.chat_kind is not ChatKind.GROUP:
        return False
    # A "reply to" a case message; else a message written in a case's forum topic (handlers/cases/topics.py).
    for answered in dict.fromkeys(m for m in (msg.reply_to_message_id, msg.thread_id) if m):
        rows = await ctx.uow.cases.by_message(msg.channel, msg.chat_id, answered)
        if rows:
            await reply_in_thread(ctx, rows)
            return True
    return is_staff_chat(ctx.config, msg.channel, msg.chat_id)


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
    case = await ctx.uow.cases.get(case_ids.pop())  # claimed by perform
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
    said = await perform(ctx, ACTIONS["reply"], case, member, text=text)
    if said:
        ctx.reply(said)


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
    lines = [f"📋 Việc của {member.name} ({agency_name(ctx.config, member.agency, short=True)})"]
    lines.append(f"Đang phụ trách: {len(mine)}")
    lines += [_case_line(c, ctx) for c in mine[:20]]
    lines.append(f"Chưa ai nhận trong cơ quan: {len(agency)}")
    lines += [_case_line(c, ctx) for c in agency[:20]]
    ctx.reply("\n".join(lines))


def _case_line(case: Case, ctx: Context) -> str:
    due = case.ack_due if case.state.unacknowledged else case.resolve_due
    late = " ⚠️ quá hạn" if due is not None and as_utc(due) <= ctx.now else ""
    deadline = f" — hạn {local_text(due)}" if due is not None else ""
    return f"• {case.code} · {CASE_STATUS_LABELS[case.state]}{deadline}{late}"
