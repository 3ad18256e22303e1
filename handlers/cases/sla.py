"""SLA: reminders and escalation, each exactly once.

``case_sla_marks`` has a unique (case, epoch, step); on PostgreSQL an advisory lock per case serialises
processes, and every outbox row carries a dedupe key. A transfer starts a new epoch with new due times.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from handlers.cases.posting import post_to_chats
from handlers.cases.routing import agency_chats, agency_name, coordinator
from handlers.cases.vocabulary import CASE_STATUS_LABELS, Audit, OutboxKind
from handlers.clock import as_utc
from handlers.complaints.vocabulary import category_name, local_text
from handlers.config import AppConfig
from handlers.text_safety import mask_contacts
from handlers.types import Reply
from storage.cases import Case, CaseMessageKind, SlaStep
from storage.complaints import Complaint
from storage.db import Database, UnitOfWork

logger = logging.getLogger(__name__)


def sla_steps(case: Case, config: AppConfig) -> list[tuple[SlaStep, datetime]]:
    """The SLA steps that apply to the case as it is now, with when each is due."""
    if not case.open:
        return []
    margin = timedelta(hours=config.cases.escalate_after_hours)
    steps: list[tuple[SlaStep, datetime]] = []
    if case.state.unacknowledged and case.ack_due is not None:
        ack_due = as_utc(case.ack_due)
        steps += [(SlaStep.ACK_REMINDER, ack_due), (SlaStep.ACK_ESCALATION, ack_due + margin)]
    if case.resolve_due is not None:
        steps.append((SlaStep.RESOLVE_ESCALATION, as_utc(case.resolve_due)))
    return steps


def next_sla_at(case: Case, done: set[str], config: AppConfig) -> datetime | None:
    pending = [at for step, at in sla_steps(case, config) if step.value not in done]
    return min(pending) if pending else None


async def reschedule(uow: UnitOfWork, config: AppConfig, case: Case) -> None:
    """After a change: when the case's next SLA step (in its current epoch) is due."""
    assert case.id is not None
    done = await uow.cases.sla_marks(case.id, case.sla_epoch)
    uow.cases.schedule_sla(case, next_sla_at(case, done, config))


async def escalation_chats(uow: UnitOfWork, config: AppConfig, case: Case) -> list[tuple[str, str]]:
    """Where an escalation goes: the coordinator's chats and the private chats of the lead agency's
    supervisors and of every admin."""
    chats = agency_chats(config, coordinator(config).id)
    for member in await uow.staff.list():
        if member.role == "admin" or (member.role == "supervisor" and member.agency == case.lead):
            chats.append((member.channel, member.user_id))  # a private chat's id is the user's id
    return list(dict.fromkeys(chats))


def sla_text(config: AppConfig, case: Case, complaint: Complaint, step: SlaStep) -> str:
    lead = agency_name(config, case.lead)
    what = f"{case.code} ({category_name(config, complaint.category)}, {mask_contacts(complaint.product)[:60]})"
    if step is SlaStep.ACK_REMINDER:
        assert case.ack_due is not None
        return (
            f"⏰ Nhắc: phản ánh {what} chưa được tiếp nhận — đã quá hạn tiếp nhận lúc {local_text(case.ack_due)}. "
            "Đề nghị bấm «Tiếp nhận» trên thẻ phản ánh."
        )
    if step is SlaStep.ACK_ESCALATION:
        assert case.ack_due is not None
        return (
            f"🚨 Cảnh báo quá hạn: phản ánh {what} giao {lead} chủ trì vẫn chưa được tiếp nhận "
            f"(hạn {local_text(case.ack_due)}, quá {config.cases.escalate_after_hours:g} giờ). Đề nghị lãnh đạo "
            "đôn đốc."
        )
    assert case.resolve_due is not None
    return (
        f"🚨 Quá hạn xử lý: phản ánh {what} giao {lead} chủ trì chưa hoàn tất (hạn {local_text(case.resolve_due)}). "
        f"Trạng thái: {CASE_STATUS_LABELS[case.state]}."
    )


async def fire_step(
    uow: UnitOfWork, config: AppConfig, case: Case, complaint: Complaint, step: SlaStep, now: datetime
) -> None:
    """Mark one SLA step done and send its reminder (to the lead's chats) or escalation."""
    assert case.id is not None
    await uow.cases.mark_sla(case.id, case.sla_epoch, step, now)
    if step is SlaStep.ACK_REMINDER:
        chats = agency_chats(config, case.lead)
        kind, message_kind = OutboxKind.REMINDER, CaseMessageKind.REMINDER
    else:
        chats = await escalation_chats(uow, config, case)
        if step is SlaStep.RESOLVE_ESCALATION:
            chats = agency_chats(config, case.lead) + chats
        kind, message_kind = OutboxKind.ESCALATION, CaseMessageKind.ESCALATION
    sent = await post_to_chats(
        uow,
        case,
        chats,
        Reply(sla_text(config, case, complaint, step)),
        kind=kind,
        message_kind=message_kind,
        now=now,
        dedupe=f"sla:{case.id}:{case.sla_epoch}:{step.value}",
        agency=case.lead,
    )
    await uow.cases.record(case, Audit(f"sla_{step.value}"), now, role="system", note=f"{sent} tin nhắn")


async def check_case_sla(uow: UnitOfWork, config: AppConfig, case_id: int, now: datetime) -> list[SlaStep]:
    """Do the SLA steps of one case that are due and not done yet (in the caller's transaction)."""
    await uow.lock("case", str(case_id))
    case = await uow.cases.get(case_id, for_update=True)
    if case is None or not case.open:
        return []
    assert case.id is not None
    complaint = await uow.complaints.get(case.code)
    if complaint is None:
        return []
    done = await uow.cases.sla_marks(case.id, case.sla_epoch)
    fired: list[SlaStep] = []
    for step, at in sla_steps(case, config):
        if at > now or step.value in done:
            continue
        await fire_step(uow, config, case, complaint, step, now)
        done.add(step.value)
        fired.append(step)
    uow.cases.schedule_sla(case, next_sla_at(case, done, config))
    return fired


async def check_sla(db: Database, config: AppConfig, now: datetime, *, limit: int = 500) -> dict[str, int]:
    """Send the SLA reminders and escalations that are due; each exactly once, whatever runs it how often."""
    counts: dict[str, int] = {}
    async with db.unit_of_work() as uow:
        ids = await uow.cases.sla_due(now, limit)
    for case_id in ids:
        await asyncio.sleep(0)  # let replies and deliveries in between (see route_pending)
        try:
            async with db.unit_of_work() as uow:
                fired = await check_case_sla(uow, config, case_id, now)
                await uow.commit()
        except IntegrityError:
            logger.info("case %s: SLA step already done by another process", case_id)
            continue
        for step in fired:
            counts[step.value] = counts.get(step.value, 0) + 1
    if counts:
        logger.info("cases SLA: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts
