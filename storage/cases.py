"""Cases: a submitted complaint as the agencies handle it, the chat messages about it, its audit trail.

* ``cases``: one per complaint (unique), with the lead agency, the copies, the status, who handles it and
  the SLA due times. A transfer changes the lead in place and starts a new SLA *epoch*.
* ``case_messages``: which outbox row (and, once sent, which platform message in which chat) shows or relays
  a case — the card, a copy, a digest, a relayed addition, a reminder. A staff member's platform "reply to"
  is resolved through this table, never by reading codes out of message text.
* ``case_actions``: the audit trail — who did what, when, and the state before and after.
* ``case_sla_marks``: one row per SLA step done (reminder, escalation) and epoch; the unique constraint makes
  each step happen exactly once, whatever the number of processes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    select,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, SQLModel

from storage.complaints import Complaint, submitted_between
from storage.models import OutboxMessage, OutboxStatus, utc_column
from storage.session import DbSession


class CaseStatus(enum.StrEnum):
    NEW = "new"  # routed, waiting for the lead agency to acknowledge it
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting_reporter"  # the agency asked the reporter for more information
    RESOLVED = "resolved"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"  # moved to another lead agency, waiting for it to acknowledge
    MERGED = "merged"  # a duplicate merged into another case (``merged_into``), which its reporter now follows

    @property
    def is_open(self) -> bool:
        return self not in (CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.MERGED)

    @property
    def unacknowledged(self) -> bool:
        return self in (CaseStatus.NEW, CaseStatus.TRANSFERRED)


OPEN_STATUSES = tuple(s.value for s in CaseStatus if s.is_open)


class CaseMessageKind(enum.StrEnum):
    CARD = "card"  # the lead agency's card (edited in place)
    COPY = "copy"  # a copy agency's card, marked BẢN SAO
    DIGEST = "digest"  # several cases in one message (a long queue for one chat)
    RELAY = "relay"  # the reporter's addition relayed to the lead chat
    REMINDER = "reminder"
    ESCALATION = "escalation"
    UNREACHABLE = "unreachable"  # the reporter could not be reached: the lead chat is told to call instead
    TOPIC = "topic"  # the case's forum topic in a staff group: its id is the platform message id


class SlaStep(enum.StrEnum):
    ACK_REMINDER = "ack_reminder"  # not acknowledged by the deadline: the lead chat is reminded
    ACK_ESCALATION = "ack_escalation"  # still not, past the margin: supervisors, admins, the coordinator
    RESOLVE_ESCALATION = "resolve_escalation"  # not resolved by the deadline: the same, and the lead chat


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("complaint_id", name="uq_cases_complaint"),
        UniqueConstraint("code", name="uq_cases_code"),
        Index("ix_cases_status_sla", "status", "sla_next_at"),
        Index("ix_cases_lead_status", "lead", "status"),
        Index("ix_cases_seller_key", "seller_key"),
        Index("ix_cases_link_key", "link_key"),
        Index("ix_cases_merged_into", "merged_into"),
    )

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(
        sa_column=Column(Integer, ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False)
    )
    code: str = Field(max_length=16)
    kind: str = Field(default="consumer_report", max_length=32)
    lead: str = Field(max_length=64)
    copies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The names shown for the case when it was routed or moved ({"agencies": {id: [name, short]}, "area": …,
    # "category": …}): an old case stays readable under a configuration that no longer has its agency or area.
    names: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    status: str = Field(default=CaseStatus.NEW.value, max_length=16)
    assignee_channel: str | None = Field(default=None, max_length=16)
    assignee_user_id: str | None = Field(default=None, max_length=64)
    assignee_name: str | None = Field(default=None, max_length=128)
    ack_due: datetime | None = utc_column(nullable=True)
    resolve_due: datetime | None = utc_column(nullable=True)
    sla_epoch: int = 0
    sla_next_at: datetime | None = utc_column(nullable=True)
    acknowledged_at: datetime | None = utc_column(nullable=True)
    closed_at: datetime | None = utc_column(nullable=True)
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    close_reason: str | None = Field(default=None, max_length=200)  # required to close (resolve or reject)
    verdict: str | None = Field(default=None, max_length=16)  # the reporter's answer after the closing
    verdict_at: datetime | None = utc_column(nullable=True)
    reopens: int = 0  # times the reporter reopened it (each closing asks them once)
    seller_key: str | None = Field(default=None, max_length=300)  # the seller as duplicates compare it
    link_key: str | None = Field(default=None, max_length=300)  # the shop link, normalised
    description_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # folded, compared
    merged_into: int | None = None  # the case this duplicate was merged into
    version: int = 0  # one more at every change claimed (CaseRepository.claim): two changes at once, one wins
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()

    @property
    def state(self) -> CaseStatus:
        return CaseStatus(self.status)

    @property
    def open(self) -> bool:
        return self.state.is_open

    def snapshot(self) -> dict[str, Any]:
        """What an audit row keeps of the state before and after an action."""
        return {
            "status": self.status,
            "lead": self.lead,
            "assignee": self.assignee_name,
            "assignee_id": f"{self.assignee_channel}:{self.assignee_user_id}" if self.assignee_user_id else None,
        }


class CaseMessage(SQLModel, table=True):
    __tablename__ = "case_messages"
    __table_args__ = (
        UniqueConstraint("outbox_id", "case_id", name="uq_case_messages_outbox_case"),
        Index("ix_case_messages_chat_message", "channel", "chat_id", "message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=16)
    agency: str | None = Field(default=None, max_length=64)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    outbox_id: int = Field(sa_column=Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False))
    message_id: str | None = Field(default=None, max_length=64)  # the platform's, once the sender delivered it
    created_at: datetime = utc_column()


class CaseAction(SQLModel, table=True):
    """The audit trail: one row per action on a case (refused attempts included)."""

    __tablename__ = "case_actions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    at: datetime = utc_column()
    action: str = Field(max_length=32)
    actor_channel: str | None = Field(default=None, max_length=16)
    actor_user_id: str | None = Field(default=None, max_length=64)
    actor_name: str | None = Field(default=None, max_length=128)
    actor_agency: str | None = Field(default=None, max_length=64)
    actor_role: str = Field(default="system", max_length=16)  # agent, supervisor, admin, reporter, system, none
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseSlaMark(SQLModel, table=True):
    __tablename__ = "case_sla_marks"
    __table_args__ = (UniqueConstraint("case_id", "epoch", "step", name="uq_case_sla_marks"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    epoch: int
    step: str = Field(max_length=32)
    at: datetime = utc_column()


class CaseRepository:
    def __init__(self, session: DbSession, *, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    # -- cases -----------------------------------------------------------------------------------------

    async def add(self, case: Case) -> Case:
        self.session.add(case)
        await self.session.flush()
        return case

    async def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        query = select(Case).where(Case.id == case_id)
        if for_update and not self.is_sqlite:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_code(self, code: str) -> Case | None:
        return (await self.session.execute(select(Case).where(Case.code == code))).scalar_one_or_none()

    async def by_complaint(self, complaint_id: int) -> Case | None:
        result = await self.session.execute(select(Case).where(Case.complaint_id == complaint_id))
        return result.scalar_one_or_none()

    async def open_for(self, *, agency: str | None = None, assignee: tuple[str, str] | None = None) -> list[Case]:
        query = select(Case).where(Case.status.in_(OPEN_STATUSES))
        if agency is not None:
            query = query.where(Case.lead == agency)
        if assignee is not None:
            query = query.where(Case.assignee_channel == assignee[0], Case.assignee_user_id == assignee[1])
        return list((await self.session.execute(query.order_by(Case.created_at, Case.id))).scalars())

    async def without_names(self, limit: int = 10_000) -> list[Case]:
        """Cases routed before names were kept (``names`` empty), oldest first."""
        query = select(Case).where(cast(Case.names, Text) == "{}").order_by(Case.id).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def sla_due(self, now: datetime, limit: int) -> list[int]:
        """Ids of open cases with an SLA step due at ``now``."""
        result = await self.session.execute(
            select(Case.id)
            .where(Case.status.in_(OPEN_STATUSES), Case.sla_next_at.is_not(None), Case.sla_next_at <= now)
            .order_by(Case.sla_next_at)
            .limit(limit)
        )
        return list(result.scalars())

    # -- changes (every write to a case goes through one of these) -----------------------------------------

    @staticmethod
    def set_status(case: Case, status: CaseStatus, now: datetime, *, outcome: str | None = None) -> None:
        """Move the case to ``status``; the first step out of "waiting to be acknowledged" is its acknowledgement,
        a closing one its closing (with the ``outcome`` shown to the reporter)."""
        previous = case.state
        case.status = status.value
        case.updated_at = now
        if previous.unacknowledged and not status.unacknowledged and case.acknowledged_at is None:
            case.acknowledged_at = now
        if not status.is_open:
            case.closed_at = now
        if outcome is not None:
            case.outcome = outcome

    @staticmethod
    def close(case: Case, status: CaseStatus, now: datetime, *, reason: str, outcome: str | None) -> None:
        """Close the case with its reason; the reporter is asked afresh whether it was solved."""
        assert not status.is_open
        CaseRepository.set_status(case, status, now, outcome=outcome)
        case.close_reason = reason[:200]
        case.verdict = case.verdict_at = None

    # The three changes below are claimed by a conditional UPDATE first: on SQLite a row read outside the writing
    # transaction may be stale, so "still open" (or "not answered yet") is decided by the write itself. True when
    # this call made the change (then the object shows it too).

    async def _claim(self, case: Case, condition: Any, values: dict[str, Any]) -> bool:
        table = Case.__table__
        bumped = {**values, "version": table.c.version + 1}
        result = await self.session.execute(update(table).where(table.c.id == case.id, condition).values(**bumped))
        if result.rowcount != 1:
            return False
        for name, value in values.items():
            setattr(case, name, value)
        set_committed_value(
            case, "version", await self.session.scalar(select(table.c.version).where(table.c.id == case.id))
        )
        return True

    async def claim(self, case: Case, *, bump: bool = True) -> bool:
        """Claim the next change of ``case`` as read: False when another transaction changed it since (then
        :meth:`reread` it). Once claimed, the row is this transaction's until it ends (a write lock on SQLite,
        a row lock on PostgreSQL), so what the action reads and writes next is current. ``bump=False``: the row
        is taken without a new version (an action that only adds: the buttons shown stay current)."""
        table = Case.__table__
        new = case.version + 1 if bump else case.version
        result = await self.session.execute(
            update(table).where(table.c.id == case.id, table.c.version == case.version).values(version=new)
        )
        if result.rowcount != 1:
            return False
        set_committed_value(case, "version", new)
        return True

    async def reread(self, case: Case) -> Case:
        """The case as committed now (after a claim that lost)."""
        query = select(Case).where(Case.id == case.id).execution_options(populate_existing=True)
        return (await self.session.execute(query)).scalar_one()

    async def set_verdict(self, case: Case, verdict: str, now: datetime) -> bool:
        """The reporter's answer, once per closing."""
        values = {"verdict": verdict, "verdict_at": now, "updated_at": now}
        return await self._claim(case, Case.__table__.c.verdict.is_(None), values)

    async def reopen(self, case: Case, now: datetime, due: tuple[datetime, datetime] | None) -> bool:
        """The reporter said it was not solved: open again, with new deadlines in a new SLA epoch."""
        table = Case.__table__
        closed = (CaseStatus.RESOLVED.value, CaseStatus.REJECTED.value)
        condition = table.c.status.in_(closed) & (table.c.reopens == case.reopens)
        values = {
            "status": CaseStatus.IN_PROGRESS.value, "closed_at": None, "reopens": case.reopens + 1,
            "sla_epoch": case.sla_epoch + 1, "ack_due": due[0] if due else None, "resolve_due": due[1] if due else None,
            "updated_at": now,
        }  # fmt: skip
        return await self._claim(case, condition, values)

    async def merge(self, case: Case, target: Case, now: datetime) -> bool:
        """Merge the duplicate ``case`` (still open) into ``target``: closed here, followed there."""
        values = {
            "status": CaseStatus.MERGED.value, "merged_into": target.id, "closed_at": now, "updated_at": now,
            "sla_next_at": None,
        }  # fmt: skip
        return await self._claim(case, Case.__table__.c.status.in_(OPEN_STATUSES), values)

    @staticmethod
    def assign(case: Case, channel: str, user_id: str, name: str, now: datetime) -> None:
        """Make a staff member the one who handles the case."""
        case.assignee_channel, case.assignee_user_id, case.assignee_name = channel, user_id, name
        case.updated_at = now

    @classmethod
    def transfer(cls, case: Case, lead: str, now: datetime, due: tuple[datetime, datetime] | None) -> None:
        """Give the case to a new lead agency: nobody handles it yet, and a new SLA epoch with ``due`` starts."""
        case.lead = lead
        case.copies = [a for a in case.copies if a != lead]
        case.assignee_channel = case.assignee_user_id = case.assignee_name = None
        cls.set_status(case, CaseStatus.TRANSFERRED, now)
        case.acknowledged_at = None
        case.sla_epoch += 1
        case.ack_due, case.resolve_due = (due[0], due[1]) if due else (None, None)

    @staticmethod
    def schedule_sla(case: Case, at: datetime | None) -> None:
        """When the case's next SLA step is due (None: no step left)."""
        case.sla_next_at = at

    # -- messages --------------------------------------------------------------------------------------

    async def add_message(
        self,
        case_id: int,
        kind: CaseMessageKind,
        *,
        channel: str,
        chat_id: str,
        outbox_id: int,
        now: datetime,
        agency: str | None = None,
    ) -> CaseMessage:
        row = CaseMessage(
            case_id=case_id,
            kind=kind.value,
            agency=agency,
            channel=channel,
            chat_id=chat_id,
            outbox_id=outbox_id,
            created_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def messages(self, case_id: int, kinds: Iterable[CaseMessageKind] | None = None) -> list[CaseMessage]:
        query = select(CaseMessage).where(CaseMessage.case_id == case_id)
        wanted = [k.value for k in kinds or []]
        if wanted:
            query = query.where(CaseMessage.kind.in_(wanted))
        return list((await self.session.execute(query.order_by(CaseMessage.id))).scalars())

    async def by_message(self, channel: str, chat_id: str, message_id: str) -> list[CaseMessage]:
        """The case messages shown as platform message ``message_id`` in that chat.

        Rows the sender delivered but :meth:`link_sent` has not copied yet are found through the outbox.
        """
        linked = await self.session.execute(
            select(CaseMessage).where(
                CaseMessage.channel == channel, CaseMessage.chat_id == chat_id, CaseMessage.message_id == message_id
            )
        )
        rows = list(linked.scalars())
        if rows:
            return rows
        unlinked = await self.session.execute(
            select(CaseMessage)
            .join(OutboxMessage, OutboxMessage.id == CaseMessage.outbox_id)
            .where(
                CaseMessage.channel == channel,
                CaseMessage.chat_id == chat_id,
                CaseMessage.message_id.is_(None),
                OutboxMessage.platform_message_id == message_id,
            )
        )
        rows = list(unlinked.scalars())
        for row in rows:
            row.message_id = message_id
        return rows

    async def link_sent(self, limit: int = 500) -> int:
        """Copy the platform message ids the sender recorded on the outbox into ``case_messages``."""
        result = await self.session.execute(
            select(CaseMessage.id, OutboxMessage.platform_message_id)
            .join(OutboxMessage, OutboxMessage.id == CaseMessage.outbox_id)
            .where(
                CaseMessage.message_id.is_(None),
                OutboxMessage.status == OutboxStatus.SENT.value,
                OutboxMessage.platform_message_id.is_not(None),
            )
            .limit(limit)
        )
        pairs = [{"row_id": row_id, "message_id": message_id} for row_id, message_id in result.all()]
        if pairs:
            table = CaseMessage.__table__
            await self.session.execute(
                update(table).where(table.c.id == bindparam("row_id")).values(message_id=bindparam("message_id")),
                pairs,
            )
        return len(pairs)

    # -- audit -----------------------------------------------------------------------------------------

    async def record(
        self,
        case: Case,
        action: str,
        now: datetime,
        *,
        before: dict[str, Any] | None = None,
        actor: Any = None,
        role: str | None = None,
        note: str | None = None,
        actor_channel: str | None = None,
        actor_user_id: str | None = None,
        actor_name: str | None = None,
    ) -> CaseAction:
        """Write one audit row; ``actor`` is a staff member (or None for the system / the reporter)."""
        assert case.id is not None
        row = CaseAction(
            case_id=case.id,
            at=now,
            action=action,
            actor_channel=getattr(actor, "channel", None) or actor_channel,
            actor_user_id=getattr(actor, "user_id", None) or actor_user_id,
            actor_name=getattr(actor, "name", None) or actor_name,
            actor_agency=getattr(actor, "agency", None),
            actor_role=role or getattr(actor, "role", None) or "system",
            before=before if before is not None else case.snapshot(),
            after=case.snapshot(),
            note=note,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def last_change(self, case_id: int, actions: Iterable[str]) -> CaseAction | None:
        """The newest audit row of one of ``actions`` (the changes of the case)."""
        query = (
            select(CaseAction)
            .where(CaseAction.case_id == case_id, CaseAction.action.in_(list(actions)))
            .order_by(CaseAction.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def actions(self, case_id: int, *, limit: int | None = None, newest_first: bool = False) -> list[CaseAction]:
        order = (CaseAction.at.desc(), CaseAction.id.desc()) if newest_first else (CaseAction.at, CaseAction.id)
        query = select(CaseAction).where(CaseAction.case_id == case_id).order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return list((await self.session.execute(query)).scalars())

    # -- SLA -------------------------------------------------------------------------------------------

    async def sla_marks(self, case_id: int, epoch: int) -> set[str]:
        result = await self.session.execute(
            select(CaseSlaMark.step).where(CaseSlaMark.case_id == case_id, CaseSlaMark.epoch == epoch)
        )
        return set(result.scalars())

    async def mark_sla(self, case_id: int, epoch: int, step: SlaStep, now: datetime) -> None:
        """Record an SLA step; a second one for the same case, epoch and step violates the unique constraint."""
        self.session.add(CaseSlaMark(case_id=case_id, epoch=epoch, step=step.value, at=now))
        await self.session.flush()

    # -- reports ---------------------------------------------------------------------------------------

    async def with_complaints(
        self,
        *,
        open_only: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        leads: Iterable[str] | None = None,
    ) -> list[tuple[Case, Complaint]]:
        """Cases with their complaints, by submission time (oldest first); ``since <= submitted < until``.

        A case belongs to the moment its report was submitted (``complaints.created_at``), the moment its
        deadlines count from. ``leads`` keeps the cases led by those agencies.
        """
        query = select(Case, Complaint).join(Complaint, Complaint.id == Case.complaint_id)
        if open_only:
            query = query.where(Case.status.in_(OPEN_STATUSES))
        query = submitted_between(query, since, until)
        if leads is not None:
            query = query.where(Case.lead.in_(list(leads)))
        result = await self.session.execute(query.order_by(Complaint.created_at, Case.id))
        return [(case, complaint) for case, complaint in result.all()]
