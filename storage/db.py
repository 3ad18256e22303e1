"""Engine, unit of work and migrations.

One :class:`UnitOfWork` is one transaction: repositories add and change rows, the caller commits once,
so a step's effects and the conversation state are saved together or not at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sync_url(url: str) -> str:
    """Return the URL for synchronous drivers (Alembic, CLI reports)."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite+aiosqlite",):
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    parsed = make_url(sync_url(url))
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The one store of all state."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sync_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        ensure_sqlite_dir(self.url)
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            # SQLite has one writer; one pooled connection turns contention into an async wait
            # on the pool instead of "database is locked" errors or a blocked event loop.
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(async_url(self.url), **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self._sessions() as session:
            uow = UnitOfWork(session, is_sqlite=self.is_sqlite)
            try:
                yield uow
            except BaseException:
                await session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations (synchronously; call before the event loop work starts)."""
        command.upgrade(alembic_config(self.url), revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def lock_id(*parts: str) -> int:
    """A stable signed 64-bit number for a PostgreSQL advisory lock."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class UnitOfWork:
    """One transaction with the repositories that work inside it."""

    def __init__(self, session: AsyncSession, *, is_sqlite: bool) -> None:
        from storage.repositories import ConversationRepository, SecretRepository, UserRepository

        self.session = session
        self.is_sqlite = is_sqlite
        self.users = UserRepository(session)
        self.conversations = ConversationRepository(session)
        self.secrets = SecretRepository(session)

    async def lock(self, *parts: str) -> None:
        """Serialise work on one key across processes until this transaction ends (PostgreSQL)."""
        if not self.is_sqlite:
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id(*parts)})

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
