"""Receiving through the durable inbox: store first, acknowledge after, handle per conversation in order.

A channel hands each update to :meth:`Inbox.store` (one transaction for a batch, committed before it answers
the webhook or moves its poll offset), then to :meth:`Inbox.submit` with the work that handles one stored
update. Work runs on a fixed number of workers (never a task per message): each conversation's updates one at
a time in arrival order, different conversations side by side, the rest waiting in memory and in the table.
At start :meth:`Inbox.resume` queues what a previous run stored but did not handle. The dispatcher marks a
row handled and writes its replies to the outbox in the step's transaction; the channel then delivers them at
once and :meth:`Inbox.sent` marks them (a crash in between: the outbox sender delivers them after the lease).

**Shared** (``shared=True``: ``run`` on PostgreSQL, where several processes may serve one database): nothing is
queued in memory. Every process claims conversation heads from the table (:meth:`InboxRepository.claim`: the
oldest pending update of a conversation holding no live lease, leased for ``lease`` seconds and renewed while it
is worked on), at most ``workers`` at a time, so each update is handled by one process and each conversation in
arrival order whoever received it. Once an update's replies went out its claim passes on to the conversation's
next update, which the same worker handles. Claims run when updates were stored (in this process, or in another
one: ``NOTIFY sct_inbox`` through a :class:`bot.notify.Listener`), when a worker is free again, and every
``poll`` seconds (leases of a process that died). Channels register their work per channel (:meth:`submit`,
:meth:`resume`); only those channels are claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.db import Database, UnitOfWork
from storage.inbox import NOTIFY_CHANNEL as INBOX_NOTICE
from storage.inbox import Received, Stored

if TYPE_CHECKING:
    from bot.notify import Listener

logger = logging.getLogger(__name__)

Work = Callable[[Stored], Awaitable[None]]
DEFAULT_WORKERS = 16
MARK_DELAY = 0.02  # seconds sent marks wait for another transaction to ride along with


def utc_now() -> datetime:
    return datetime.now(UTC)


class Inbox:
    def __init__(
        self,
        db: Database,
        *,
        workers: int = DEFAULT_WORKERS,
        now: Callable[[], datetime] = utc_now,
        shared: bool = False,
        lease: float = 30.0,
        poll: float = 1.0,
        listener: Listener | None = None,
    ):
        if shared and db.is_sqlite:
            raise ValueError("a shared inbox needs PostgreSQL (SQLite serves one process)")
        self.db = db
        self.now = now
        self.size = workers
        self.shared = shared
        self.lease = lease  # shared: seconds a claim holds an update (renewed every third of it while worked on)
        self.poll = poll  # shared: seconds between claims when nothing woke the claimer
        self.listener = listener
        self._works: dict[str, Work] = {}  # shared: channel -> how its stored updates are handled
        self._running: dict[int, asyncio.Task] = {}  # shared: claimed update id -> its work
        self._claimer: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._queues: dict[str, deque[tuple[Stored, Work]]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.handled = 0
        self._marks: list[tuple[int, str | None]] = []  # delivered replies, marked sent with the next commit
        self._released: list[int] = []  # shared: updates done with (replies sent) whose claims end with it
        self._flusher: asyncio.Task | None = None
        db.before_commit.append(self)

    async def store(self, channel: str, items: list[Received]) -> list[Stored]:
        """Store a batch in one transaction; return the updates not seen before (duplicates are dropped)."""
        if not items:
            return []
        async with self.db.unit_of_work() as uow:
            added = await uow.inbox.store(channel, items, self.now())
            if added and self.shared:
                await uow.inbox.notify()
            await uow.commit()
        if len(added) < len(items):
            logger.info("%s: %d update(s) received again, dropped", channel, len(items) - len(added))
        return added

    def submit(self, rows: list[Stored], work: Work) -> None:
        """Queue stored updates: each conversation's in order, behind what it already has queued. Shared: claim
        from the table now (the rows may go to another process)."""
        if self.shared:
            for channel in {row.channel for row in rows}:
                self._register(channel, work)
            self._wake.set()
            return
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
        """Queue the updates of ``channel`` stored by an earlier run but never handled; returns how many.
        Shared: handle the updates of ``channel`` from now on (what waits is claimed at once)."""
        if self.shared:
            self._register(channel, work)
            return 0
        async with self.db.unit_of_work() as uow:
            rows = await uow.inbox.pending(channel)
        self.submit(rows, work)
        if rows:
            logger.info("%s: %d stored update(s) from before are handled now", channel, len(rows))
        return len(rows)

    async def sent(self, delivered: list[tuple[int, str | None]]) -> None:
        """Mark replies delivered straight after their step (outbox row id, platform message id). The marks ride
        along with this process's next transaction, whatever it is (usually the next step: see
        :meth:`add_to`), or, when none comes within ``MARK_DELAY``, go in one of their own. A crash before they
        are committed leaves those replies to the outbox sender once their lease is over (sent twice at most)."""
        if not delivered:
            return
        self._marks.extend(delivered)
        self._flush_soon()

    # -- riding along with the next transaction (storage.db.CommitHook) -----------------------------------

    @property
    def has_writes(self) -> bool:
        return bool(self._marks or self._released)

    async def add_to(self, uow: UnitOfWork) -> tuple[list[tuple[int, str | None]], list[int]]:
        """Write the waiting marks (and, shared, the claims to end) in ``uow``; returns what it took."""
        taken = (self._marks, self._released)
        self._marks, self._released = [], []
        try:
            if taken[0]:
                await uow.outbox.mark_sent_many(taken[0], self.now())
            if taken[1]:
                await uow.inbox.release(taken[1])
        except BaseException:
            self.put_back(taken)
            raise
        return taken

    def put_back(self, taken: tuple[list[tuple[int, str | None]], list[int]]) -> None:
        """The transaction that took them failed: they wait for the next one."""
        self._marks[:0], self._released[:0] = taken
        self._flush_soon()

    def committed(self, taken: tuple[list[tuple[int, str | None]], list[int]]) -> None:
        if taken[1]:
            self._wake.set()  # those conversations' next updates can be claimed now

    def _flush_soon(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(MARK_DELAY), name="inbox-marks")

    async def _flush(self, delay: float, *, retry: bool = True) -> None:
        """A transaction of their own for marks no other transaction took along (the process is idle)."""
        await asyncio.sleep(delay)
        while self.has_writes:
            try:
                async with self.db.unit_of_work() as uow:
                    await uow.commit()  # the commit hook writes them
            except Exception as exc:  # put back by the hook: tried again
                logger.warning("inbox: sent marks not written (%s); trying again", type(exc).__name__)
                if not retry:
                    return
                await asyncio.sleep(1.0)

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

    # -- shared: claims from the table --------------------------------------------------------------------

    def _register(self, channel: str, work: Work) -> None:
        self._works[channel] = work
        if self._claimer is None:
            self._claimer = asyncio.create_task(self._claim_loop(), name="inbox-claims")
            if self.listener is not None:
                self.listener.on(INBOX_NOTICE, self._wake.set)
                self.listener.start()
        self._wake.set()

    async def _claim_loop(self) -> None:
        failures = 0
        renewed = time.monotonic()
        while True:
            self._wake.clear()
            try:
                if time.monotonic() - renewed >= self.lease / 3:
                    renewed = time.monotonic()
                    await self._renew()
                free = self.size - len(self._running)
                rows = await self._claim(free) if free > 0 else []
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: what waits stays in the table
                failures += 1
                logger.warning("inbox: claiming failed (%s); trying again", type(exc).__name__)
                await asyncio.sleep(min(0.2 * 2 ** min(failures, 6), 10.0))
                continue
            for row in rows:
                self._running[row.id] = asyncio.create_task(self._handle_claimed(row), name="inbox-worker")
            if rows and len(rows) == free:
                continue  # there may be more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(self.poll, self.lease / 3))

    async def _claim(self, limit: int) -> list[Stored]:
        """One transaction: the claims of updates done with end (and waiting sent marks are written) first, so
        their conversations' next updates are found by the claim that follows."""
        async with self.db.unit_of_work() as uow:
            taken = await self.add_to(uow) if self.has_writes else None
            try:
                rows = await uow.inbox.claim(list(self._works), limit, self.lease)
                await uow.commit()
            except BaseException:
                if taken is not None:
                    self.put_back(taken)
                raise
        return rows

    async def _renew(self) -> None:
        if self._running:
            async with self.db.unit_of_work() as uow:
                await uow.inbox.renew(list(self._running), self.lease)
                await uow.commit()

    async def _handle_claimed(self, row: Stored) -> None:
        """Handle a claimed update, then the next ones of its conversation while there are (the claim passes on
        in the transaction that ends it, after the replies went out: the next update's replies never overtake
        these, and a burst of one person's messages costs no claim query each)."""
        current = row
        try:
            while True:
                try:
                    await self._works[current.channel](current)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Still leased (and pending, unless the step committed): tried again once the lease ran out.
                    logger.exception("%s: stored update %s could not be handled", current.channel, current.id)
                    return
                finally:
                    self.handled += 1
                following = await self._pass_on(current)
                if following is None:
                    return
                self._running[following.id] = self._running.pop(current.id)
                current = following
        finally:
            self._running.pop(current.id, None)
            self._wake.set()

    async def _pass_on(self, done: Stored) -> Stored | None:
        try:
            async with self.db.unit_of_work() as uow:
                following = await uow.inbox.claim_next(done, self.lease)
                await uow.commit()
        except Exception as exc:  # the claim ends with the next claim transaction instead
            logger.warning("inbox: claim not passed on (%s)", type(exc).__name__)
            self._released.append(done.id)
            return None
        return following

    async def following(
        self, row: Stored, belongs: Callable[[Stored], bool], *, quiet: float, max_wait: float
    ) -> list[Stored]:
        """Shared: the updates right after ``row`` in its conversation that belong with it (the rest of a photo
        burst, of an album), gathered until none came for ``quiet`` seconds (at most ``max_wait``) or one that
        does not belong came. Only the holder of ``row``'s claim calls this: while ``row`` is pending nobody else
        can claim them. The caller hands them to the dispatcher with ``row``, which marks them all handled."""
        taken: list[Stored] = []
        first = last = time.monotonic()
        while (now := time.monotonic()) - last < quiet and now - first < max_wait:
            await asyncio.sleep(min(quiet, max_wait) / 5)
            async with self.db.unit_of_work() as uow:
                later = await uow.inbox.after(row.channel, row.conversation, (taken or [row])[-1].id)
            for update in later:
                if not belongs(update):
                    return taken
                taken.append(update)
                last = time.monotonic()
        return taken

    async def _nothing_claimable(self) -> bool:
        if self._running or not self._works:
            return not self._running
        async with self.db.unit_of_work() as uow:
            return await uow.inbox.claimable(list(self._works)) == 0

    # -- both ------------------------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self._running) if self.shared else sum(len(q) for q in self._queues.values())

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued update was handled and the sent marks are written (shared: this process works
        on none and none could be claimed); False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.shared:
            while not await self._nothing_claimable():
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.02)
        while self._queues or self._busy:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), remaining)
            except TimeoutError:
                return False
        await self._flush(0, retry=False)
        return not self.has_writes

    async def close(self) -> None:
        if self._claimer is not None:
            logger.info("inbox: this process handled %d stored update(s)", self.handled)
            self._claimer.cancel()
            await asyncio.gather(self._claimer, return_exceptions=True)
            self._claimer = None
        if self._running:  # cut off mid-update: nothing was committed; another process takes them over now
            claimed = list(self._running)
            for task in list(self._running.values()):
                task.cancel()
            await asyncio.gather(*self._running.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                async with self.db.unit_of_work() as uow:
                    await uow.inbox.release(claimed)
                    await uow.commit()
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._flush(0, retry=False)  # the last marks (if the database is down: resent by the sender)
        with contextlib.suppress(ValueError):
            self.db.before_commit.remove(self)
        if self.listener is not None:  # the process's one listener goes with its inbox (``run`` stops it last)
            await self.listener.stop()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
