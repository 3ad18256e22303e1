"""The outbox sender: delivers what the assistant sends on its own initiative, at the platform's limit.

Rows are claimed in batches (a lease in ``claimed_until``), handed to a pool of workers and delivered
through each channel's ``deliver(chat_id, reply)``; results are written back in bulk every few hundred
milliseconds. Memory stays flat whatever the number of recipients: at most two batches are held.

Outcomes (``deliver`` raises the common errors of ``bot/channels/base.py``):

* delivered → ``sent``;
* ``RateLimited`` (429) → the WHOLE sender (and the channel's interactive replies, which share the
  :class:`~bot.ratelimit.RateLimiter`) waits ``retry_after``; the same row is tried again;
* ``TemporaryFailure`` (network errors, 5xx) and anything unexpected → back to the queue with exponential
  backoff; after ``max_attempts`` claims the row fails for good;
* ``Unreachable`` (403: the user blocked the bot, or the chat is gone; Zalo OA -230/-232: the user is
  outside the OA's 7-day window) → the row fails for good, is never retried, and the subscriptions reached
  in that chat are turned off;
* a reminder row past its ``expires_at`` → ``skipped`` (never sent out of date); an announcement met
  in the quiet hours → released until they end.

A row whose payload has ``edit_of`` (an outbox row id) changes that message in place through the channel's
``edit(chat_id, message_id, reply)`` (a channel without edits gets a new message instead); it waits while
that message is not out yet and is skipped if it never went out. ``reply_to_row`` sends the message as a
reply to that row's message when it is known. ``thread_row`` (a forum topic's creation row) sends it into
that topic once the topic exists (a ``topic`` reply with it renames the topic).

A forum topic is created once as far as the platform allows: the attempt is recorded (``creating`` in the
payload, committed) before the call; a row claimed again with that mark (the process died between the call and
the record, or the call's outcome is unknown) waits ``topic_grace`` seconds for the platform's note of the topic
created by the earlier attempt to be adopted (``handlers/cases/topics.py``), and only then creates again. The
topic's id is recorded only if none was (``OutboxRepository.record_topic``): the first topic recorded stays, and
a later one is found out as an orphan by its own note and dropped there.

Every row that fails for good (unreachable, or out of attempts) is handed to the ``on_undelivered`` hook in
the transaction that marks it failed, so what the hook queues (e.g. telling a case's agency that its
reporter cannot be reached, :func:`handlers.cases.unreachable.reporter_unreachable`) is written exactly once with the
mark. A hook that fails for another reason than a lost database connection is logged and the rows are
marked without it: a bug there never stalls delivery.

Only one sender runs per bot (it holds the leader lock, see ``bot/leader.py``), so at start it takes
back the rows its crashed predecessor had claimed: after a crash, at most the rows that were in flight
(delivered but not yet marked) are sent again; nothing delivered and marked is ever resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.channels.base import OutsideMessagingWindow, RateLimited, Unreachable
from bot.ratelimit import RateLimiter
from handlers.buttons import ButtonCodec
from handlers.clock import Clock
from handlers.config import QuietHours
from handlers.core import REPLY_KIND
from handlers.types import Button, Reply
from storage.db import Database, UnitOfWork
from storage.models import OutboxMessage, OutboxStatus
from storage.outbox import FailureCause, Undelivered
from storage.subscriptions import BroadcastKind

logger = logging.getLogger(__name__)

Deliver = Callable[[str, Reply], Awaitable[str | None]]
Edit = Callable[[str, str, Reply], Awaitable[str | None]]  # (chat_id, message_id, reply): change a sent message
# Called with the unit of work that marks rows failed for good, before it commits.
OnUndelivered = Callable[[UnitOfWork, list[Undelivered], datetime], Awaitable[object]]


@dataclass
class SenderOptions:
    batch: int = 200
    concurrency: int = 16
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 8
    backoff_base: float = 2.0  # seconds before the 1st retry; doubles each attempt
    backoff_max: float = 900.0
    flush_interval: float = 0.2
    flush_size: int = 100
    idle_poll: float = 1.0
    progress_interval: float = 10.0
    max_rate_limited: int = 20  # 429s in a row for one row before it is put back for later
    topic_grace: float = 30.0  # seconds a forum topic tried before waits for its note before a new try

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_max, self.backoff_base * 2 ** max(0, attempts - 1)))


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    blocked: int = 0
    rate_limited: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.skipped


def sign_buttons(reply: Reply, codec: ButtonCodec | None) -> Reply:
    if codec is None or not reply.buttons:
        return reply
    rows = [[Button(b.label, codec.encode(b.payload)) for b in row] for row in reply.buttons]
    return dataclasses.replace(reply, buttons=rows)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class _HookFailed(Exception):
    """The ``on_undelivered`` hook raised (the transaction is rolled back)."""


class OutboxSender:
    def __init__(
        self,
        db: Database,
        delivers: dict[str, Deliver],
        *,
        clock: Clock,
        limiter: RateLimiter | None = None,
        codec: ButtonCodec | None = None,
        quiet: QuietHours | None = None,
        options: SenderOptions | None = None,
        exclusive: bool = True,
        edits: dict[str, Edit] | None = None,
        on_undelivered: OnUndelivered | None = None,
    ) -> None:
        self.db = db
        self.delivers = delivers
        self.edits = edits or {}  # channels that can change a sent message (others get a new message)
        self.clock = clock
        self.limiter = limiter or RateLimiter(0, 0, 0)
        self.codec = codec
        self.quiet = quiet
        self.options = options or SenderOptions()
        self.exclusive = exclusive
        self.on_undelivered = on_undelivered
        self.stats = SenderStats()
        self._queue: asyncio.Queue[OutboxMessage | None] = asyncio.Queue()
        self._held: set[int] = set()
        self._busy = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._sent: list[tuple[int, str | None]] = []
        self._created: list[tuple[int, str | None]] = []  # forum topics created: recorded only if none was
        self._topics: dict[int, str] = {}  # forum topics created by this sender: row id -> topic id
        self._failed: list[tuple[int, str]] = []
        self._skipped: list[tuple[int, str]] = []
        self._retry: list[tuple[int, str, datetime]] = []
        self._blocked: dict[str, set[str]] = {}
        self._undelivered: list[Undelivered] = []
        self._chat_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._chat_rows: dict[tuple[str, str], int] = {}  # rows taken per chat, to drop idle locks
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    # -- public ------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for new rows now (e.g. right after a broadcast was queued in this process)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._held)

    async def run(self, stop: asyncio.Event | None = None, *, until_empty: bool = False) -> SenderStats:
        """Deliver until ``stop`` is set (or, with ``until_empty``, until nothing is left to send soon)."""
        stop = stop or asyncio.Event()
        if self.exclusive:
            async with self.db.unit_of_work() as uow:
                released = await uow.broadcasts.release_leases()
                await uow.commit()
            if released:
                logger.info("sender: took back %d rows claimed by a previous sender", released)
        workers = [asyncio.create_task(self._worker()) for _ in range(self.options.concurrency)]
        background = [asyncio.create_task(self._flush_loop()), asyncio.create_task(self._progress_loop())]
        stopping = asyncio.create_task(stop.wait())
        try:
            await self._feed(stop, stopping, until_empty)
        finally:
            await self._shutdown(workers, background, stopping)
        return self.stats

    # -- feeding -----------------------------------------------------------------------------------------

    async def _feed(self, stop: asyncio.Event, stopping: asyncio.Task, until_empty: bool) -> None:
        low_water = max(1, self.options.batch)
        while not stop.is_set():
            if self._queue.qsize() >= low_water:
                self._room.clear()
                await self._wait_any(self._room, stopping, timeout=self.options.idle_poll)
                continue
            rows = await self._claim()
            for row in rows:
                self._queue.put_nowait(row)
            if rows:
                continue
            if until_empty and not self._held and not await self._work_soon():
                return
            self._wake.clear()
            await self._wait_any(self._wake, stopping, timeout=self.options.idle_poll)

    @staticmethod
    async def _wait_any(event: asyncio.Event, stopping: asyncio.Task, timeout: float) -> None:
        waiter = asyncio.create_task(event.wait())
        try:
            await asyncio.wait({waiter, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def _claim(self) -> list[OutboxMessage]:
        now = self.clock.now()
        claimed: list[OutboxMessage] = []
        channels = list(self.delivers)
        share = max(1, self.options.batch // len(channels))
        async with self.db.unit_of_work() as uow:
            # A fair share per channel first (a long Telegram broadcast must not starve Zalo), then the rest.
            for limit in (share, self.options.batch):
                for channel in channels:
                    room = min(limit, self.options.batch - len(claimed))
                    if room <= 0:
                        break
                    rows = await uow.outbox.claim(now, room, lease=self.options.lease, channel=channel)
                    claimed += [row for row in rows if row.id not in self._held]
                if len(channels) == 1:
                    break
            await uow.commit()
        for row in claimed:
            self._held.add(row.id)
        return claimed

    async def _work_soon(self) -> bool:
        """Whether rows for our channels are pending and due within a few seconds (retries included)."""
        from sqlalchemy import func, select

        horizon = self.clock.now() + timedelta(seconds=max(5.0, self.options.backoff_base * 4))
        async with self.db.unit_of_work() as uow:
            result = await uow.session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    OutboxMessage.not_before <= horizon,
                    OutboxMessage.channel.in_(list(self.delivers)),
                )
            )
            return int(result.scalar_one()) > 0

    # -- delivering --------------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            row = await self._queue.get()
            if row is None:
                return
            if self._queue.qsize() < self.options.batch // 2 or self._queue.empty():
                self._room.set()
            self._busy += 1
            chat = (row.channel, row.chat_id)
            # One chat's rows go out in the order they were written (an acknowledgement before the reply that
            # follows it): rows are queued by id, and nothing awaits between taking a row and queueing for its
            # chat's lock, whose waiters are served first come, first served.
            lock = self._chat_locks.setdefault(chat, asyncio.Lock())
            self._chat_rows[chat] = self._chat_rows.get(chat, 0) + 1
            try:
                async with lock:
                    await self._deliver_row(row)
            except Exception:  # a bug must not kill the worker; the row is tried again later
                logger.exception("sender: unexpected error on outbox row %s", row.id)
                retry_at = self.clock.now() + self.options.backoff(row.attempts)
                self._retry.append((row.id, "internal error", retry_at))
            finally:
                self._busy -= 1
                self._chat_rows[chat] -= 1
                if not self._chat_rows[chat]:
                    del self._chat_rows[chat], self._chat_locks[chat]
            if row.kind == REPLY_KIND or len(self._sent) + len(self._failed) >= self.options.flush_size:
                # A user's reply that its channel could not mark sent (the process died) is recorded at once:
                # a crash of this process before the record would send it once more.
                self._flush_now.set()

    async def _deliver_row(self, row: OutboxMessage) -> None:
        now = self.clock.now()
        payload = row.payload or {}
        expires = payload.get("expires_at")
        if expires and now >= datetime.fromisoformat(expires):
            self._skipped.append((row.id, "out of date: not sent"))
            return
        if row.kind == BroadcastKind.ANNOUNCEMENT.value and self.quiet is not None and self.quiet.contains(now):
            self._retry.append((row.id, "quiet hours", self.quiet.release(now)))
            return
        deliver = self.delivers[row.channel]
        reply = sign_buttons(Reply.from_dict(payload), self.codec)
        if "thread_row" in payload:
            threaded = await self._in_topic(row, reply, now)
            if threaded is None:
                return
            reply = threaded
        send = functools.partial(deliver, row.chat_id, reply)
        creating = bool(reply.topic and not reply.thread_id)
        if creating and not await self._may_create(row, now):
            return
        if "edit_of" in payload or "reply_to_row" in payload:
            # A message about an earlier one (an edit of a card, an answer to it): needs its platform id.
            status, target = await self._target(payload.get("edit_of") or payload["reply_to_row"])
            if "edit_of" in payload:
                if status == OutboxStatus.PENDING.value:  # the card is not out yet: edit it once it is
                    self._retry.append((row.id, "waiting for the message to edit", now + timedelta(seconds=2)))
                    return
                if status != OutboxStatus.SENT.value:
                    self._skipped.append((row.id, "the message to edit was never delivered"))
                    return
                edit = self.edits.get(row.channel)
                if edit is not None and target is not None:
                    send = functools.partial(edit, row.chat_id, target, reply)
            elif target is not None:
                send = functools.partial(deliver, row.chat_id, dataclasses.replace(reply, reply_to=target))
        limited = 0
        while True:
            await self.limiter.wait_pause()
            try:
                message_id = await send()
            except RateLimited as exc:
                self.stats.rate_limited += 1
                self.limiter.pause(exc.retry_after)
                limited += 1
                if limited < self.options.max_rate_limited:
                    continue
                self._retry.append((row.id, str(exc), self.clock.now() + timedelta(seconds=exc.retry_after)))
            except Unreachable as exc:
                self.stats.blocked += 1
                self._failed.append((row.id, f"unreachable: {exc}"))
                if isinstance(exc, OutsideMessagingWindow):
                    # Not a refusal: the OA may write again once the user does, so subscriptions stay.
                    self._note_undelivered(row, FailureCause.OUTSIDE_WINDOW, str(exc))
                else:
                    self._blocked.setdefault(row.channel, set()).add(row.chat_id)
                    self._note_undelivered(row, FailureCause.BLOCKED, str(exc))
            except Exception as exc:  # TemporaryFailure, or anything unexpected (e.g. a 400) on the way
                reason = f"{type(exc).__name__}: {exc}"
                if row.attempts >= self.options.max_attempts:
                    self._failed.append((row.id, f"gave up after {row.attempts} attempts: {reason}"))
                    self._note_undelivered(row, FailureCause.GAVE_UP, reason)
                else:
                    self._retry.append((row.id, reason, self.clock.now() + self.options.backoff(row.attempts)))
            else:
                (self._created if creating else self._sent).append((row.id, message_id))
                if creating and message_id and "creating" not in payload:
                    # A first try: no other topic can be recorded, and the case's messages queued behind it
                    # need its id before the flush.
                    if len(self._topics) >= 10_000:
                        self._topics.clear()
                    self._topics[row.id] = message_id
            return

    async def _may_create(self, row: OutboxMessage, now: datetime) -> bool:
        """Record the intent to create a forum topic before the call; False (retried later) while an earlier
        try, whose outcome is unknown, may still be adopted from the platform's note of its topic."""
        tried = (row.payload or {}).get("creating")
        if tried:
            ready = datetime.fromisoformat(tried) + timedelta(seconds=self.options.topic_grace)
            if now < ready:
                self._retry.append((row.id, "a forum topic tried before: waiting for its note", ready))
                return False
        async with self.db.unit_of_work() as uow:
            if not await uow.outbox.note_creating(row.id, now):
                return False  # recorded meanwhile (adopted): nothing to create
            await uow.commit()
        return True

    async def _in_topic(self, row: OutboxMessage, reply: Reply, now: datetime) -> Reply | None:
        """A message in a case's forum topic (or a rename of it) needs the topic's id, known once it was
        created; None when the row waits for it (or, a rename of a topic never created, is skipped)."""
        known = self._topics.get(int(row.payload["thread_row"]))
        status, thread = (OutboxStatus.SENT.value, known) if known else await self._target(row.payload["thread_row"])
        if status == OutboxStatus.PENDING.value:
            self._retry.append((row.id, "waiting for the forum topic", now + timedelta(seconds=2)))
            return None
        if reply.topic and (status != OutboxStatus.SENT.value or thread is None):
            self._skipped.append((row.id, "the forum topic to rename was never created"))
            return None
        # A topic that could not be created: the message goes to the group's general chat.
        return dataclasses.replace(reply, thread_id=thread if status == OutboxStatus.SENT.value else None)

    def _note_undelivered(self, row: OutboxMessage, cause: FailureCause, error: str) -> None:
        if self.on_undelivered is None or row.id is None:
            return
        text = str((row.payload or {}).get("text") or "")
        self._undelivered.append(
            Undelivered(row.id, row.channel, row.chat_id, row.kind, row.ref, text, cause, error[:500])
        )

    async def _target(self, row_id: int) -> tuple[str | None, str | None]:
        """The status and platform message id of the outbox row a message refers to."""
        async with self.db.unit_of_work() as uow:
            target = await uow.outbox.get(int(row_id))
            return (target.status, target.platform_message_id) if target is not None else (None, None)

    # -- writing results ---------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.options.flush_interval)
            self._flush_now.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("sender: could not record results; will try again")
                await asyncio.sleep(1)

    async def flush(self) -> None:
        async with self._flush_lock:
            sent, failed, skipped, retry, blocked = self._sent, self._failed, self._skipped, self._retry, self._blocked
            undelivered, created = self._undelivered, self._created
            if not (sent or failed or skipped or retry or created):
                return
            self._sent, self._failed, self._skipped, self._retry, self._blocked = [], [], [], [], {}
            self._undelivered, self._created = [], []
            now = self.clock.now()
            try:
                try:
                    await self._record(sent, failed, skipped, retry, blocked, undelivered, now, created)
                except _HookFailed:
                    logger.exception("sender: the undelivered hook failed; the rows are marked without it")
                    await self._record(sent, failed, skipped, retry, blocked, [], now, created)
            except BaseException:
                # Keep the results for the next flush; the rows stay leased meanwhile.
                self._sent[:0], self._failed[:0], self._skipped[:0], self._retry[:0] = sent, failed, skipped, retry
                self._undelivered[:0], self._created[:0] = undelivered, created
                for channel, chats in blocked.items():
                    self._blocked.setdefault(channel, set()).update(chats)
                raise
            for row_id, *_ in (*sent, *failed, *skipped, *retry, *created):
                self._held.discard(row_id)
            self.stats.sent += len(sent) + len(created)
            self.stats.failed += len(failed)
            self.stats.skipped += len(skipped)
            self.stats.retried += len(retry)

    async def _record(
        self,
        sent: list[tuple[int, str | None]],
        failed: list[tuple[int, str]],
        skipped: list[tuple[int, str]],
        retry: list[tuple[int, str, datetime]],
        blocked: dict[str, set[str]],
        undelivered: list[Undelivered],
        now: datetime,
        created: list[tuple[int, str | None]],
    ) -> None:
        """Write one flush's results in one transaction, with what the hook queues about the failed rows."""
        async with self.db.unit_of_work() as uow:
            await uow.broadcasts.mark_sent(sent, now)
            for row_id, topic_id in created:
                await uow.outbox.record_topic(row_id, topic_id, now)
            await uow.broadcasts.mark_final(failed, OutboxStatus.FAILED)
            await uow.broadcasts.mark_final(skipped, OutboxStatus.SKIPPED)
            await uow.broadcasts.retry_later(retry)
            for channel, chats in blocked.items():
                await uow.subscriptions.unsubscribe_chats(channel, chats, now, reason="blocked")
            if undelivered and self.on_undelivered is not None:
                try:
                    await self.on_undelivered(uow, undelivered, now)
                except (OperationalError, InterfaceError, OSError):
                    raise  # the database went away: everything is tried again at the next flush
                except Exception as exc:
                    raise _HookFailed from exc
            await uow.commit()

    # -- progress ----------------------------------------------------------------------------------------

    async def _progress_loop(self) -> None:
        last_handled, last_at = self.stats.handled, time.monotonic()
        while True:
            await asyncio.sleep(self.options.progress_interval)
            handled, at = self.stats.handled, time.monotonic()
            if handled == last_handled and not self._held:
                continue
            try:
                async with self.db.unit_of_work() as uow:
                    pending = await uow.broadcasts.pending_count()
            except Exception:
                logger.exception("sender: could not count pending rows")
                continue
            rate = (handled - last_handled) / max(at - last_at, 1e-9)
            logger.info(
                "sender: sent %d, failed %d (blocked %d), skipped %d, pending %d; %.1f msg/s, ETA %s, 429s %d",
                self.stats.sent,
                self.stats.failed,
                self.stats.blocked,
                self.stats.skipped,
                pending,
                rate,
                format_eta(pending / rate if rate > 0 else None),
                self.stats.rate_limited,
            )
            last_handled, last_at = handled, at

    # -- stopping ----------------------------------------------------------------------------------------

    async def _shutdown(self, workers: list[asyncio.Task], background: list[asyncio.Task], stopping: asyncio.Task):
        unstarted: list[int] = []
        while not self._queue.empty():
            row = self._queue.get_nowait()
            if row is not None:
                unstarted.append(row.id)
        for _ in workers:
            self._queue.put_nowait(None)
        _done, pending = await asyncio.wait(workers, timeout=30)
        for task in pending:
            task.cancel()
        for task in [*background, stopping]:
            task.cancel()
        await asyncio.gather(*pending, *background, stopping, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.flush()
        if unstarted:
            with contextlib.suppress(Exception):
                from sqlalchemy import update

                async with self.db.unit_of_work() as uow:
                    await uow.session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(unstarted), OutboxMessage.status == OutboxStatus.PENDING.value)
                        .values(claimed_until=None)
                    )
                    await uow.commit()
            self._held.difference_update(unstarted)
        logger.info(
            "sender: stopped; sent %d, failed %d, skipped %d in this run",
            self.stats.sent,
            self.stats.failed,
            self.stats.skipped,
        )
