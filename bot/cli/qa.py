"""`python -m bot ask` and `python -m bot kb …`: the knowledge base from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.settings import Settings
from handlers.config import load_config
from handlers.qa import format_answer, record_staff_answer
from knowledge import KnowledgeBase, MatchResult
from knowledge.check import main as check_main
from storage.db import Database
from storage.questions import QuestionStatus, parse_code


def add_parsers(sub) -> None:
    ask = sub.add_parser("ask", help="hỏi cơ sở tri thức một câu (hoặc '-' để đọc từng dòng từ stdin)")
    ask.add_argument("question", help="câu hỏi, hoặc '-' để đọc mỗi dòng một câu từ stdin")
    ask.add_argument("--json", action="store_true", help="in một đối tượng JSON mỗi câu hỏi")

    kb = sub.add_parser("kb", help="cơ sở tri thức")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = kb_sub.add_parser("check", help="kiểm tra các tệp tri thức (lỗi → mã thoát 1)")
    check.add_argument("path", nargs="?", help="thư mục tri thức (mặc định: knowledge/entries)")
    check.add_argument("--errors-only", action="store_true", help="chỉ in lỗi")
    kb_sub.add_parser("unanswered", help="liệt kê câu hỏi chưa có câu trả lời / đã chuyển cán bộ")
    answer = kb_sub.add_parser("answer", help="cán bộ trả lời một câu hỏi đã chuyển (gửi tới người hỏi)")
    answer.add_argument("code", help="mã câu hỏi, ví dụ Q12")
    answer.add_argument("text", help="nội dung trả lời")
    answer.add_argument("--by", default="Cán bộ Sở Công Thương", help="tên người trả lời (lưu để tra cứu)")


def as_json(result: MatchResult) -> dict:
    best = result.best
    return {
        "answer": format_answer(best) if best else None,
        "entry_id": best.id if best else None,
        "score": round(result.ranked[0].score, 4) if result.ranked else 0.0,
        "confident": result.confident,
        "suggestions": [
            {"entry_id": s.entry.id, "title": s.entry.title, "score": round(s.score, 4)} for s in result.ranked[:3]
        ],
    }


def as_text(result: MatchResult) -> str:
    if result.best is not None:
        return format_answer(result.best)
    lines = ["Chưa có câu trả lời chắc chắn. Các chủ đề gần nhất:"]
    lines += [f"  • {s.entry.title} ({s.entry.id}, {s.score:.2f})" for s in result.ranked[:3]]
    return "\n".join(lines)


def run_ask(question: str, as_json_output: bool, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    kb = KnowledgeBase.load()
    questions = (line.strip() for line in stdin) if question == "-" else iter([question])
    for text in questions:
        if not text:
            continue
        result = kb.match(text)
        if as_json_output:
            print(json.dumps(as_json(result), ensure_ascii=False), file=stdout)
        else:
            print(as_text(result), file=stdout)
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
