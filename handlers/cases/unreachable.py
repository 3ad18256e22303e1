"""A reporter who cannot be reached is not left waiting in silence.

When a message to the reporter fails for good (Zalo OA -230/-232: outside the OA's 7-day window; the bot
blocked; attempts run out), the outbox sender calls :func:`reporter_unreachable` in the transaction that marks
the row failed: the lead agency's chats get one message per failed row (a dedupe key on the row id) with the
masked contact, so staff call the reporter instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.cases.actions import action_button
from handlers.cases.cards import contact_line
from handlers.cases.posting import post_to_chats
from handlers.cases.routing import agency_chats
from handlers.cases.vocabulary import Audit, OutboxKind
from handlers.config import AppConfig
from handlers.delivery import channel_name, unreachable_cause
from handlers.text_safety import mask_contacts
from handlers.types import Reply
from storage.cases import Case, CaseMessageKind
from storage.complaints import Complaint
from storage.db import UnitOfWork
from storage.outbox import Undelivered

logger = logging.getLogger(__name__)

UNDELIVERED_EXCERPT = 300  # characters of the undelivered message quoted to staff


def unreachable_text(case: Case, complaint: Complaint, failure: Undelivered) -> str:
    """What the lead agency's chat is told when a message to the reporter did not get through (Vietnamese)."""
    channel = channel_name(failure.channel)
    cause = unreachable_cause(failure.cause, failure.channel)
    lines = [f"⚠️ Không liên lạc được với người phản ánh {case.code} qua {channel}: {cause}."]
    if failure.kind == OutboxKind.VERDICT:
        lines[0] = (
            f"⚠️ Không hỏi được người phản ánh {case.code} qua {channel} xem vấn đề đã được giải quyết chưa: {cause}."
        )
    excerpt = mask_contacts(" ".join(failure.text.split()))
    if excerpt:
        if len(excerpt) > UNDELIVERED_EXCERPT:
            excerpt = excerpt[:UNDELIVERED_EXCERPT].rstrip() + "…"
        lines.append(f"Tin chưa tới được người phản ánh: «{excerpt}»")
    if complaint.anonymous:
        lines.append(
            "Phản ánh ẩn danh nên không có cách liên hệ khác; người phản ánh vẫn xem được kết quả bằng "
            f"/tracuu {case.code}."
        )
    elif not complaint.phone:
        lines.append(
            "Người phản ánh không để lại số điện thoại nên chưa có cách liên hệ khác; họ vẫn xem được kết quả "
            f"bằng /tracuu {case.code}."
        )
    else:
        lines.append(
            f"Đề nghị liên hệ người phản ánh bằng cách khác: {contact_line(complaint)}. Bấm «📞 Xem liên hệ» để "
            "xem số đầy đủ."
        )
    return "\n".join(lines)


async def reporter_unreachable(uow: UnitOfWork, config: AppConfig, failures: list[Undelivered], now: datetime) -> int:
    """The outbox sender's hook for rows that failed for good (in the transaction that marks them): each
    message to a case's reporter that did not get through is told to the lead agency's chats, once per row."""
    queued = 0
    for failure in failures:
        if failure.kind not in (OutboxKind.NOTICE, OutboxKind.VERDICT) or not failure.ref:
            continue
        case = await uow.cases.by_code(failure.ref)
        complaint = await uow.complaints.get(failure.ref)
        if case is None or complaint is None:
            logger.warning("outbox row %s: no case %s for an unreachable reporter", failure.row_id, failure.ref)
            continue
        chats = agency_chats(config, case.lead)
        if not chats:
            logger.warning("case %s: the reporter is unreachable and the lead agency has no staff chat", case.code)
            continue
        buttons = [[action_button("contact", case)]] if complaint.phone and not complaint.anonymous else []
        sent = await post_to_chats(
            uow,
            case,
            chats,
            Reply(unreachable_text(case, complaint, failure), buttons),
            kind=OutboxKind.UNREACHABLE,
            message_kind=CaseMessageKind.UNREACHABLE,
            now=now,
            dedupe=f"unreachable:{failure.row_id}",
            agency=case.lead,
        )
        if sent:
            note = f"{channel_name(failure.channel)}: {failure.cause.value} ({failure.error})"
            await uow.cases.record(case, Audit.REPORTER_UNREACHABLE, now, role="system", note=note[:500])
            logger.info("case %s: reporter unreachable (%s); lead agency told", case.code, failure.cause.value)
        queued += sent
    return queued
