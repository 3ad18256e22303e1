"""Engine, unit of work and migrations.

One :class:`UnitOfWork` is one transaction: repositories add and change rows, the caller commits once,
so a step's effects and the conversation state are saved together or not at all.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from storage.canned import CannedReplyRepository
from storage.cases import CaseRepository
from storage.channel_posts import ChannelPostRepository
from storage.complaints import ComplaintRepository
from storage.duplicates import DuplicateRepository
from storage.inbox import InboxRepository
from storage.outbox import OutboxRepository
from storage.private import private_dir
from storage.questions import QuestionRepository
from storage.repositories import ConversationRepository, SecretRepository, UserRepository
from storage.session import DbSession, SyncSession
from storage.staff import StaffRepository
from storage.subscriptions import BroadcastRepository, SubscriptionRepository
from storage.web import WebRepository
from storage.zalo import ZaloRepository

if TYPE_CHECKING:
    from alembic.config import Config

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


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for any other database, or one in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def ensure_sqlite_dir(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and not path.parent.exists():
        private_dir(path.parent)


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class CommitHook(Protocol):
    """Writes that ride along with whatever transaction commits next in this process (e.g. the "sent" marks of
    replies delivered after their step, :class:`bot.inbox.Inbox`): one transaction fewer each."""

    @property
    def has_writes(self) -> bool: ...

    async def add_to(self, uow: UnitOfWork) -> Any:
        """Write what waits in ``uow``; return it (what was taken)."""

    def put_back(self, taken: Any) -> None:
        """The transaction failed: keep ``taken`` for the next one."""

    def committed(self, taken: Any) -> None: ...


class Database:
    """The one store of all state.

    PostgreSQL is used through the async psycopg driver. SQLite is in-process and answers in microseconds,
    so its calls run directly on the event loop (a thread hop per call costs more than the work) inside an
    asyncio lock held for the whole transaction: SQLite has one writer anyway, waiting for the lock is an
    async wait, and a transaction that awaits something never blocks another one's thread.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sync_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        ensure_sqlite_dir(self.url)
        self.before_commit: list[CommitHook] = []  # run by UnitOfWork.commit, in this process
        self.engine: AsyncEngine | None = None
        self.sync_engine: Engine | None = None
        if self.is_sqlite:
            self.sync_engine = create_engine(self.url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)
            event.listen(self.sync_engine, "connect", _sqlite_pragmas)
            self._sync_sessions = sessionmaker(self.sync_engine, expire_on_commit=False)
            self._sqlite_lock: asyncio.Lock | None = None
        else:
            self.engine = create_async_engine(
                async_url(self.url), echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        if self.is_sqlite:
            if self._sqlite_lock is None:
                self._sqlite_lock = asyncio.Lock()
            async with self._sqlite_lock:
                with self._sync_sessions() as sync_session:
                    uow = UnitOfWork(SyncSession(sync_session), is_sqlite=True, hooks=self.before_commit)
                    try:
                        yield uow
                    except BaseException:
                        sync_session.rollback()
                        raise
            return
        async with self._sessions() as session:
            uow = UnitOfWork(session, is_sqlite=False, hooks=self.before_commit)
            try:
                yield uow
            except BaseException:
                await session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations (synchronously; call before the event loop work starts). A database already
        at the head costs one query: the app and every command call this at start, and Alembic costs far more."""
        if revision == "head" and applied_revisions(self.url) == migration_heads():
            return
        from alembic import command  # Alembic's runtime is loaded only when there is something to migrate

        command.upgrade(alembic_config(self.url), revision)

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
        if self.sync_engine is not None:
            self.sync_engine.dispose()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


@functools.cache
def migration_heads() -> frozenset[str]:
    """The revisions ``alembic_version`` holds in a fully migrated database."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def applied_revisions(url: str) -> frozenset[str]:
    """The revisions ``alembic_version`` holds in ``url`` (none when it has no such table)."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return frozenset(conn.scalars(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:
        return frozenset()
    finally:
        engine.dispose()


def lock_id(*parts: str) -> int:
    """A stable signed 64-bit number for a PostgreSQL advisory lock."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class UnitOfWork:
    """One transaction with the repositories that work inside it."""

    def __init__(self, session: DbSession, *, is_sqlite: bool, hooks: list[CommitHook] | None = None) -> None:
        self.session = session
        self.is_sqlite = is_sqlite
        self._hooks = hooks or []
        self.users = UserRepository(session)
        self.conversations = ConversationRepository(session)
        self.secrets = SecretRepository(session)
        self.outbox = OutboxRepository(session, is_sqlite=is_sqlite)
        self.subscriptions = SubscriptionRepository(session)
        self.broadcasts = BroadcastRepository(session, is_sqlite=is_sqlite)
        self.questions = QuestionRepository(session)
        self.complaints = ComplaintRepository(session)
        self.cases = CaseRepository(session, is_sqlite=is_sqlite)
        self.canned = CannedReplyRepository(session)
        self.duplicates = DuplicateRepository(session, is_sqlite=is_sqlite)
        self.staff = StaffRepository(session)
        self.zalo = ZaloRepository(session, is_sqlite=is_sqlite)
        self.channel_posts = ChannelPostRepository(session)
        self.web = WebRepository(session)

        self.inbox = InboxRepository(session, is_sqlite=is_sqlite)

    async def lock(self, *parts: str) -> None:
        """Serialise work on one key across processes until this transaction ends (PostgreSQL)."""
        if not self.is_sqlite:
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id(*parts)})

    async def commit(self) -> None:
        """Commit, with what the process's commit hooks have waiting (they get it back if the commit fails)."""
        taken = [(hook, await hook.add_to(self)) for hook in self._hooks if hook.has_writes] if self._hooks else []
        try:
            await self.session.commit()
        except BaseException:
            for hook, what in taken:
                hook.put_back(what)
            raise
        for hook, what in taken:
            hook.committed(what)

    async def rollback(self) -> None:
        await self.session.rollback()
