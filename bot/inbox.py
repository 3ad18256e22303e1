"""Receiving through the durable inbox: store first, acknowledge after, handle per conversation in order.

A channel hands each update to :meth:`Inbox.store` (one transaction for a batch, committed before it answers
the webhook or moves its poll offset), then to :meth:`Inbox.submit` with the work that handles one stored
update. Work runs on a fixed number of workers (never a task per message): each conversation's updates one at
a time in arrival order, different conversations side by side, the rest waiting in memory and in the table.
At start :meth:`Inbox.resume` queues what a previous run stored but did not handle. The dispatcher marks a
row handled and writes its replies to the outbox in the step's transaction; the channel then delivers them at
once and :meth:`Inbox.sent` marks them (a crash in between: the outbox sender delivers them after the lease).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from storage.db import Database
from storage.inbox import Received, Stored

logger = logging.getLogger(__name__)

Work = Callable[[Stored], Awaitable[None]]
DEFAULT_WORKERS = 16


def utc_now() -> datetime:
    return datetime.now(UTC)


class Inbox:
    def __init__(self, db: Database, *, workers: int = DEFAULT_WORKERS, now: Callable[[], datetime] = utc_now):
        self.db = db
        self.now = now
        self.size = workers
        self._queues: dict[str, deque[tuple[Stored, Work]]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.handled = 0
        self._marks: list[tuple[int, str | None]] = []  # delivered replies waiting for the next mark commit
        self._marking: asyncio.Future[None] | None = None  # that commit, once started
        self._mark_tasks: set[asyncio.Task] = set()

    async def store(self, channel: str, items: list[Received]) -> list[Stored]:
        """Store a batch in one transaction; return the updates not seen before (duplicates are dropped)."""
        if not items:
            return []
        async with self.db.unit_of_work() as uow:
            added = await uow.inbox.store(channel, items, self.now())
            await uow.commit()
        if len(added) < len(items):
            logger.info("%s: %d update(s) received again, dropped", channel, len(items) - len(added))
        return added

    def submit(self, rows: list[Stored], work: Work) -> None:
        """Queue stored updates: each conversation's in order, behind what it already has queued."""
        for row in rows:
            key = f"{row.channel}:{row.conversation}"
            queue = self._queues.get(key)
            if queue is None:
                self._queues[key] = deque([(row, work)])
                self._ready.put_nowait(key)
            else:
                queue.append((row, work))
            self._idle.clear()
        self._start_workers()

    async def resume(self, channel: str, work: Work) -> int:
        """Queue the updates of ``channel`` stored by an earlier run but never handled; returns how many."""
        async with self.db.unit_of_work() as uow:
            rows = await uow.inbox.pending(channel)
        self.submit(rows, work)
        if rows:
            logger.info("%s: %d stored update(s) from before are handled now", channel, len(rows))
        return len(rows)

    async def sent(self, delivered: list[tuple[int, str | None]]) -> None:
        """Mark replies delivered straight after their step (outbox row id, platform message id); returns once
        the marks are committed. Marks arriving while a transaction waits for the database share it (a group
        commit): many conversations' replies cost one transaction, not one each."""
        if not delivered:
            return
        self._marks.extend(delivered)
        if self._marking is None:
            self._marking = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._write_marks(self._marking), name="inbox-marks")
            self._mark_tasks.add(task)
            task.add_done_callback(self._mark_tasks.discard)
        await asyncio.shield(self._marking)

    async def _write_marks(self, done: asyncio.Future[None]) -> None:
        try:
            async with self.db.unit_of_work() as uow:
                # Marks added until now are in this transaction; later ones start the next one.
                marks, self._marks, self._marking = self._marks, [], None
                await uow.outbox.mark_sent_many(marks, self.now())
                await uow.commit()
        except BaseException as exc:
            if self._marking is done:  # failed before taking the marks: the next call starts afresh
                self._marks, self._marking = [], None
            if isinstance(exc, asyncio.CancelledError):
                done.cancel()
                raise
            done.set_exception(exc)
            done.exception()  # retrieved here too: the callers may all have been cancelled
        else:
            done.set_result(None)

    def _start_workers(self) -> None:
        """Enough workers for the conversations waiting, never more than ``size``; a worker ends when none wait."""
        self._workers = [task for task in self._workers if not task.done()]
        while len(self._workers) < min(self.size, self._ready.qsize() + self._busy):
            self._workers.append(asyncio.create_task(self._worker(), name="inbox-worker"))

    async def _worker(self) -> None:
        while not self._ready.empty():
            key = self._ready.get_nowait()
            self._busy += 1
            try:
                queue = self._queues[key]
                while queue:
                    row, work = queue[0]
                    try:
                        await work(row)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # Left pending in the table: handled again at the next start.
                        logger.exception("%s: stored update %s could not be handled", row.channel, row.id)
                    queue.popleft()
                    self.handled += 1
                del self._queues[key]
            finally:
                self._busy -= 1
                if not self._queues and not self._busy:
                    self._idle.set()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued update was handled; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queues or self._busy:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), remaining)
            except TimeoutError:
                return False
        return True

    async def close(self) -> None:
        await asyncio.gather(*self._mark_tasks, return_exceptions=True)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
