"""The durable inbox: every update a channel receives, stored before the platform is told it arrived.

A row is written (unique per channel and platform update id, so a redelivered update adds nothing) and
committed before the webhook answers 200 or the poll moves its offset on. It is then handled per
conversation in arrival order; the transaction that applies its effects also marks it ``handled`` (see
:meth:`InboxRepository.take`), so a crash leaves it either pending (handled again) or done (never again).
An update that failed ``attempts`` times is ``parked`` with its error; handled rows are purged after a while.

Several worker processes on one PostgreSQL database share the table through claims (:meth:`InboxRepository.claim`):
a process takes the oldest pending update of a conversation that holds no live lease, with ``SKIP LOCKED``, and
leases it (``lease_until``); the conversation's next update becomes claimable only once that one is handled, so
each conversation is handled in arrival order, by one process at a time. A process that dies mid-update leaves
its lease to run out; then another takes the update over, and that claim counts as a failed attempt (``attempts``
comes with the claimed row): an update that kills its worker every time is parked like one that fails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel

from storage.models import utc_column
from storage.session import DbSession

STORE_CHUNK = 500  # rows per INSERT: well under SQLite's limit of bound parameters
LIVE = "status = 'pending' OR lease_until IS NOT NULL"  # the rows a claim looks at (a partial index)
NOTIFY_CHANNEL = "sct_inbox"  # PostgreSQL: NOTIFY-ed when updates were stored (the workers' wake-up)


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    HANDLED = "handled"
    PARKED = "parked"  # failed too often: kept with its error for staff, never tried again


class InboxUpdate(SQLModel, table=True):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "update_id", name="uq_inbox_channel_update"),
        Index("ix_inbox_status_id", "status", "id"),
        Index(
            "ix_inbox_pending_conversation",
            "channel",
            "conversation",
            "id",
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    update_id: str = Field(max_length=160)
    conversation: str = Field(max_length=160)  # the key updates are ordered by (chat, user)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=InboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=500)
    received_at: datetime = utc_column()
    handled_at: datetime | None = utc_column(nullable=True, index=True)
    lease_until: datetime | None = utc_column(nullable=True)  # claimed by a worker process until then


# The heads of conversations: the oldest pending update of each conversation where no update holds a live lease
# (PostgreSQL; the database's clock, so the processes' clocks never matter). A handled update keeps its lease
# until its worker has sent its replies (:data:`RELEASE`), so the next update's replies never overtake them.
_HEADS = """
    FROM inbox i
    WHERE i.status = 'pending' AND i.channel = ANY(:channels)
      AND (i.lease_until IS NULL OR i.lease_until < now())
      AND NOT EXISTS (
          SELECT 1 FROM inbox o
          WHERE o.channel = i.channel AND o.conversation = i.conversation AND o.id < i.id
            AND (o.status = 'pending' OR o.lease_until >= now())
      )
"""
# A claim of an update whose lease ran out (its worker died on it: a stopping process hands its claims back with
# ``lease_until = NULL``) counts as a failed attempt; the dispatcher parks an update claimed MAX_ATTEMPTS times so.
_CLAIMED = """
    lease_until = now() + make_interval(secs => :lease),
    attempts = attempts + CASE WHEN lease_until < now() THEN 1 ELSE 0 END
"""
CLAIM = text(f"""
    UPDATE inbox SET {_CLAIMED}
    WHERE id IN (SELECT i.id {_HEADS} ORDER BY i.id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, channel, conversation, payload, attempts
""")  # fmt: skip
CLAIMABLE = text(f"SELECT count(*) {_HEADS}")
# The next update of a conversation whose claim this process holds: its claim passes on (one index probe).
NEXT = text(f"""
    UPDATE inbox SET {_CLAIMED}
    WHERE id = (
        SELECT id FROM inbox WHERE channel = :channel AND conversation = :conversation AND status = 'pending'
        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING id, channel, conversation, payload, attempts
""")  # fmt: skip
RENEW = text("""
    UPDATE inbox SET lease_until = now() + make_interval(secs => :lease)
    WHERE id = ANY(:ids) AND status = 'pending'
""")  # fmt: skip
RELEASE = text("UPDATE inbox SET lease_until = NULL WHERE id = ANY(:ids)")
NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


_table = InboxUpdate.__table__
# Run on every step: a Core statement built once with bound parameters (building one, and the ORM's bulk
# update path, cost several times what running it does).
TAKE = (
    update(_table)
    .where(_table.c.id.in_(bindparam("ids", expanding=True)), _table.c.status == InboxStatus.PENDING.value)
    .values(status=InboxStatus.HANDLED.value, handled_at=bindparam("now"), attempts=_table.c.attempts + 1)
    .returning(_table.c.id)
)


@dataclass(frozen=True, slots=True)
class Received:
    """One update as a channel hands it over for storing."""

    update_id: str
    conversation: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored update waiting to be handled."""

    id: int
    channel: str
    conversation: str
    payload: dict[str, Any]
    attempts: int = 0  # failed attempts counted so far (a claim after a lease ran out is one)


class InboxRepository:
    def __init__(self, session: DbSession, *, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    async def store(self, channel: str, items: list[Received], now: datetime) -> list[Stored]:
        """Add the updates not seen before (multi-row INSERT … ON CONFLICT DO NOTHING); return those added, in
        the order given."""
        insert = sqlite_insert if self.is_sqlite else pg_insert
        table = InboxUpdate.__table__
        added: dict[str, int] = {}
        for start in range(0, len(items), STORE_CHUNK):
            rows = [
                {
                    "channel": channel,
                    "update_id": item.update_id[:160],
                    "conversation": item.conversation[:160],
                    "payload": item.payload,
                    "status": InboxStatus.PENDING.value,
                    "attempts": 0,
                    "received_at": now,
                }
                for item in items[start : start + STORE_CHUNK]
            ]
            statement = (
                insert(table)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["channel", "update_id"])
                .returning(table.c.id, table.c.update_id)
            )
            added.update((update_id, row_id) for row_id, update_id in (await self.session.execute(statement)).all())
        stored: list[Stored] = []
        for item in items:
            row_id = added.pop(item.update_id[:160], None)  # pop: an id given twice in one batch is added once
            if row_id is not None:
                stored.append(Stored(row_id, channel, item.conversation, item.payload))
        return stored

    async def notify(self) -> None:
        """Tell the workers of every process (PostgreSQL: ``LISTEN sct_inbox``) at commit that updates wait."""
        if not self.is_sqlite:
            await self.session.execute(NOTIFY)

    async def claim(self, channels: list[str], limit: int, lease: float) -> list[Stored]:
        """Lease up to ``limit`` conversation heads of ``channels`` for ``lease`` seconds (PostgreSQL); the
        oldest first. Rows locked by another claim in progress are skipped, never waited for."""
        result = await self.session.execute(CLAIM, {"channels": channels, "limit": limit, "lease": lease})
        return [Stored(*row) for row in sorted(result.all())]

    async def claim_next(self, row: Stored, lease: float) -> Stored | None:
        """End the claim on ``row`` (handled, replies sent) and claim its conversation's next update, if any
        (PostgreSQL): nobody else could claim that one while ``row`` was leased."""
        await self.session.execute(RELEASE, {"ids": [row.id]})
        params = {"channel": row.channel, "conversation": row.conversation, "lease": lease}
        found = (await self.session.execute(NEXT, params)).first()
        return Stored(*found) if found is not None else None

    async def claimable(self, channels: list[str]) -> int:
        """How many conversation heads of ``channels`` a claim would find now (PostgreSQL)."""
        return int((await self.session.execute(CLAIMABLE, {"channels": channels})).scalar_one())

    async def renew(self, ids: list[int], lease: float) -> None:
        """Extend the leases of updates still being worked on (PostgreSQL)."""
        await self.session.execute(RENEW, {"ids": ids, "lease": lease})

    async def release(self, ids: list[int]) -> None:
        """End the claims on ``ids`` (handled, their replies sent; or given back by a stopping process): the
        conversation's next update can be claimed at once."""
        await self.session.execute(RELEASE, {"ids": ids})

    async def take(self, ids: list[int], now: datetime) -> list[int]:
        """Mark the still pending rows of ``ids`` handled (in the caller's transaction); return them.

        One UPDATE … RETURNING (built once, see :data:`TAKE`): on PostgreSQL a second transaction taking the same rows
        waits for the first one's row locks, then finds them no longer pending and takes nothing."""
        result = await self.session.execute(TAKE, {"ids": ids, "now": now})
        return list(result.scalars())

    async def after(self, channel: str, conversation: str, after_id: int, limit: int = 20) -> list[Stored]:
        """The pending updates of one conversation that came after ``after_id``, in arrival order."""
        result = await self.session.execute(
            select(
                InboxUpdate.id, InboxUpdate.channel, InboxUpdate.conversation, InboxUpdate.payload, InboxUpdate.attempts
            )
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.conversation == conversation,
                InboxUpdate.status == InboxStatus.PENDING.value,
                InboxUpdate.id > after_id,
            )
            .order_by(InboxUpdate.id)
            .limit(limit)
        )
        return [Stored(*row) for row in result.all()]

    async def still_pending(self, ids: list[int]) -> list[int]:
        result = await self.session.execute(
            select(InboxUpdate.id).where(InboxUpdate.id.in_(ids), InboxUpdate.status == InboxStatus.PENDING.value)
        )
        return list(result.scalars())

    async def failed(self, ids: list[int], error: str, *, park_after: int, now: datetime, count: int = 1) -> bool:
        """Count a failed attempt at the pending rows of ``ids`` (``count=0``: counted already, by the claim that
        found its worker had died); park them at ``park_after`` attempts.

        Returns True when they were parked now (the caller tells the user, once)."""
        rows = list(
            (
                await self.session.execute(
                    select(InboxUpdate).where(InboxUpdate.id.in_(ids), InboxUpdate.status == InboxStatus.PENDING.value)
                )
            ).scalars()
        )
        for row in rows:
            row.attempts += count
            row.error = error[:500]
        parked = any(row.attempts >= park_after for row in rows)  # all of them: an album is one message
        for row in rows if parked else []:
            row.status = InboxStatus.PARKED.value
            row.handled_at = now
        await self.session.flush()
        return parked

    async def pending(self, channel: str, limit: int = 10_000) -> list[Stored]:
        """Rows of ``channel`` not handled yet, in arrival order (what a restart picks up again)."""
        result = await self.session.execute(
            select(InboxUpdate)
            .where(InboxUpdate.channel == channel, InboxUpdate.status == InboxStatus.PENDING.value)
            .order_by(InboxUpdate.id)
            .limit(limit)
        )
        return [
            Stored(r.id, r.channel, r.conversation, r.payload, r.attempts) for r in result.scalars() if r.id is not None
        ]

    async def parked(self, limit: int = 100) -> list[InboxUpdate]:
        result = await self.session.execute(
            select(InboxUpdate)
            .where(InboxUpdate.status == InboxStatus.PARKED.value)
            .order_by(InboxUpdate.id.desc())
            .limit(limit)
        )
        return list(result.scalars())

    async def counts(self, channel: str | None = None) -> dict[str, int]:
        query = select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
        if channel is not None:
            query = query.where(InboxUpdate.channel == channel)
        return {status: count for status, count in (await self.session.execute(query)).all()}

    async def purge(self, handled_before: datetime) -> int:
        """Delete handled rows older than ``handled_before`` (parked rows stay until staff look at them)."""
        result = await self.session.execute(
            delete(InboxUpdate).where(
                InboxUpdate.status == InboxStatus.HANDLED.value, InboxUpdate.handled_at < handled_before
            )
        )
        return int(result.rowcount or 0)
