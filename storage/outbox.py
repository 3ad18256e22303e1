"""Outbox repository: enqueue in the caller's transaction; claim, mark sent or failed from the sender; and the
queries the features make of their own rows (a chat's queue, a digest still collecting, pending edits)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm.attributes import flag_modified

from storage.models import OutboxMessage, OutboxStatus
from storage.session import DbSession

_table = OutboxMessage.__table__
# Replies delivered straight after their step are marked with this (built once: see storage/inbox.py TAKE).
MARK_SENT = (
    update(_table)
    .where(_table.c.id == bindparam("row_id"))
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=bindparam("now"),
        claimed_until=None,
        platform_message_id=bindparam("message_id"),
    )
)
# A step's replies, written in its transaction (every column given: a Core insert knows no model defaults).
ADD_REPLIES = insert(_table).returning(_table.c.id, sort_by_parameter_order=True)


class FailureCause(enum.StrEnum):
    """Why a row failed for good."""

    OUTSIDE_WINDOW = "outside_window"  # the platform's time to answer the user is over (Zalo OA: 7 days)
    BLOCKED = "blocked"  # the user blocked the bot, left, or the chat is gone
    GAVE_UP = "gave_up"  # temporary failures until the attempts ran out


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A row the sender marked failed for good, as its ``on_undelivered`` hook sees it."""

    row_id: int
    channel: str
    chat_id: str
    kind: str
    ref: str | None
    text: str  # what was not delivered
    cause: FailureCause
    error: str


class OutboxRepository:
    def __init__(self, session: DbSession, *, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    async def enqueue(
        self,
        *,
        channel: str,
        chat_id: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        not_before: datetime | None = None,
        dedupe_key: str | None = None,
        ref: str | None = None,
    ) -> OutboxMessage | None:
        """Add a message; with a ``dedupe_key`` already present, add nothing and return None."""
        if dedupe_key is not None:
            existing = await self.session.execute(
                select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
            )
            if existing.first() is not None:
                return None
        row = OutboxMessage(
            channel=channel,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            status=OutboxStatus.PENDING.value,
            dedupe_key=dedupe_key,
            ref=ref,
            not_before=not_before or now,
            created_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def add_replies(
        self,
        *,
        channel: str,
        chat_id: str,
        kind: str,
        payloads: list[dict[str, Any]],
        now: datetime,
        not_before: datetime,
    ) -> list[int]:
        """Add a step's replies in one statement (no dedupe key, no ref); return their row ids in order."""
        if not payloads:
            return []
        rows = [
            {
                "channel": channel, "chat_id": chat_id, "kind": kind, "payload": payload,
                "status": OutboxStatus.PENDING.value, "attempts": 0, "dedupe_key": None, "ref": None,
                "not_before": not_before, "claimed_until": None, "created_at": now, "sent_at": None,
                "last_error": None, "platform_message_id": None,
            }
            for payload in payloads
        ]  # fmt: skip
        return list((await self.session.execute(ADD_REPLIES, rows)).scalars())

    async def claim(
        self, now: datetime, limit: int, *, lease: timedelta = timedelta(seconds=60), channel: str | None = None
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due rows for delivery; they come back if not marked before the lease ends."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.not_before <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if channel is not None:
            query = query.where(OutboxMessage.channel == channel)
        if not self.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list((await self.session.execute(query)).scalars())
        for row in rows:
            row.claimed_until = now + lease
            row.attempts += 1
        await self.session.flush()
        return rows

    async def mark_sent(self, row_id: int, now: datetime, platform_message_id: str | None = None) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(
                status=OutboxStatus.SENT.value,
                sent_at=now,
                claimed_until=None,
                platform_message_id=platform_message_id,
            )
        )

    async def mark_sent_many(self, delivered: list[tuple[int, str | None]], now: datetime) -> None:
        """Mark several rows sent in one statement run for each (outbox row id, platform message id)."""
        if not delivered:
            return
        rows = [{"row_id": row_id, "message_id": message_id, "now": now} for row_id, message_id in delivered]
        await self.session.execute(MARK_SENT, rows)

    async def mark_failed(self, row_id: int, error: str, *, permanent: bool, retry_at: datetime | None = None) -> None:
        """Record a failure: permanent ones are never retried; others wait until ``retry_at``."""
        values: dict[str, Any] = {"last_error": error[:500], "claimed_until": None}
        if permanent:
            values["status"] = OutboxStatus.FAILED.value
        elif retry_at is not None:
            values["not_before"] = retry_at
        await self.session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))

    async def mark_skipped(self, row_id: int, reason: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(status=OutboxStatus.SKIPPED.value, last_error=reason[:500], claimed_until=None)
        )

    async def counts(self, kind: str | None = None, ref: str | None = None) -> dict[str, int]:
        query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        if ref is not None:
            query = query.where(OutboxMessage.ref == ref)
        result = await self.session.execute(query)
        return {status: count for status, count in result.all()}

    async def get(self, row_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, row_id)

    async def row(self, row_id: int, *, lock: bool = False, skip_locked: bool = False) -> OutboxMessage | None:
        """Read one row afresh; ``lock`` takes a row lock on PostgreSQL (``skip_locked``: none if another has it)."""
        query = select(OutboxMessage).where(OutboxMessage.id == row_id)
        if lock and not self.is_sqlite:
            query = query.with_for_update(skip_locked=skip_locked)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def pending_ids(self, channel: str, now: datetime, limit: int) -> list[int]:
        """Ids of the rows of ``channel`` due at ``now``, oldest first."""
        result = await self.session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.not_before <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(result.scalars())

    @staticmethod
    def add_attempt(row: OutboxMessage) -> int:
        """Count one more attempt at a row (one not delivered by the sender); returns the count."""
        row.attempts += 1
        return row.attempts

    async def queued_for_chat(self, channel: str, chat_id: str, kinds: Iterable[str]) -> int:
        """How many rows of ``kinds`` wait for one chat (claimed by the sender or not)."""
        result = await self.session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.kind.in_(list(kinds)),
            )
        )
        return int(result.scalar_one())

    async def open_digest(self, channel: str, chat_id: str, kind: str, now: datetime) -> OutboxMessage | None:
        """The digest row for this chat still collecting (pending, not yet due, not claimed)."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.kind == kind,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.claimed_until.is_(None),
                OutboxMessage.not_before > now,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        if not self.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def pending_edits(self, ref: str, kind: str, now: datetime) -> list[OutboxMessage]:
        """The rows of ``kind`` about ``ref`` not yet claimed by the sender (locked on PostgreSQL)."""
        query = select(OutboxMessage).where(
            OutboxMessage.ref == ref,
            OutboxMessage.kind == kind,
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.claimed_until.is_(None),
        )
        if not self.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.execute(query)).scalars())

    async def replace_if_unclaimed(self, row_id: int, payload: dict[str, Any], now: datetime) -> bool:
        """Replace a pending row's payload unless a sender has claimed it (atomic; no row lock held before)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(payload=payload)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1

    @staticmethod
    def set_payload(row: OutboxMessage, payload: dict[str, Any]) -> None:
        """Replace the payload of a row this transaction holds (locked, or still collecting)."""
        row.payload = dict(payload)
        flag_modified(row, "payload")

    async def by_ref(self, ref: str, kinds: Iterable[str]) -> list[OutboxMessage]:
        """The rows about ``ref`` (a case's code) of the given kinds, oldest first."""
        result = await self.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.ref == ref, OutboxMessage.kind.in_(list(kinds)))
            .order_by(OutboxMessage.id)
        )
        return list(result.scalars())

    async def ref_of_message(self, channel: str, chat_id: str, kind: str, platform_message_id: str) -> str | None:
        """The ``ref`` of the row of ``kind`` delivered as that platform message in that chat."""
        return await self.session.scalar(
            select(OutboxMessage.ref).where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.kind == kind,
                OutboxMessage.platform_message_id == platform_message_id,
            )
        )

    async def unreachable_chats(self, kinds: Iterable[str]) -> list[tuple[str, str]]:
        """The chats (channel, chat id) where a row of ``kinds`` failed for good because the chat was gone."""
        result = await self.session.execute(
            select(OutboxMessage.channel, OutboxMessage.chat_id)
            .where(
                OutboxMessage.status == OutboxStatus.FAILED.value,
                OutboxMessage.kind.in_(list(kinds)),
                OutboxMessage.last_error.like("unreachable%"),
            )
            .distinct()
        )
        return [(channel, chat_id) for channel, chat_id in result.all()]

    # -- forum topics: created once as far as the platform allows (bot/sender.py, handlers/cases/topics.py) ----

    async def note_creating(self, row_id: int, now: datetime) -> bool:
        """Record, before the call, that the topic of this row is being created; False if it is recorded already."""
        row = await self.row(row_id, lock=True)
        if row is None or row.status != OutboxStatus.PENDING.value:
            return False
        self.set_payload(row, {**(row.payload or {}), "creating": now.isoformat()})
        await self.session.flush()
        return True

    async def record_topic(self, row_id: int, topic_id: str | None, now: datetime) -> tuple[bool, str | None]:
        """Record the topic's id unless one is recorded already (the first topic recorded stays the case's).

        Returns whether it was recorded now, and the id the row holds after this (read after the write, so
        current on SQLite too, where reads before a transaction's first write are not)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.PENDING.value)
            .values(status=OutboxStatus.SENT.value, sent_at=now, claimed_until=None, platform_message_id=topic_id)
            .execution_options(synchronize_session=False)
        )
        held = await self.session.scalar(select(OutboxMessage.platform_message_id).where(OutboxMessage.id == row_id))
        return bool(result.rowcount), held
