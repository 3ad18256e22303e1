"""Locks that one process of a bot holds at a time: who leads (``bot/leader.py``), who polls a platform.

:func:`while_held` runs a piece of work only while this process holds a lock, and stands by otherwise: only one
process may call Telegram's ``getUpdates`` (a second caller gets "409 Conflict"), whereas every process serves the
webhooks and handles the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import NullPool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.db import async_url, lock_id, sync_url

logger = logging.getLogger(__name__)

LEADER_LOCK = "sct-assistant:leader"


class LeaderLock:
    """One holder among the processes of a bot: a PostgreSQL session advisory lock on a connection of its own (it
    goes with the process or its connection), or an exclusive ``flock`` on a file beside a SQLite database."""

    def __init__(self, database_url: str, name: str = LEADER_LOCK, *, file_suffix: str = "leader") -> None:
        self.url = sync_url(database_url)
        self.key = lock_id(name)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._path = (
            Path(f"{parsed.database}.{file_suffix}")
            if self.is_sqlite and parsed.database and parsed.database != ":memory:"
            else None
        )
        self._fd: int | None = None
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.is_sqlite:
            self.held = self._flock()
            return self.held
        engine = create_async_engine(async_url(self.url), poolclass=NullPool)
        try:
            conn = await engine.connect()
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar())
        except Exception:
            await engine.dispose()
            raise
        if not got:
            await conn.close()
            await engine.dispose()
            return False
        self._engine, self._conn, self.held = engine, conn, True
        return True

    def _flock(self) -> bool:
        if self._path is None:
            return True
        try:
            import fcntl
        except ImportError:  # not POSIX: one process assumed
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def alive(self) -> bool:
        """Whether the lock is still held (the PostgreSQL connection holding it still answers)."""
        if not self.held:
            return False
        if self._conn is None:
            return True
        try:
            await self._conn.execute(text("SELECT 1"))
            return True
        except Exception:
            logger.exception("leader lock: the connection holding it is gone")
            await self.release()
            return False

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            with contextlib.suppress(Exception):
                await self._conn.close()
        if self._engine is not None:
            await self._engine.dispose()
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
        self._conn = self._engine = self._fd = None
        self.held = False


async def while_held(lock: LeaderLock, work: Callable[[], Awaitable[None]], *, retry_seconds: float, what: str) -> None:
    """Run ``work`` while this process holds ``lock``: take it when free (checking every ``retry_seconds``),
    stop the work when the lock is lost, and take it again. Runs until cancelled."""
    told = False
    while True:
        try:
            got = await lock.try_acquire()
        except Exception as exc:
            logger.warning("%s: the lock could not be asked for (%s)", what, type(exc).__name__)
            got = False
        if not got:
            if not told:
                logger.info("%s: another process does it; standing by", what)
                told = True
            await asyncio.sleep(retry_seconds)
            continue
        told = False
        task = asyncio.create_task(work(), name=what)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=retry_seconds)
                if not task.done() and not await lock.alive():
                    logger.error("%s: the lock is lost; stopping here", what)
                    break
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await lock.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: stopped by an error", what, exc_info=task.exception())
            await asyncio.sleep(retry_seconds)
