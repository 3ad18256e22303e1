"""`python -m bot ask` and `python -m bot kb …`: the knowledge base from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.cli.check import parse_at
from bot.settings import Settings
from handlers.config import load_config
from handlers.promotion.check import Outcome, check_text
from handlers.qa import SCOPE, answer_text, record_staff_answer
from knowledge import KnowledgeBase, MatchResult
from knowledge.check import main as check_main
from knowledge.promotion.extract import looks_like_plan
from storage.db import Database
from storage.questions import QuestionStatus, parse_code


def as_json(result: MatchResult, answer: str | None) -> dict:
    best = result.best
    return {
        "answer": answer,
        "entry_id": best.id if best else None,
        "score": round(result.ranked[0].score, 4) if result.ranked else 0.0,
        "confident": result.confident,
        "suggestions": [
            {"entry_id": s.entry.id, "title": s.entry.title, "score": round(s.score, 4)} for s in result.ranked[:3]
        ],
    }


def as_text(result: MatchResult, answer: str | None) -> str:
    if answer is not None:
        return answer
    if result.off_topic:
        return SCOPE
    lines = ["Chưa có câu trả lời chắc chắn. Các chủ đề gần nhất:"]
    lines += [f"  • {s.entry.title} ({s.entry.id}, {s.score:.2f})" for s in result.ranked[:3]]
    return "\n".join(lines)


def plan_json(outcome: Outcome) -> dict:
    """A described promotion, as the chat's first reply: the verdict (confident only when complete) or a question."""
    return {
        "answer": outcome.text,
        "entry_id": None,
        "score": 1.0 if outcome.complete else 0.0,
        "confident": outcome.complete,
        "suggestions": [],
        "kind": "promotion_check",
        "ask": outcome.step,
        "verdict": outcome.verdict.summary() if outcome.verdict is not None else None,
    }


def run_ask(args, settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """One question (or one a line from stdin with ``-``): the answer, or the nearest topics; a described
    promotion gets its verdict (or the question the chat would ask) exactly as the chat's first reply."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    kb = KnowledgeBase.load()
    config = load_config(settings.bot_config)
    now = parse_at(getattr(args, "at", None))
    questions = (line.strip() for line in stdin) if args.question == "-" else iter([args.question])
    for text in questions:
        if not text:
            continue
        if looks_like_plan(text, now):
            outcome = check_text(text, config, now)[1]
            print(json.dumps(plan_json(outcome), ensure_ascii=False) if args.json else outcome.text, file=stdout)
            stdout.flush()
            continue
        result = kb.match(text)
        answer = answer_text(kb, config, result, text, now)
        if args.json:
            print(json.dumps(as_json(result, answer), ensure_ascii=False), file=stdout)
        else:
            print(as_text(result, answer), file=stdout)
        stdout.flush()
    return 0


def run_kb(args, settings: Settings) -> int:
    if args.kb_command == "check":
        argv = [args.path] if args.path else []
        return check_main([*argv, *(["--errors-only"] if args.errors_only else [])])
    if args.kb_command == "unanswered":
        return asyncio.run(_unanswered(settings))
    return asyncio.run(_answer(settings, args.code, args.text, args.by))


async def _unanswered(settings: Settings) -> int:
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        async with db.unit_of_work() as uow:
            rows = await uow.questions.by_status(QuestionStatus.FORWARDED, QuestionStatus.UNANSWERED, limit=1000)
    finally:
        await db.dispose()
    if not rows:
        print("Không có câu hỏi nào đang chờ.")
    for q in rows:
        mark = "📨 đã chuyển cán bộ" if q.status == QuestionStatus.FORWARDED.value else "chưa trả lời được"
        when = q.created_at.strftime("%d/%m/%Y %H:%M")
        print(f"{q.code}\t{when}\t{mark}\t{q.channel}:{q.user_id}\t{q.text}")
    return 0


async def _answer(settings: Settings, code: str, text: str, by: str) -> int:
    question_id = parse_code(code)
    if question_id is None or not text.strip():
        print("Mã câu hỏi không hợp lệ hoặc nội dung trống.", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    await asyncio.to_thread(db.upgrade)
    try:
        async with db.unit_of_work() as uow:
            question = await uow.questions.get(question_id)
            if question is None:
                print(f"Không tìm thấy câu hỏi Q{question_id}.", file=sys.stderr)
                return 1
            config = load_config(settings.bot_config)
            await record_staff_answer(uow, config, question, text.strip(), by, datetime.now(UTC))
            await uow.commit()
    finally:
        await db.dispose()
    print(f"Đã ghi nhận câu trả lời cho Q{question_id}; tin nhắn đã vào hàng đợi gửi tới người hỏi.")
    return 0
