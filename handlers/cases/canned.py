"""Canned replies: an agency's ready texts, offered as buttons when staff reply, ask for more, resolve or reject.

Those of the configuration (``agencies[].canned_replies``) and those supervisors add in chat (``/mautraloi``,
stored in ``canned_replies``). Placeholders are filled from the case: ``{code}``, ``{agency}``, ``{today}``,
``{submitted}`` (the day of the report), ``{due}`` (its deadline to resolve).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from handlers.cases.routing import agency_name
from handlers.complaints.vocabulary import local
from handlers.config import AppConfig
from handlers.core import Context
from handlers.staff import require_staff
from handlers.text_safety import ascii_int
from storage.canned import CannedReply
from storage.cases import Case
from storage.complaints import Complaint
from storage.db import UnitOfWork

ACTION_CODES = ("reply", "more", "done", "rej")
MAX_TITLE = 40
MAX_OFFERED = 8  # buttons under a prompt
USAGE = (
    "Mẫu trả lời của cơ quan:\n"
    "• /mautraloi — xem danh sách\n"
    "• /mautraloi them Nhãn | Nội dung — thêm mẫu (lãnh đạo, quản trị viên)\n"
    "• /mautraloi xoa SỐ — xóa mẫu đã thêm trong chat\n"
    "Trong nội dung có thể dùng {code}, {agency}, {today}, {submitted}, {due}."
)
FIELDS = frozenset({"code", "agency", "today", "submitted", "due"})


@dataclass(frozen=True)
class Canned:
    key: str  # "c<i>": the configuration's i-th; "d<id>": added in chat
    title: str
    text: str


def fill(template: str, config: AppConfig, case: Case, complaint: Complaint, now: datetime) -> str:
    """The template with the case's fields; an unknown placeholder is left as written."""
    values = {
        "code": case.code,
        "agency": agency_name(config, case.lead),
        "today": f"{local(now):%d/%m/%Y}",
        "submitted": f"{local(complaint.created_at):%d/%m/%Y}",
        "due": f"{local(case.resolve_due):%H:%M %d/%m/%Y}" if case.resolve_due else "",
    }
    out = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(values[field] if field in values else "{" + field + "}")
    return "".join(out)


def unknown_fields(template: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None} - FIELDS
    except ValueError:
        return {"?"}


async def choices(uow: UnitOfWork, config: AppConfig, agency_id: str, action: str) -> list[Canned]:
    """The agency's canned replies for ``action``: the configuration's first, then those added in chat."""
    agency = config.agency(agency_id)
    found = [
        Canned(f"c{i}", entry.title, entry.text)
        for i, entry in enumerate(agency.canned_replies if agency else [])
        if not entry.actions or action in entry.actions
    ]
    for row in await uow.canned.list(agency_id):
        if not row.actions or action in row.actions:
            found.append(Canned(f"d{row.id}", row.title, row.text))
    return found


async def canned_command(ctx: Context) -> None:
    """/mautraloi [them Nhãn | Nội dung | xoa SỐ] — list the agency's canned replies; supervisors manage them."""
    member = await require_staff(ctx)
    if member is None:
        return
    words = ctx.text.split(maxsplit=2)
    verb = words[1].lower() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if verb in ("them", "thêm", "xoa", "xóa") and member.role not in ("supervisor", "admin"):
        ctx.reply("⛔ Chỉ lãnh đạo (supervisor) hoặc quản trị viên mới thêm, xóa mẫu trả lời.")
        return
    if verb in ("them", "thêm"):
        ctx.reply(await _add(ctx, member.agency, member.name, rest))
    elif verb in ("xoa", "xóa"):
        ctx.reply(await _remove(ctx, member.agency, rest))
    else:
        ctx.reply(await _listing(ctx, member.agency))


async def _listing(ctx: Context, agency_id: str) -> str:
    agency = ctx.config.agency(agency_id)
    lines = [f"📚 Mẫu trả lời — {agency_name(ctx.config, agency_id, short=True)}"]
    lines += [f"• {e.title} (cấu hình): {e.text[:80]}" for e in (agency.canned_replies if agency else [])]
    lines += [f"• [{r.id}] {r.title}: {r.text[:80]}" for r in await ctx.uow.canned.list(agency_id)]
    if len(lines) == 1:
        lines.append("Chưa có mẫu nào.")
    return "\n".join([*lines, "", USAGE])


async def _add(ctx: Context, agency_id: str, author: str, rest: str) -> str:
    title, sep, text = (part.strip() for part in rest.partition("|"))
    if not sep or not title or len(text) < 3:
        return f"❌ Cần nhãn và nội dung, cách nhau bằng «|».\n\n{USAGE}"
    if len(title) > MAX_TITLE or len(text) > 2000:
        return f"❌ Nhãn tối đa {MAX_TITLE} ký tự, nội dung tối đa 2000 ký tự."
    unknown = unknown_fields(text)
    if unknown:
        return "❌ Nội dung có chỗ điền không hợp lệ: " + ", ".join(sorted(unknown)) + f".\n\n{USAGE}"
    row = await ctx.uow.canned.add(
        CannedReply(agency=agency_id, title=title, text=text, actions=[], created_by=author, created_at=ctx.now)
    )
    return f"✅ Đã thêm mẫu [{row.id}] «{title}»."


async def _remove(ctx: Context, agency_id: str, rest: str) -> str:
    row = await ctx.uow.canned.get(number) if (number := ascii_int(rest)) is not None else None
    if row is None or row.agency != agency_id or row.removed_at is not None:
        return "❌ Không có mẫu số này của cơ quan bạn (mẫu trong tệp cấu hình chỉ sửa được trong tệp)."
    ctx.uow.canned.remove(row, ctx.now)
    return f"🗑 Đã xóa mẫu [{row.id}] «{row.title}»."
