"""Consumer complaints: the report, its evidence photos and its public history.

A complaint is written once, complete, in the transaction that submits it (with its photos, its first
history event and an outbox row for staff). Photos are files in the content-addressed media store
(``storage.media``); rows link to them by SHA-256. The draft before submission is not here: it is the
conversation row of the complaint flow.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Select, Text, UniqueConstraint, func, select
from sqlmodel import Field, SQLModel

from storage.models import Conversation, utc_column
from storage.session import DbSession

# No 0/O, 1/I/L: a code read over the phone or typed from a screenshot cannot be misread.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_PREFIX = "PA"


def make_code() -> str:
    """A random public tracking code like ``PA-7K3Q-9M`` (31⁶ ≈ 887 million codes, from ``secrets``)."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
    return f"{CODE_PREFIX}-{chars[:4]}-{chars[4:]}"


def normalise_code(text: str) -> str | None:
    """'pa 7k3q 9m', '7K3Q9M', 'PA-7K3Q-9M' → 'PA-7K3Q-9M'; None when it cannot be a code."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) == 8 and raw.startswith(CODE_PREFIX):
        raw = raw[2:]
    if len(raw) != 6 or not set(raw) <= set(CODE_ALPHABET):
        return None
    return f"{CODE_PREFIX}-{raw[:4]}-{raw[4:]}"


class ComplaintStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # sent by the reporter, waiting for an agency
    ACKNOWLEDGED = "acknowledged"  # an agency took it
    IN_PROGRESS = "in_progress"  # being verified / handled
    RESOLVED = "resolved"
    REJECTED = "rejected"  # not enough grounds / not competent

    @property
    def is_open(self) -> bool:
        return self not in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED)


class EventKind(enum.StrEnum):
    SUBMITTED = "submitted"
    STATUS = "status"
    INFO_ADDED = "info_added"
    PHOTOS_ADDED = "photos_added"


class Complaint(SQLModel, table=True):
    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("code", name="uq_complaints_code"),
        Index("ix_complaints_reporter", "channel", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16)
    status: str = Field(default=ComplaintStatus.SUBMITTED.value, max_length=16, index=True)
    # Who filed it: kept so only they can look it up, and for the daily limit. Never shown to staff.
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    # Contact: none at all for an anonymous report.
    anonymous: bool = False
    reporter_name: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=16)  # E.164, e.g. +84912345678
    contact_consent: bool = False
    category: str = Field(max_length=64)
    platform: str = Field(max_length=32)
    seller: str = Field(max_length=300)
    seller_where: str | None = Field(default=None, max_length=500)
    product: str = Field(max_length=300)
    purchase_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    description: str = Field(sa_column=Column(Text, nullable=False))
    photo_note: str | None = Field(default=None, max_length=1000)
    area: str = Field(max_length=64)
    created_at: datetime = utc_column(index=True)
    updated_at: datetime = utc_column()

    @property
    def open(self) -> bool:
        return ComplaintStatus(self.status).is_open


class ComplaintPhoto(SQLModel, table=True):
    __tablename__ = "complaint_photos"
    __table_args__ = (UniqueConstraint("complaint_id", "sha256", name="uq_complaint_photos_sha"),)

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(
        sa_column=Column(Integer, ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    sha256: str = Field(max_length=64)
    size: int
    mime: str = Field(max_length=32)
    platform_file_id: str | None = Field(default=None, max_length=255)
    file_name: str | None = Field(default=None, max_length=255)
    source: str = Field(default="report", max_length=16)  # "report" or "addition"
    received_at: datetime = utc_column()


class ComplaintEvent(SQLModel, table=True):
    """One line of a complaint's history; ``public`` lines are what the reporter sees in /tracuu."""

    __tablename__ = "complaint_events"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(
        sa_column=Column(Integer, ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    at: datetime = utc_column()
    kind: str = Field(max_length=32)
    status: str | None = Field(default=None, max_length=16)
    note: str = Field(max_length=500)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor: str = Field(default="system", max_length=16)  # reporter, staff, system
    public: bool = True


class CodeExhausted(RuntimeError):
    """No free tracking code after many tries: the generator is broken (or the table is absurdly full)."""


def submitted_between(query: Select, since: datetime | None, until: datetime | None) -> Select:
    """*query* kept to complaints submitted in ``since <= created_at < until`` (either end may be open)."""
    if since is not None:
        query = query.where(Complaint.created_at >= since)
    if until is not None:
        query = query.where(Complaint.created_at < until)
    return query


class ComplaintRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def code_taken(self, code: str) -> bool:
        return (await self.session.execute(select(Complaint.id).where(Complaint.code == code))).first() is not None

    async def new_code(self, generate: Callable[[], str] | None = None, attempts: int = 20) -> str:
        """A code not used yet; the unique constraint still guards the (astronomically rare) concurrent clash."""
        for _ in range(attempts):
            code = (generate or make_code)()
            if not await self.code_taken(code):
                return code
        raise CodeExhausted(f"no free complaint code after {attempts} tries")

    async def add(
        self, complaint: Complaint, photos: Iterable[ComplaintPhoto], events: Iterable[ComplaintEvent]
    ) -> Complaint:
        self.session.add(complaint)
        await self.session.flush()
        assert complaint.id is not None
        for row in [*photos, *events]:
            row.complaint_id = complaint.id
            self.session.add(row)
        await self.session.flush()
        return complaint

    async def get(self, code: str) -> Complaint | None:
        result = await self.session.execute(select(Complaint).where(Complaint.code == code))
        return result.scalar_one_or_none()

    async def photos(self, complaint_id: int) -> list[ComplaintPhoto]:
        result = await self.session.execute(
            select(ComplaintPhoto).where(ComplaintPhoto.complaint_id == complaint_id).order_by(ComplaintPhoto.id)
        )
        return list(result.scalars())

    async def events(self, complaint_id: int, *, public_only: bool = True) -> list[ComplaintEvent]:
        query = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)
        if public_only:
            query = query.where(ComplaintEvent.public.is_(True))
        result = await self.session.execute(query.order_by(ComplaintEvent.at, ComplaintEvent.id))
        return list(result.scalars())

    async def add_photos(self, complaint: Complaint, photos: Iterable[ComplaintPhoto], now: datetime) -> int:
        """Attach photos not attached yet (by hash); return how many were new."""
        assert complaint.id is not None
        known = {p.sha256 for p in await self.photos(complaint.id)}
        added = 0
        for photo in photos:
            if photo.sha256 in known:
                continue
            known.add(photo.sha256)
            photo.complaint_id = complaint.id
            self.session.add(photo)
            added += 1
        if added:
            complaint.updated_at = now
        await self.session.flush()
        return added

    async def add_event(self, complaint: Complaint, event: ComplaintEvent) -> ComplaintEvent:
        assert complaint.id is not None
        event.complaint_id = complaint.id
        complaint.updated_at = event.at
        self.session.add(event)
        await self.session.flush()
        return event

    async def set_status(
        self,
        complaint: Complaint,
        status: ComplaintStatus,
        note: str,
        now: datetime,
        *,
        actor: str = "staff",
        detail: str | None = None,
    ) -> ComplaintEvent:
        complaint.status = status.value
        event = ComplaintEvent(
            at=now, kind=EventKind.STATUS.value, status=status.value, note=note, detail=detail, actor=actor
        )
        return await self.add_event(complaint, event)

    async def count_since(self, channel: str, user_id: str, since: datetime) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.channel == channel, Complaint.user_id == user_id, Complaint.created_at >= since)
        )
        return int(result.scalar_one())

    async def by_reporter(
        self, channel: str, user_id: str, *, since: datetime | None = None, limit: int = 5
    ) -> list[Complaint]:
        """The reporter's complaints, newest first."""
        query = select(Complaint).where(Complaint.channel == channel, Complaint.user_id == user_id)
        if since is not None:
            query = query.where(Complaint.created_at >= since)
        result = await self.session.execute(
            query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(limit)
        )
        return list(result.scalars())

    async def search(
        self,
        *,
        statuses: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Complaint]:
        """Complaints oldest first, filtered by status and by ``since <= created_at < until``."""
        query = select(Complaint)
        wanted = list(statuses or [])
        if wanted:
            query = query.where(Complaint.status.in_(wanted))
        query = submitted_between(query, since, until).order_by(Complaint.created_at, Complaint.id)
        if limit is not None:
            query = query.limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def photo_counts(self, complaint_ids: Iterable[int]) -> dict[int, int]:
        ids = list(complaint_ids)
        if not ids:
            return {}
        result = await self.session.execute(
            select(ComplaintPhoto.complaint_id, func.count())
            .where(ComplaintPhoto.complaint_id.in_(ids))
            .group_by(ComplaintPhoto.complaint_id)
        )
        return {complaint_id: count for complaint_id, count in result.all()}

    async def stale_drafts(self, flow: str, now: datetime, limit: int = 500) -> list[Conversation]:
        """Conversation rows of ``flow`` whose deadline has passed (the drafts to close)."""
        result = await self.session.execute(
            select(Conversation)
            .where(Conversation.flow == flow, Conversation.deadline <= now)
            .order_by(Conversation.deadline)
            .limit(limit)
        )
        return list(result.scalars())
