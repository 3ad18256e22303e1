"""State of the Zalo channels: the OA token pair, webhook events already seen, numbered choices per chat.

* ``zalo_tokens`` — the Official Account's access/refresh token pair. The refresh token is single-use and
  rotates on every refresh, so the pair lives here (not in the environment) and is replaced in the same
  transaction that holds the refresh lock (see :meth:`ZaloRepository.lock_token`). Both tokens are stored
  as the channel hands them over: encrypted (``fernet:v1:…``, see ``bot/channels/zalo_tokens_crypto.py``);
  this repository neither encrypts nor decrypts, and knows no key.
* ``zalo_seen_events`` — ids of webhook deliveries already taken, under a unique key, so a delivery Zalo
  retries (or replays after a restart, or hands to another worker) is processed once.
* ``zalo_choices`` — the numbered options last shown in a chat (Zalo has no buttons): a reply "2" or the
  option's label is turned back into the option's payload by whichever worker receives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel

from storage.models import utc_column
from storage.session import DbSession


class ZaloToken(SQLModel, table=True):
    """The OA token pair. ``expires_at`` None: unknown (use until Zalo says it expired).

    ``access_token``/``refresh_token`` hold ``fernet:v1:…`` ciphertexts (Text: a Fernet token is about 4/3 of the
    token's length plus ~100 characters); a value without the prefix is plain text from an earlier version.
    """

    __tablename__ = "zalo_tokens"

    app_id: str = Field(primary_key=True, max_length=64)
    access_token: str = Field(default="", sa_column=Column(Text, nullable=False))
    refresh_token: str = Field(default="", sa_column=Column(Text, nullable=False))
    expires_at: datetime | None = utc_column(nullable=True)
    # SHA-256 of the refresh token this row was seeded with from the environment: a different one there means
    # the operator supplied a new pair, which then replaces the stored one.
    seed_hash: str | None = Field(default=None, max_length=64)
    refreshes: int = 0
    updated_at: datetime = utc_column()


class ZaloSeenEvent(SQLModel, table=True):
    __tablename__ = "zalo_seen_events"

    channel: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=160)
    seen_at: datetime = utc_column(index=True)


class ZaloChoices(SQLModel, table=True):
    __tablename__ = "zalo_choices"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    # [{"label": ..., "payload": ...}, ...] in the order they were numbered
    options: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_column()


class ZaloRepository:
    def __init__(self, session: DbSession, *, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    def _insert(self, table: Any) -> Any:
        return sqlite_insert(table) if self.is_sqlite else pg_insert(table)

    # -- tokens ------------------------------------------------------------------------------------------

    async def get_token(self, app_id: str) -> ZaloToken | None:
        result = await self.session.execute(select(ZaloToken).where(ZaloToken.app_id == app_id))
        return result.scalar_one_or_none()

    async def lock_token(self, app_id: str) -> ZaloToken | None:
        """Read the token row, locked until this transaction ends, so only one process refreshes it.

        PostgreSQL: ``SELECT … FOR UPDATE`` (callers also take an advisory lock, which covers the first
        insert). SQLite: a no-op write first, which takes the database's write lock (other processes wait in
        ``busy_timeout``) and starts the transaction before the read, so the read sees the latest pair.
        """
        if self.is_sqlite:
            await self.session.execute(
                update(ZaloToken).where(ZaloToken.app_id == app_id).values(refreshes=ZaloToken.refreshes)
            )
            query = select(ZaloToken).where(ZaloToken.app_id == app_id)
        else:
            query = select(ZaloToken).where(ZaloToken.app_id == app_id).with_for_update()
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def save_token(
        self,
        app_id: str,
        *,
        access_token: str,
        refresh_token: str,
        expires_at: datetime | None,
        now: datetime,
        seed_hash: str | None = None,
        refreshed: bool = False,
    ) -> ZaloToken:
        row = await self.get_token(app_id)
        if row is None:
            row = ZaloToken(app_id=app_id, updated_at=now)
            self.session.add(row)
        row.access_token = access_token
        row.refresh_token = refresh_token
        row.expires_at = expires_at
        row.updated_at = now
        if seed_hash is not None:
            row.seed_hash = seed_hash
        if refreshed:
            row.refreshes += 1
        await self.session.flush()
        return row

    # -- seen events -------------------------------------------------------------------------------------

    async def first_sight(self, channel: str, event_id: str, now: datetime) -> bool:
        """Record an event id; True the first time it is seen, False for a repeat (on any worker)."""
        statement = (
            self._insert(ZaloSeenEvent)
            .values(channel=channel, event_id=event_id[:160], seen_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(ZaloSeenEvent.event_id)
        )
        result = await self.session.execute(statement)
        return result.first() is not None

    async def prune_seen(self, before: datetime) -> int:
        result = await self.session.execute(delete(ZaloSeenEvent).where(ZaloSeenEvent.seen_at < before))
        return result.rowcount or 0

    # -- numbered choices --------------------------------------------------------------------------------

    async def get_choices(self, channel: str, chat_id: str) -> ZaloChoices | None:
        result = await self.session.execute(
            select(ZaloChoices).where(ZaloChoices.channel == channel, ZaloChoices.chat_id == chat_id)
        )
        return result.scalar_one_or_none()

    async def set_choices(self, channel: str, chat_id: str, options: list[dict[str, str]], now: datetime) -> None:
        """Replace the chat's options (an empty list forgets them)."""
        if not options:
            await self.session.execute(
                delete(ZaloChoices).where(ZaloChoices.channel == channel, ZaloChoices.chat_id == chat_id)
            )
            return
        statement = self._insert(ZaloChoices).values(channel=channel, chat_id=chat_id, options=options, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={"options": statement.excluded.options, "updated_at": statement.excluded.updated_at},
        )
        await self.session.execute(statement)
