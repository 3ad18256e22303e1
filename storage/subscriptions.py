"""Subscriptions to reminders and announcements, broadcasts, and the broadcast engine's bulk outbox paths.

A broadcast (a reminder firing or a staff announcement) becomes one outbox row per active subscriber,
written by one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` inside the caller's transaction: nothing is
read into memory, and the outbox's unique ``dedupe_key`` makes a second fan-out of the same broadcast add
nothing. The sender marks results in bulk (one statement per kind of outcome).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from storage.models import OutboxMessage, OutboxStatus, utc_column
from storage.session import DbSession


class Audience(enum.StrEnum):
    ALL = "all"
    MERCHANT = "merchant"
    CONSUMER = "consumer"


class BroadcastKind(enum.StrEnum):
    REMINDER = "reminder"
    ANNOUNCEMENT = "announcement"


class BroadcastStatus(enum.StrEnum):
    QUEUED = "queued"  # outbox rows written
    SKIPPED = "skipped"  # a reminder missed by more than the grace time, or superseded: never sent


class Subscription(SQLModel, table=True):
    """One channel user who asked for reminders; ``audience`` is chosen once (merchant or consumer)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("channel", "user_id", name="uq_subscriptions_channel_user"),
        Index("ix_subscriptions_active_audience", "active", "audience"),
        Index("ix_subscriptions_channel_chat", "channel", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    audience: str = Field(default=Audience.CONSUMER.value, max_length=16)
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    reason: str | None = Field(default=None, max_length=32)  # why inactive: "user" or "blocked"


class Broadcast(SQLModel, table=True):
    """A reminder firing or an announcement; its outbox rows carry ``ref = "broadcast:<id>"``."""

    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    slot: str | None = Field(default=None, max_length=160, unique=True)  # reminder slot id: exactly once
    title: str = Field(default="", max_length=200)
    audience: str = Field(default=Audience.ALL.value, max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=BroadcastStatus.QUEUED.value, max_length=16)
    recipients: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    scheduled_for: datetime = utc_column()
    not_before: datetime = utc_column()
    created_at: datetime = utc_column()
    created_by: str | None = Field(default=None, max_length=96)
    note: str | None = Field(default=None, max_length=200)

    @property
    def ref(self) -> str:
        return f"broadcast:{self.id}"


def _audience_filter(audience: Audience | str):
    audience = Audience(audience)
    conditions = [Subscription.active.is_(True)]
    if audience is not Audience.ALL:
        conditions.append(Subscription.audience == audience.value)
    return conditions


class SubscriptionRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get(self, channel: str, user_id: str) -> Subscription | None:
        result = await self.session.execute(
            select(Subscription).where(Subscription.channel == channel, Subscription.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def subscribe(self, channel: str, user_id: str, chat_id: str, audience: str, now: datetime) -> bool:
        """Turn reminders on; returns False when they already were."""
        row = await self.get(channel, user_id)
        if row is None:
            self.session.add(
                Subscription(
                    channel=channel,
                    user_id=user_id,
                    chat_id=chat_id,
                    audience=Audience(audience).value,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            await self.session.flush()
            return True
        changed = not row.active
        row.active = True
        row.reason = None
        row.chat_id = chat_id
        row.audience = Audience(audience).value
        row.updated_at = now
        await self.session.flush()
        return changed

    async def unsubscribe(self, channel: str, user_id: str, now: datetime, reason: str = "user") -> bool:
        """Turn reminders off; returns False when they were not on."""
        row = await self.get(channel, user_id)
        if row is None or not row.active:
            return False
        row.active = False
        row.reason = reason
        row.updated_at = now
        await self.session.flush()
        return True

    async def unsubscribe_chats(self, channel: str, chat_ids: Iterable[str], now: datetime, reason: str) -> int:
        """Turn reminders off for every subscriber reached in these chats (e.g. who blocked the bot)."""
        ids = list(chat_ids)
        if not ids:
            return 0
        result = await self.session.execute(
            update(Subscription)
            .where(Subscription.channel == channel, Subscription.chat_id.in_(ids), Subscription.active.is_(True))
            .values(active=False, reason=reason, updated_at=now)
        )
        return result.rowcount or 0

    async def count(self, audience: Audience | str = Audience.ALL) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(Subscription).where(*_audience_filter(audience))
        )
        return int(result.scalar_one())

    async def counts_by_audience(self) -> dict[str, int]:
        result = await self.session.execute(
            select(Subscription.audience, func.count())
            .where(Subscription.active.is_(True))
            .group_by(Subscription.audience)
        )
        return {audience: count for audience, count in result.all()}


class BroadcastRepository:
    def __init__(self, session: DbSession, *, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self.session.get(Broadcast, broadcast_id)

    async def get_by_slot(self, slot: str) -> Broadcast | None:
        result = await self.session.execute(select(Broadcast).where(Broadcast.slot == slot))
        return result.scalar_one_or_none()

    async def done_slots(self) -> set[str]:
        result = await self.session.execute(select(Broadcast.slot).where(Broadcast.slot.is_not(None)))
        return {slot for (slot,) in result.all()}

    async def create(
        self,
        *,
        kind: BroadcastKind,
        title: str,
        audience: Audience | str,
        payload: dict[str, Any],
        now: datetime,
        scheduled_for: datetime | None = None,
        not_before: datetime | None = None,
        slot: str | None = None,
        status: BroadcastStatus = BroadcastStatus.QUEUED,
        created_by: str | None = None,
        note: str | None = None,
    ) -> Broadcast:
        row = Broadcast(
            kind=kind.value,
            slot=slot,
            title=title[:200],
            audience=Audience(audience).value,
            payload=payload,
            status=status.value,
            recipients=0,
            scheduled_for=scheduled_for or now,
            not_before=not_before or now,
            created_at=now,
            created_by=created_by,
            note=note[:200] if note else None,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def fan_out(
        self,
        broadcast: Broadcast,
        *,
        payload: dict[str, Any],
        dedupe_prefix: str,
        now: datetime,
        not_before: datetime,
        payload_by_channel: dict[str, dict[str, Any]] | None = None,
    ) -> int:
        """Write one pending outbox row per active subscriber of the broadcast's audience; returns how many.

        ``dedupe_key = dedupe_prefix + channel + ":" + user_id``, so running this twice adds nothing.
        ``payload_by_channel`` overrides the payload for some channels (e.g. a photo only its own channel
        can show).
        """
        special = payload_by_channel or {}
        total = 0
        groups: list[tuple[dict[str, Any], Any]] = [
            (body, Subscription.channel == channel) for channel, body in special.items()
        ]
        groups.append((payload, Subscription.channel.not_in(list(special)) if special else None))
        for body, channel_filter in groups:
            conditions = _audience_filter(broadcast.audience)
            if channel_filter is not None:
                conditions.append(channel_filter)
            source = select(
                Subscription.channel,
                Subscription.chat_id,
                literal(broadcast.kind, String(32)),
                literal(body, JSON),
                literal(OutboxStatus.PENDING.value, String(16)),
                literal(0, Integer),
                (literal(dedupe_prefix, String(160)) + Subscription.channel + ":" + Subscription.user_id),
                literal(broadcast.ref, String(64)),
                literal(not_before, DateTime(timezone=True)),
                literal(now, DateTime(timezone=True)),
            ).where(*conditions)
            columns = [
                "channel",
                "chat_id",
                "kind",
                "payload",
                "status",
                "attempts",
                "dedupe_key",
                "ref",
                "not_before",
                "created_at",
            ]
            dialect = sqlite if self.is_sqlite else postgresql
            statement = (
                dialect.insert(OutboxMessage.__table__)
                .from_select(columns, source)
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .execution_options(preserve_rowcount=True)
            )
            result = await self.session.execute(statement)
            total += max(result.rowcount or 0, 0)
        broadcast.recipients = (broadcast.recipients or 0) + total
        await self.session.flush()
        return total

    async def recent(self, limit: int = 10, *, skipped_since: datetime | None = None) -> list[Broadcast]:
        """The latest broadcasts; skipped reminders only when they were due after ``skipped_since`` (if given)."""
        query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
        if skipped_since is not None:
            query = query.where(
                (Broadcast.status != BroadcastStatus.SKIPPED.value) | (Broadcast.scheduled_for >= skipped_since)
            )
        result = await self.session.execute(query)
        return list(result.scalars())

    async def count_skipped(self) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(Broadcast).where(Broadcast.status == BroadcastStatus.SKIPPED.value)
        )
        return int(result.scalar_one())

    async def progress(self, refs: list[str]) -> dict[str, dict[str, int]]:
        """Outbox rows per status for each broadcast ref."""
        if not refs:
            return {}
        result = await self.session.execute(
            select(OutboxMessage.ref, OutboxMessage.status, func.count())
            .where(OutboxMessage.ref.in_(refs))
            .group_by(OutboxMessage.ref, OutboxMessage.status)
        )
        counts: dict[str, dict[str, int]] = {ref: {} for ref in refs}
        for ref, status, count in result.all():
            counts[ref][status] = count
        return counts

    # -- the sender's bulk paths over the outbox -------------------------------------------------------

    async def release_leases(self) -> int:
        """Hand back every claimed pending row (only for the one sender, after a crash of its predecessor)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.claimed_until.is_not(None))
            .values(claimed_until=None)
        )
        return result.rowcount or 0

    async def mark_sent(self, sent: list[tuple[int, str | None]], now: datetime) -> None:
        if not sent:
            return
        outbox = OutboxMessage.__table__  # Core executemany: one statement, many rows
        statement = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(
                status=OutboxStatus.SENT.value,
                sent_at=now,
                claimed_until=None,
                platform_message_id=bindparam("message_id"),
            )
        )
        await self.session.execute(statement, [{"row_id": rid, "message_id": mid} for rid, mid in sent])

    async def mark_final(self, rows: list[tuple[int, str]], status: OutboxStatus) -> None:
        """Mark rows failed (permanently) or skipped, with the reason."""
        if not rows:
            return
        outbox = OutboxMessage.__table__
        statement = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(status=status.value, claimed_until=None, last_error=bindparam("error"))
        )
        await self.session.execute(statement, [{"row_id": rid, "error": error[:500]} for rid, error in rows])

    async def retry_later(self, rows: list[tuple[int, str, datetime]]) -> None:
        """Release rows to be claimed again at their own time (transient errors, quiet hours)."""
        if not rows:
            return
        outbox = OutboxMessage.__table__
        statement = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(claimed_until=None, not_before=bindparam("retry_at"), last_error=bindparam("error"))
        )
        await self.session.execute(
            statement, [{"row_id": rid, "error": error[:500], "retry_at": at} for rid, error, at in rows]
        )

    async def outbox_totals(self) -> dict[str, int]:
        result = await self.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: count for status, count in result.all()}

    async def pending_count(self) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING.value)
        )
        return int(result.scalar_one())

    async def sent_since(self, since: datetime) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENT.value, OutboxMessage.sent_at >= since)
        )
        return int(result.scalar_one())
