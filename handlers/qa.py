"""Merchant Q&A: answer from the knowledge base with its legal basis, or suggest topics and offer staff.

Every question is recorded (for feedback and for the unanswered list). A confident answer shows the
entry's legal basis and validity, 👍 / 👎, and related topics. Below the confidence threshold the assistant
does not guess: it shows up to three likely topics and offers to forward the question to staff.

Answers are dated: the wording shown is the one in force on the day the question is about (a date, an occasion or
a year it names; else today by the clock), and a replaced rule is shown through its successor. A question about
another domain gets what the assistant covers; a told situation gets its relevant topics summarised together.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime

from handlers import texts
from handlers.clock import local
from handlers.config import AppConfig
from handlers.core import Context, Flow, Router, start
from handlers.delivery import channel_name, unreachable_cause
from handlers.promotion import answer_plan
from handlers.promotion.check import campaign_windows
from handlers.smalltalk import REPLIES, SmallTalk, classify
from handlers.staff import lead_agency_for_questions, require_staff
from handlers.text_safety import ascii_int
from handlers.types import Button, ChatKind, Reply
from knowledge import Entry, KnowledgeBase, MatchResult
from knowledge.dated import Shown, question_date, resolve
from knowledge.placeholders import fill
from storage.db import UnitOfWork
from storage.outbox import Undelivered
from storage.questions import Question, QuestionStatus, parse_code
from storage.staff import StaffMember

logger = logging.getLogger(__name__)

PROMPT = (
    "Bạn cứ gõ câu hỏi về khuyến mại, giảm giá, đăng ký, thông báo… (có dấu hay không dấu đều được).\n"
    "Ví dụ: «Online Friday được giảm giá tối đa bao nhiêu?»"
)
NOT_SURE = "Mình chưa chắc đã hiểu đúng câu hỏi nên không trả lời đoán. Có phải bạn muốn hỏi một trong các ý sau?"
NO_TOPIC = "Mình chưa có thông tin về câu hỏi này."
OFFER_STAFF = "bạn có thể gửi câu hỏi cho cán bộ {agency} để được trả lời trực tiếp tại đây."


def also(offer: str) -> str:
    """'bạn có thể gửi…' → 'Bạn cũng có thể gửi…' (never "Bạn cũng có thể bạn có thể")."""
    return offer.replace("bạn có thể", "Bạn cũng có thể", 1)


NO_WORDS = "Mình chưa đọc được câu hỏi nào trong tin này. " + PROMPT
FORWARD_LABEL = "📨 Đồng ý gửi câu hỏi cho cán bộ Sở"
THANKS_UP = "Cảm ơn bạn đã đánh giá! 🙏"
THANKS_DOWN = "Cảm ơn góp ý của bạn! Mình sẽ dùng nó để cải thiện câu trả lời."
UNAVAILABLE = "Xin lỗi, phần hỏi đáp tạm thời chưa sẵn sàng. Bạn vui lòng thử lại sau."
ANSWER_KIND = "question_answer"  # the outbox kind of a staff answer on its way to the asker
QUESTION_KIND = "merchant_question"  # the outbox kind of a question forwarded to staff
MIN_ANSWER, MAX_ANSWER = 5, 3000
ANSWER_LENGTH = f"Câu trả lời cần từ {MIN_ANSWER} đến {MAX_ANSWER} ký tự. Bạn gửi lại giúp nhé."
VERIFY_NOTE = "⚠️ Một phần thông tin cần kiểm chứng với Sở Công Thương trước khi áp dụng."
REPLACED_NOTE = "ℹ️ «{title}» chỉ áp dụng đến hết {until}; dưới đây là quy định áp dụng từ sau ngày đó."
HISTORY_NOTE = "ℹ️ Quy định này áp dụng đến hết {until}; sau đó xem «{title}»."
SCOPE = (
    "Câu hỏi này nằm ngoài phạm vi của trợ lý. Mình chỉ hỗ trợ về khuyến mại, giảm giá và thủ tục khuyến mại, "
    "thương mại điện tử, Online Friday, quyền lợi người tiêu dùng và phản ánh hàng giả, hàng kém chất lượng."
)
SITUATION_LEAD = "Tình huống bạn kể liên quan đến {n} nội dung sau (tóm tắt, bấm từng mục để xem đầy đủ):"
SUMMARY_CHARS = 320


def entry_token(entry_id: str) -> str:
    """A short stable token for an entry id, so button payloads stay under Telegram's 64 bytes."""
    return hashlib.blake2b(entry_id.encode(), digest_size=4).hexdigest()


def find_entry(kb: KnowledgeBase, token: str) -> Entry | None:
    return next((e for e in kb.entries.values() if entry_token(e.id) == token), None)


def _vn_day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def format_answer(entry: Entry, replaced: Entry | None = None, successor: Entry | None = None) -> str:
    """An entry's wording with its basis and dates; *replaced*: the ended rule it stands in for; *successor*:
    the entry that took over after this one ended (a question about a past date)."""
    lines = [f"📌 {entry.title}", ""]
    if replaced is not None and replaced.validity.until is not None:
        lines += [REPLACED_NOTE.format(title=replaced.title, until=_vn_day(replaced.validity.until)), ""]
    lines += [entry.answer.strip(), ""]
    if entry.legal_basis:
        lines.append("⚖️ Căn cứ: " + "; ".join(entry.legal_basis))
    lines.append(f"🗓 Hiệu lực: {entry.validity.text}")
    if successor is not None and entry.validity.until is not None:
        lines.append(HISTORY_NOTE.format(until=_vn_day(entry.validity.until), title=successor.title))
    if entry.verify and "kiểm chứng" not in entry.answer:
        lines.append(VERIFY_NOTE)
    return "\n".join(lines)


def format_shown(shown: Shown, entries: dict[str, Entry]) -> str:
    """:func:`format_answer` of a resolved entry (the successor named when the rule ended later)."""
    entry = shown.entry
    successor = entries.get(entry.replaced_by) if entry.replaced_by and shown.replaced is None else None
    return format_answer(entry, shown.replaced, successor)


def _summary(text: str) -> str:
    """The opening lines of an answer, up to :data:`SUMMARY_CHARS` (an intro ending in ":" takes its list)."""
    out = ""
    for line in text.strip().split("\n"):
        if out and len(out) + len(line) > SUMMARY_CHARS:
            break
        out = f"{out}\n{line}" if out else line
    return out if len(out) <= SUMMARY_CHARS else out[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"


def format_combined(shown: list[Shown]) -> str:
    """A told situation: each relevant entry summarised with its basis, in force on the day it is about."""
    lines = [SITUATION_LEAD.format(n=len(shown))]
    for item in shown:
        entry = item.entry
        lines += ["", f"📌 {entry.title}", _summary(entry.answer)]
        if entry.legal_basis:
            lines.append("⚖️ Căn cứ: " + "; ".join(entry.legal_basis))
        if entry.verify:
            lines.append(VERIFY_NOTE)
    return "\n".join(lines)


def dated(kb: KnowledgeBase, config: AppConfig, entry: Entry, text: str, now: datetime) -> Shown:
    """*entry* as worded on the day *text* is about (a date, an occasion or a year it names; else today)."""
    return resolve(entry, question_date(text, now, campaign_windows(config)), kb.entries)


def competent(config: AppConfig, text: str, now: datetime) -> dict[str, str]:
    """The placeholders of an answer: the Sở competent on the day *text* is about, and today's (``…_nay``)."""
    today = config.competent(local(now).date())
    day = config.competent(question_date(text, now, campaign_windows(config)))
    return {**day, **{f"{name}_nay": value for name, value in today.items()}}


def answer_text(kb: KnowledgeBase, config: AppConfig, result: MatchResult, text: str, now: datetime) -> str | None:
    """The text a chat shows for *result* (a combined situation, one dated entry), or None when not answered."""
    if result.combined and len(result.combined) > 1:
        shown = format_combined([dated(kb, config, entry, text, now) for entry in result.combined])
    elif result.best is None:
        return None
    else:
        shown = format_shown(dated(kb, config, result.best, text, now), kb.entries)
    return fill(shown, competent(config, text, now))


class QaFlow(Flow):
    """Waiting for a question after "Hỏi đáp" was chosen; free text anywhere else is answered too."""

    name = "qa"

    async def begin(self, ctx: Context) -> None:
        self.goto(ctx, "ask", {})
        ctx.reply(PROMPT)

    async def reprompt(self, ctx: Context) -> None:
        ctx.reply(PROMPT)

    async def handle(self, ctx: Context) -> None:
        ctx.finish()
        await answer_question(ctx, ctx.text)


def _kb(ctx: Context) -> KnowledgeBase | None:
    kb = ctx.services.knowledge
    if kb is None:
        ctx.reply(UNAVAILABLE, texts.menu_buttons())
    return kb


async def answer_question(ctx: Context, text: str) -> None:
    """Answer a typed question (a confident answer or suggestions + staff offer); small talk gets a short reply."""
    talk = classify(text)
    if talk is SmallTalk.GREETING:
        await start(ctx)
        return
    if talk is not None:
        ctx.reply(REPLIES[talk])
        return
    if not any(ch.isalnum() for ch in text):  # "???", "..." — nothing to look up or to forward to staff
        ctx.reply(NO_WORDS)
        return
    if await answer_plan(ctx, text):  # a described promotion gets its verdict (or what is missing is asked)
        return
    kb = _kb(ctx)
    if kb is None:
        return
    result = kb.match(text)
    best = result.best
    question = await ctx.uow.questions.add(
        Question(
            channel=ctx.msg.channel,
            chat_id=ctx.msg.chat_id,
            user_id=ctx.msg.user_id,
            display_name=ctx.msg.display_name,
            text=text,
            entry_id=result.ranked[0].entry.id if result.ranked else None,
            score=result.ranked[0].score if result.ranked else 0.0,
            status=(QuestionStatus.ANSWERED if best else QuestionStatus.UNANSWERED).value,
            created_at=ctx.now,
        )
    )
    logger.info("question %s: confident=%s entry=%s", question.id, result.confident, question.entry_id)
    if result.combined and len(result.combined) > 1:
        show_combined(ctx, kb, result, text, question.id)
    elif best is not None:
        show_entry(ctx, kb, best, question.id, text)
    else:
        suggest(ctx, result, question.id)


def show_combined(ctx: Context, kb: KnowledgeBase, result: MatchResult, text: str, question_id: int) -> None:
    shown = [dated(kb, ctx.config, entry, text, ctx.now) for entry in result.combined]
    rows = [[Button(f"🔗 {s.entry.title}", f"qa:e:{question_id}:{entry_token(s.entry.id)}")] for s in shown]
    rows.append([Button(FORWARD_LABEL, f"qa:fwd:{question_id}")])
    ctx.reply(fill(format_combined(shown), competent(ctx.config, text, ctx.now)), rows)


def show_entry(ctx: Context, kb: KnowledgeBase, entry: Entry, question_id: int | None, text: str = "") -> None:
    shown = dated(kb, ctx.config, entry, text, ctx.now)
    entry = shown.entry
    qid = question_id or 0
    rows = [[Button("👍 Hữu ích", f"qa:up:{qid}:{entry_token(entry.id)}"),
             Button("👎 Chưa đúng", f"qa:down:{qid}:{entry_token(entry.id)}")]]  # fmt: skip
    for related_id in entry.related[:3]:
        related = kb.entries.get(related_id)
        if related is not None:
            rows.append([Button(f"🔗 {related.title}", f"qa:e:{qid}:{entry_token(related.id)}")])
    ctx.reply(fill(format_shown(shown, kb.entries), competent(ctx.config, text, ctx.now)), rows)


def suggest(ctx: Context, result: MatchResult, question_id: int) -> None:
    """Likely topics and the staff offer; a question about another domain gets what is covered, no topics."""
    agency = lead_agency_for_questions(ctx.config)
    ranked = [] if result.off_topic else result.ranked[:3]
    rows = [[Button(f"❔ {s.entry.title}", f"qa:e:{question_id}:{entry_token(s.entry.id)}")] for s in ranked]
    rows.append([Button(FORWARD_LABEL, f"qa:fwd:{question_id}")])
    offer = OFFER_STAFF.format(agency=agency.short_name)
    if result.off_topic:
        ctx.reply(f"{SCOPE}\n\n{NO_TOPIC} Nếu câu hỏi vẫn liên quan, {offer}", rows)
        return
    ctx.reply(f"{NOT_SURE}\n\nHoặc {offer}" if rows[:-1] else f"{NO_TOPIC} {also(offer)}", rows)


async def on_button(ctx: Context) -> None:
    """Handle qa:e (show a topic), qa:up / qa:down (feedback) and qa:fwd (forward to staff)."""
    action, _, rest = ctx.arg.partition(":")
    qid_text, _, token = rest.partition(":")
    qid = ascii_int(qid_text)
    question = await ctx.uow.questions.get(qid) if qid else None
    if question is not None and (question.channel, question.user_id) != (ctx.msg.channel, ctx.msg.user_id):
        question = None  # a button copied from someone else's chat acts on nothing of theirs
    kb = _kb(ctx)
    if kb is None:
        return
    if action == "e":
        entry = find_entry(kb, token)
        if entry is None:
            ctx.reply(texts.BUTTON_STALE, texts.menu_buttons())
            return
        if question is not None and question.status == QuestionStatus.UNANSWERED.value:
            question.entry_id = entry.id
        show_entry(ctx, kb, entry, question.id if question else None)
    elif action in ("up", "down"):
        if question is not None:
            question.helpful = action == "up"
            entry = find_entry(kb, token)
            if entry is not None:
                question.entry_id = entry.id
        if action == "up":
            ctx.reply(THANKS_UP)
        elif question is not None and question.status != QuestionStatus.FORWARDED.value:
            agency = lead_agency_for_questions(ctx.config)
            ctx.reply(
                f"{THANKS_DOWN}\n{also(OFFER_STAFF.format(agency=agency.short_name))}",
                [[Button(FORWARD_LABEL, f"qa:fwd:{question.id}")]],
            )
        else:
            ctx.reply(THANKS_DOWN)
    elif action == "fwd":
        await forward(ctx, question)
    else:
        ctx.reply(texts.BUTTON_STALE, texts.menu_buttons())


async def forward(ctx: Context, question: Question | None) -> None:
    """Send the question to the lead agency's staff, with the asker's consent (the pressed button)."""
    if question is None:
        ctx.reply(texts.BUTTON_STALE, texts.menu_buttons())
        return
    agency = lead_agency_for_questions(ctx.config)
    if question.status in (QuestionStatus.FORWARDED.value, QuestionStatus.STAFF_ANSWERED.value):
        ctx.reply(f"Câu hỏi {question.code} đã được gửi tới {agency.short_name} rồi. Cán bộ sẽ trả lời bạn tại đây.")
        return
    question.status = QuestionStatus.FORWARDED.value
    question.forwarded_at = ctx.now
    staff_text = (
        f"❓ Câu hỏi của thương nhân {question.code}\n"
        f"Từ: {question.display_name or 'người dùng'} ({question.channel})\n\n"
        f"{question.text}\n\n"
        f"Bấm «Trả lời», trả lời (reply) tin này, hoặc gõ: /traloi {question.code} <nội dung>"
    )
    staff_reply = Reply(staff_text, [[Button("✍️ Trả lời", f"qans:{question.code}")]])
    for channel, chat_ids in agency.chats.items():
        for chat_id in chat_ids:
            await ctx.uow.outbox.enqueue(
                channel=channel,
                chat_id=chat_id,
                kind=QUESTION_KIND,
                payload=staff_reply.to_dict(),
                now=ctx.now,
                dedupe_key=f"question:{question.id}:{channel}:{chat_id}",
                ref=question.code,
            )
    ctx.reply(
        f"📨 Đã gửi câu hỏi của bạn tới {agency.name} (mã {question.code}). "
        "Khi cán bộ trả lời, câu trả lời sẽ được gửi cho bạn ngay tại đây.",
        texts.menu_buttons(),
    )


async def record_staff_answer(
    uow: UnitOfWork, config: AppConfig, question: Question, answer: str, staff_name: str, now: datetime
) -> None:
    """Record a staff answer and queue it for the asker, attributed to the agency (not the person)."""
    agency = lead_agency_for_questions(config)
    question.status = QuestionStatus.STAFF_ANSWERED.value
    question.staff_answer = answer
    question.answered_by = staff_name
    question.answered_at = now
    await uow.outbox.enqueue(
        channel=question.channel,
        chat_id=question.chat_id,
        kind=ANSWER_KIND,
        payload={"text": f"💬 {agency.name} trả lời câu hỏi {question.code} của bạn:\n«{question.text}»\n\n{answer}"},
        now=now,
        dedupe_key=f"answer:{question.id}",
        ref=question.code,
    )


async def answer_undelivered(uow: UnitOfWork, config: AppConfig, failures: list[Undelivered], now: datetime) -> int:
    """The outbox sender's hook for staff answers that could not reach the asker (Zalo OA 7-day window, a
    blocked bot, retries spent): the agency that answered is told, once per failed row."""
    agency = lead_agency_for_questions(config)
    queued = 0
    for failure in failures:
        if failure.kind != ANSWER_KIND or not failure.ref:
            continue
        channel, cause = channel_name(failure.channel), unreachable_cause(failure.cause, failure.channel)
        text = (
            f"⚠️ Câu trả lời cho câu hỏi {failure.ref} chưa tới được người hỏi qua {channel}: {cause}. "
            "Câu trả lời vẫn được lưu; nếu cần, hãy liên hệ người hỏi bằng cách khác."
        )
        for chat_channel, chat_ids in agency.chats.items():
            for chat_id in chat_ids:
                row = await uow.outbox.enqueue(
                    channel=chat_channel,
                    chat_id=chat_id,
                    kind="question_undelivered",
                    payload={"text": text},
                    now=now,
                    dedupe_key=f"question-undelivered:{failure.row_id}:{chat_channel}:{chat_id}",
                    ref=failure.ref,
                )
                queued += row is not None
        logger.info("question %s: the answer did not reach the asker (%s)", failure.ref, failure.cause.value)
    return queued


on_undelivered = answer_undelivered  # the feature's hook in the leader's sender (see handlers.features)


# ----- The staff half: answering a forwarded question -----


async def answer_question_command(ctx: Context) -> None:
    """/traloi Q12 nội dung — answer a forwarded merchant question."""
    member = await require_staff(ctx)
    if member is None:
        return
    parts = ctx.text.split(maxsplit=2)
    question_id = parse_code(parts[1]) if len(parts) > 1 else None
    if question_id is None or len(parts) < 3 or not parts[2].strip():
        ctx.reply("Cú pháp: /traloi MÃ_CÂU_HỎI nội dung trả lời. Ví dụ: /traloi Q12 Anh/chị không cần thông báo…")
        return
    await submit_answer(ctx, member, question_id, parts[2])


async def submit_answer(ctx: Context, member: StaffMember, question_id: int, text: str) -> bool:
    """Record a staff member's answer to question ``question_id`` and queue it for the asker.

    The one path for /traloi, the "Trả lời" button and a "reply to" the forwarded question."""
    if not may_answer(ctx, member):
        return False
    question = await ctx.uow.questions.get(question_id)
    if question is None:
        ctx.reply(f"Không tìm thấy câu hỏi Q{question_id}.")
        return False
    if question.status == QuestionStatus.STAFF_ANSWERED.value:
        ctx.reply(f"Câu hỏi {question.code} đã được trả lời trước đó ({question.answered_by}).")
        return False
    if not valid_answer(text):
        ctx.reply(ANSWER_LENGTH)
        return False
    await record_staff_answer(ctx.uow, ctx.config, question, text.strip(), member.name, ctx.now)
    ctx.reply(f"✅ Đã ghi nhận câu trả lời cho {question.code}; người hỏi sẽ nhận được ngay.")
    return True


def may_answer(ctx: Context, member: StaffMember) -> bool:
    """Answers go out in the name of the agency that leads merchant questions: its staff (or an admin) only."""
    agency = lead_agency_for_questions(ctx.config)
    if member.role == "admin" or member.agency == agency.id:
        return True
    ctx.reply(
        f"Câu hỏi của thương nhân do {agency.short_name} trả lời (câu trả lời gửi đi dưới tên cơ quan này), "
        "nên bạn chưa trả lời thay được. Bạn chuyển thông tin cho cán bộ của cơ quan đó nhé."
    )
    return False


def valid_answer(text: str) -> bool:
    return MIN_ANSWER <= len(text.strip()) <= MAX_ANSWER


class StaffAnswerFlow(Flow):
    """A staff member pressed "Trả lời" on a forwarded question: their next text (in that chat) is the answer."""

    name = "staff_answer"

    async def begin(self, ctx: Context) -> None:  # only started from the button
        ctx.finish()

    async def on_button(self, ctx: Context) -> None:
        """The "qans:<id>" button on a forwarded question."""
        member = await require_staff(ctx)
        if member is None or not may_answer(ctx, member):
            return
        question_id = parse_code(ctx.arg)
        question = await ctx.uow.questions.get(question_id) if question_id is not None else None
        if question is None:
            ctx.reply("Không tìm thấy câu hỏi này.")
            return
        if question.status == QuestionStatus.STAFF_ANSWERED.value:
            ctx.reply(f"Câu hỏi {question.code} đã được trả lời trước đó ({question.answered_by}).")
            return
        self.goto(ctx, "text", {"question": question.id, "code": question.code, "name": member.name})
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        data = ctx.data
        ctx.reply(
            f"✍️ {data['name']}, bạn gửi nội dung trả lời cho câu hỏi {data['code']} trong một tin nhắn. "
            "Câu trả lời được gửi tới người hỏi dưới tên cơ quan.",
            [[self.button("✖️ Hủy", "cancel")]],
        )

    async def handle(self, ctx: Context) -> None:
        data = ctx.data
        if ctx.payload:
            if ctx.arg == "cancel":
                ctx.finish()
                ctx.reply(f"Đã thôi trả lời câu hỏi {data['code']}.")
            else:
                await self.reprompt(ctx)
            return
        member = await require_staff(ctx)
        if member is None:
            ctx.finish()
            return
        if not valid_answer(ctx.text):
            ctx.reply(ANSWER_LENGTH)  # the flow waits for a better text
            return
        ctx.finish()
        await submit_answer(ctx, member, int(data["question"]), ctx.text)


async def answer_by_reply(ctx: Context) -> bool:
    """A platform "reply to" the forwarded question in a staff chat is the answer. True when handled."""
    msg = ctx.msg
    if msg.chat_kind is not ChatKind.GROUP or not msg.reply_to_message_id:
        return False
    code = await ctx.uow.outbox.ref_of_message(msg.channel, msg.chat_id, QUESTION_KIND, msg.reply_to_message_id)
    question_id = parse_code(code) if code else None
    if question_id is None:
        return False
    member = await require_staff(ctx)
    if member is not None:
        await submit_answer(ctx, member, question_id, ctx.text)
    return True


def register(router: Router) -> None:
    qa_flow = QaFlow()
    router.flow(qa_flow)
    router.button("qa", on_button)
    router.command(["/traloi"], answer_question_command, keeps_flow=True)
    staff_answer = StaffAnswerFlow()
    router.flow(staff_answer)
    router.button("qans", staff_answer.on_button)

    async def qa(ctx: Context) -> None:
        question = ctx.text.split(maxsplit=1)[1] if ctx.text.startswith("/") and " " in ctx.text else ""
        await (answer_question(ctx, question) if question else qa_flow.begin(ctx))

    router.command(["/hoidap"], qa)
    router.entry("qa", qa)
    router.phrase([texts.MENU_QA, "hỏi đáp", "hỏi đáp về khuyến mại"], qa)
    # In a staff group, a "reply to" a forwarded question answers it.
    router.listen(answer_by_reply)

    async def ask(ctx: Context) -> None:
        """Free text outside any flow is a question for the knowledge base."""
        await answer_question(ctx, ctx.text)

    router.fallback = ask
