"""The reporter's side of a case: the agency's messages to them and the public history they read (/tracuu).

The reporter hears from the agency, never from a person: every message is signed with the agency's name."""

from __future__ import annotations

from datetime import datetime

from handlers.cases.vocabulary import OutboxKind
from handlers.types import Button, Reply
from storage.complaints import Complaint, ComplaintEvent, ComplaintStatus
from storage.db import UnitOfWork


def track_buttons(code: str, *, add: bool = False) -> list[list[Button]]:
    rows = [[Button("➕ Bổ sung thông tin / ảnh", f"track:add:{code}")]] if add else []
    return [*rows, [Button("🔎 Xem trạng thái", f"track:view:{code}")]]


async def notify_reporter(
    uow: UnitOfWork, complaint: Complaint, text: str, now: datetime, *, add: bool = False
) -> None:
    await uow.outbox.enqueue(
        channel=complaint.channel,
        chat_id=complaint.chat_id,
        kind=OutboxKind.NOTICE,
        payload=Reply(text, track_buttons(complaint.code, add=add)).to_dict(),
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
