"""The reporter's verdict: after a closing they are asked once whether it was solved, and may reopen the case.

The question is queued in the closing's transaction (a dedupe key per case and closing), so it is asked once
whatever the restarts and processes; on Zalo its buttons become numbered lines. A question that cannot reach the
reporter (Zalo OA outside its window, the bot blocked) fails for good and the lead agency is told
(:mod:`handlers.cases.unreachable`). «Chưa được giải quyết» within ``cases.reopen_days`` of the closing reopens
the case: new deadlines, the lead agency told under its card, every card redrawn.
"""

from __future__ import annotations

from datetime import timedelta

from handlers.cases.posting import post_to_chats, refresh_cards
from handlers.cases.reporter import UNSOLVED, VERDICTS, public_event
from handlers.cases.routing import agency_chats, agency_name, due_times
from handlers.cases.sla import reschedule
from handlers.cases.view import load_view
from handlers.cases.vocabulary import Audit, OutboxKind
from handlers.clock import as_utc
from handlers.core import Context
from handlers.text_safety import ascii_int
from handlers.types import Reply
from storage.cases import Case, CaseMessageKind
from storage.complaints import Complaint, ComplaintStatus

THANKS = "🙏 Cảm ơn bạn đã cho biết ý kiến về phản ánh {code}!"
REOPENED = "♻️ Cảm ơn bạn. Phản ánh {code} đã được mở lại; {agency} sẽ xử lý tiếp và báo bạn qua tin nhắn này."
TOO_LATE = (
    "Phản ánh {code} đã đóng quá {days} ngày nên không mở lại được. Bạn có thể gửi phản ánh mới bằng /phananh "
    "(ghi mã {code}) hoặc gọi Tổng đài tư vấn người tiêu dùng 1800 6838 (miễn phí)."
)
TO_STAFF = (
    "♻️ Người phản ánh {code} cho biết vấn đề CHƯA được giải quyết; phản ánh đã được mở lại và tính hạn xử lý "
    "mới. Bạn trả lời (reply) vào tin nhắn này để nhắn người phản ánh."
)


async def on_verdict(ctx: Context) -> None:
    """``verdict:CASE_ID:ROUND:CHOICE`` pressed (or its number typed) by the reporter."""
    raw_id, _, rest = ctx.arg.partition(":")
    round_, _, choice = rest.partition(":")
    case = await ctx.uow.cases.get(case_id, for_update=True) if (case_id := ascii_int(raw_id)) is not None else None
    complaint = await ctx.uow.complaints.get(case.code) if case else None
    if case is None or complaint is None or choice not in VERDICTS:
        ctx.reply("Câu hỏi này không còn hiệu lực.")
        return
    if (ctx.msg.channel, ctx.msg.chat_id) != (complaint.channel, complaint.chat_id):
        ctx.reply("Câu hỏi này dành cho người đã gửi phản ánh.")
        return
    target = await ctx.uow.cases.get(case.merged_into, for_update=True) if case.merged_into else case
    if target is None or target.open or round_ != str(target.reopens) or case.verdict:
        ctx.reply(f"Bạn đã trả lời câu hỏi về phản ánh {case.code} rồi. Cảm ơn bạn!")
        return
    if not await ctx.uow.cases.set_verdict(case, choice, ctx.now):
        ctx.reply(f"Bạn đã trả lời câu hỏi về phản ánh {case.code} rồi. Cảm ơn bạn!")
        return
    await ctx.uow.cases.record(
        case, Audit.VERDICT, ctx.now, role="reporter", actor_channel=ctx.msg.channel,
        actor_user_id=ctx.msg.user_id, note=VERDICTS[choice],
    )  # fmt: skip
    if choice != UNSOLVED:
        ctx.reply(THANKS.format(code=case.code))
        return
    days = ctx.config.cases.reopen_days
    if target.closed_at is None or ctx.now - as_utc(target.closed_at) > timedelta(days=days):
        ctx.reply(TOO_LATE.format(code=case.code, days=days))
        return
    if await reopen(ctx, target, complaint if target is case else None):
        ctx.reply(REOPENED.format(code=case.code, agency=agency_name(ctx.config, target.lead)))
    else:
        ctx.reply(f"Phản ánh {case.code} đã được mở lại trước đó; cơ quan đang xử lý tiếp.")


async def reopen(ctx: Context, case: Case, complaint: Complaint | None) -> bool:
    """Open the case again with new deadlines; the lead agency hears it under its card, the cards show it (every
    reporter of it reads it in /tracuu)."""
    uow, config, now = ctx.uow, ctx.config, ctx.now
    view = await load_view(uow, case, complaint)
    before = case.snapshot()
    if not await uow.cases.reopen(case, now, due_times(config, view.complaint.category, now)):
        return False
    await uow.cases.record(
        case, Audit.REOPENED, now, before=before, role="reporter", actor_channel=ctx.msg.channel,
        actor_user_id=ctx.msg.user_id, note=f"Đóng lúc trước: {case.close_reason or ''}",
    )  # fmt: skip
    note = "Người phản ánh cho biết chưa được giải quyết; phản ánh được mở lại"
    for each in view.complaints:
        await public_event(uow, each, now, note, status=ComplaintStatus.IN_PROGRESS)
    await post_to_chats(
        uow, case, agency_chats(config, case.lead), Reply(TO_STAFF.format(code=case.code)),
        kind=OutboxKind.REOPENED, message_kind=CaseMessageKind.RELAY, now=now,
        dedupe=f"reopened:{case.id}:{case.reopens}", agency=case.lead,
    )  # fmt: skip
    await reschedule(uow, config, case)
    await refresh_cards(uow, config, view, now)
    return True
