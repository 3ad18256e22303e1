"""The reporter's side of a case: the agency's messages to them and the public history they read (/tracuu).

The reporter hears from the agency, never from a person: every message is signed with the agency's name."""

from __future__ import annotations

from datetime import datetime

from handlers.cases.vocabulary import OutboxKind
from handlers.types import Button, Reply
from storage.cases import Case
from storage.complaints import Complaint, ComplaintEvent, ComplaintStatus
from storage.db import UnitOfWork

SOLVED, PARTLY, UNSOLVED = "yes", "partly", "no"
VERDICTS = {SOLVED: "Đã được giải quyết", PARTLY: "Giải quyết một phần", UNSOLVED: "Chưa được giải quyết"}
QUESTION = "🙏 Phản ánh {code} đã được đóng. Vấn đề của bạn đã được giải quyết chưa? Bạn chọn một câu trả lời:"


def track_buttons(code: str, *, add: bool = False) -> list[list[Button]]:
    rows = [[Button("➕ Bổ sung thông tin / ảnh", f"track:add:{code}")]] if add else []
    return [*rows, [Button("🔎 Xem trạng thái", f"track:view:{code}")]]


async def notify_reporter(
    uow: UnitOfWork,
    complaint: Complaint,
    text: str,
    now: datetime,
    *,
    add: bool = False,
    photos: list[str] | None = None,
) -> None:
    """A message to the reporter in the agency's name (``photos``: files of the media store sent with it)."""
    await uow.outbox.enqueue(
        channel=complaint.channel,
        chat_id=complaint.chat_id,
        kind=OutboxKind.NOTICE,
        payload=Reply(text, track_buttons(complaint.code, add=add), photos or []).to_dict(),
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
        await uow.complaints.set_status(complaint, status, note, now, actor="staff", detail=detail)
        return
    await uow.complaints.add_event(
        complaint, ComplaintEvent(at=now, kind=kind, note=note[:500], detail=detail, actor="staff")
    )


def verdict_reply(case: Case, round_: int) -> Reply:
    """The question after a closing (its buttons carry the closing's round: an old question is not answered)."""
    assert case.id is not None
    payload = f"verdict:{case.id}:{round_}:"
    return Reply(QUESTION.format(code=case.code), [[Button(label, payload + key)] for key, label in VERDICTS.items()])


async def ask_verdict(
    uow: UnitOfWork, case: Case, complaint: Complaint, now: datetime, *, round_: int | None = None
) -> None:
    """Queue the question to the reporter of ``case`` (a merged duplicate: ``round_`` is the closing round of the
    case it follows), once per closing (the dedupe key)."""
    round_ = case.reopens if round_ is None else round_
    await uow.outbox.enqueue(
        channel=complaint.channel,
        chat_id=complaint.chat_id,
        kind=OutboxKind.VERDICT,
        payload=verdict_reply(case, round_).to_dict(),
        now=now,
        dedupe_key=f"verdict:{case.id}:{round_}",
        ref=case.code,
    )
