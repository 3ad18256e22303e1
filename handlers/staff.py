"""Staff of the agencies in the plan: who they are (from the configuration) and their chat commands."""

from __future__ import annotations

import logging

from handlers.config import Agency, AppConfig, StaffMember
from handlers.core import Context
from storage.questions import QuestionStatus, parse_code

logger = logging.getLogger(__name__)

NOT_STAFF = "Lệnh này chỉ dành cho cán bộ được phân công."


def lead_agency_for_questions(config: AppConfig) -> Agency:
    """The agency that answers merchants' questions (the routing rule for merchant questions)."""
    for rule in config.routing:
        if rule.kind == "merchant_question":
            agency = config.agency(rule.lead)
            if agency is not None:
                return agency
    return config.agencies[0]


def staff_member(ctx: Context) -> StaffMember | None:
    return next(
        (m for m in ctx.config.staff if m.channel == ctx.msg.channel and m.user_id == ctx.msg.user_id),
        None,
    )


def require_staff(ctx: Context, *roles: str) -> StaffMember | None:
    """Return the staff member, or refuse (and log) anyone else."""
    member = staff_member(ctx)
    if member is None or (roles and member.role not in roles):
        logger.warning("refused staff command %r from %s/%s", ctx.text[:40], ctx.msg.channel, ctx.msg.user_id)
        ctx.reply(NOT_STAFF)
        return None
    return member


async def answer_question_command(ctx: Context) -> None:
    """/traloi Q12 nội dung — answer a forwarded merchant question."""
    from handlers.qa import record_staff_answer

    member = require_staff(ctx)
    if member is None:
        return
    parts = ctx.text.split(maxsplit=2)
    question_id = parse_code(parts[1]) if len(parts) > 1 else None
    if question_id is None or len(parts) < 3 or not parts[2].strip():
        ctx.reply("Cú pháp: /traloi MÃ_CÂU_HỎI nội dung trả lời. Ví dụ: /traloi Q12 Anh/chị không cần thông báo…")
        return
    question = await ctx.uow.questions.get(question_id)
    if question is None:
        ctx.reply(f"Không tìm thấy câu hỏi Q{question_id}.")
        return
    if question.status == QuestionStatus.STAFF_ANSWERED.value:
        ctx.reply(f"Câu hỏi {question.code} đã được trả lời trước đó ({question.answered_by}).")
        return
    await record_staff_answer(ctx.uow, ctx.config, question, parts[2].strip(), member.name, ctx.now)
    ctx.reply(f"✅ Đã ghi nhận câu trả lời cho {question.code}; người hỏi sẽ nhận được ngay.")


async def reload_knowledge_command(ctx: Context) -> None:
    """/capnhatkb — reload the knowledge-base files without a restart."""
    if require_staff(ctx, "supervisor", "admin") is None:
        return
    kb = ctx.services.knowledge
    if kb is None:
        ctx.reply("Chưa nạp cơ sở tri thức.")
        return
    try:
        kb.reload()
    except Exception as exc:  # a broken file must not take the running knowledge base down
        logger.exception("knowledge reload failed")
        ctx.reply(f"❌ Không nạp lại được: {exc}\nCơ sở tri thức cũ vẫn được dùng.")
        return
    ctx.reply(f"✅ Đã nạp lại cơ sở tri thức: {len(kb)} mục.")
