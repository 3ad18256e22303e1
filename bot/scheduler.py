"""Reminders on time, exactly once, in one process: APScheduler jobs, a slot log, and a leader lock.

* **Calendar**: :func:`handlers.reminders.countdown.reminder_slots` turns the configuration into slots (campaign,
  event, offset, firing time). Each slot is one APScheduler job in a persistent ``SQLAlchemyJobStore``
  on the same database (id ``reminder:<campaign>:<event>:<offset>``, ``replace_existing``), rebuilt
  idempotently from the configuration at every start: jobs no longer configured are removed, moved
  dates are updated.
* **Exactly once**: firing a slot writes a ``broadcasts`` row whose ``slot`` is unique, together with one
  outbox row per subscriber (``dedupe_key = reminder:<campaign>:<event>:<offset>:<channel>:<user>``), in
  one transaction under an advisory lock on the slot. Firing twice (two processes, a restart, a job run
  after a manual :meth:`ReminderService.fire_due`) adds nothing.
* **Late or skipped**: ``misfire_grace_time`` equals ``reminders.misfire_grace_minutes`` (default 30).
  A slot missed by less (a restart, a short outage) is sent once, late, with its text computed at the
  real moment; one missed by more is recorded as ``skipped`` and never sent out of date. A slot is also
  skipped when a later slot of the same event is already due (superseded). The same rule is applied by
  the rebuild at start, by APScheduler (``EVENT_JOB_MISSED`` records the skip), and by
  :meth:`ReminderService.fire_due`, which tests drive with an injected clock.
* **One leader**: only the process holding the leader lock runs the scheduler and the outbox sender.
  On PostgreSQL the lock is ``pg_try_advisory_lock`` held by a dedicated connection (it goes when the
  process or its connection dies, and a standby takes over within ``LEADER_RETRY_SECONDS``). On SQLite,
  which serves a single machine, it is an exclusive ``flock`` on a file beside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import NullPool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.sender import Deliver, Edit, OutboxSender, RateLimiter, SenderOptions
from handlers.buttons import ButtonCodec
from handlers.clock import Clock
from handlers.config import AppConfig
from handlers.reminders.channel_post import CountdownPoster, Pin
from handlers.reminders.countdown import ReminderSlot, find_event, reminder_slots, reminder_text
from handlers.reminders.subscriptions import OFF_BUTTON
from handlers.types import Reply
from storage.db import Database, async_url, lock_id, sync_url
from storage.subscriptions import Audience, BroadcastKind, BroadcastStatus

logger = logging.getLogger(__name__)

JOB_PREFIX = "reminder:"
JOBS_TABLE = "apscheduler_jobs"
LEADER_LOCK = "sct-assistant:leader"
COUNTDOWN_JOBS_TABLE = "apscheduler_countdown_jobs"
COUNTDOWN_JOB_ID = "countdown_post"


# ----------------------------------------------------------------------------------------------------------
# Firing reminders
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FireResult:
    slot: ReminderSlot
    status: str  # queued | skipped | already | not_due
    recipients: int = 0
    reason: str = ""


def reminder_payload(text: str, expires: datetime) -> dict[str, Any]:
    payload = Reply(text, [[OFF_BUTTON]]).to_dict()
    payload["expires_at"] = expires.isoformat()
    return payload


class ReminderService:
    """The reminder logic, independent of APScheduler: which slots are due, firing one exactly once."""

    def __init__(self, db: Database, config: AppConfig, clock: Clock, *, on_queued=None) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.on_queued = on_queued
        self.slots = reminder_slots(config)
        self.by_id = {slot.id: slot for slot in self.slots}
        self.grace = config.reminders.grace
        self._done: set[str] | None = None

    async def load_done(self) -> set[str]:
        async with self.db.unit_of_work() as uow:
            self._done = await uow.broadcasts.done_slots()
        return self._done

    def skip_reason(self, slot: ReminderSlot, now: datetime) -> str | None:
        """Why ``slot`` must not be sent at ``now`` (None: send it)."""
        late = now - slot.at
        if late > self.grace:
            return f"missed by {_minutes(late)} (grace {_minutes(self.grace)}): not sent out of date"
        later = [
            other
            for other in self.slots
            if other.campaign == slot.campaign and other.event == slot.event and slot.at < other.at <= now
        ]
        if later:
            return f"superseded by {later[-1].offset}"
        if now >= slot.expires:
            return "out of date"
        return None

    async def fire_due(self, now: datetime | None = None) -> list[FireResult]:
        """Fire (or record as skipped) every slot due at ``now`` that has not been handled yet."""
        now = (now or self.clock.now()).astimezone(UTC)  # stored as UTC: SQLite keeps no zone
        done = self._done if self._done is not None else await self.load_done()
        results = []
        for slot in self.slots:
            if slot.at > now:
                break
            if slot.id not in done:
                results.append(await self.fire_slot(slot, now))
        return results

    async def fire_slot_id(self, slot_id: str, now: datetime | None = None) -> FireResult | None:
        slot = self.by_id.get(slot_id)
        if slot is None:
            logger.warning("reminder %s is no longer in the configuration; ignored", slot_id)
            return None
        return await self.fire_slot(slot, now or self.clock.now())

    async def fire_slot(self, slot: ReminderSlot, now: datetime, *, log_skip: bool = True) -> FireResult:
        now = now.astimezone(UTC)
        if now < slot.at:
            return FireResult(slot, "not_due")
        found = find_event(self.config, slot.campaign, slot.event)
        title = f"Nhắc lịch: {found[1].name} ({slot.offset})" if found else slot.id
        reason = self.skip_reason(slot, now)
        async with self.db.unit_of_work() as uow:
            await uow.lock("reminder", slot.id)
            if await uow.broadcasts.get_by_slot(slot.id) is not None:
                result = FireResult(slot, "already")
            elif reason is not None:
                await uow.broadcasts.create(
                    kind=BroadcastKind.REMINDER,
                    slot=slot.id,
                    title=title,
                    audience=Audience.ALL,
                    payload={},
                    now=now,
                    scheduled_for=slot.at,
                    status=BroadcastStatus.SKIPPED,
                    note=reason,
                )
                result = FireResult(slot, "skipped", reason=reason)
            else:
                payload = reminder_payload(reminder_text(self.config, slot, now), slot.expires)
                broadcast = await uow.broadcasts.create(
                    kind=BroadcastKind.REMINDER,
                    slot=slot.id,
                    title=title,
                    audience=Audience.ALL,
                    payload=payload,
                    now=now,
                    scheduled_for=slot.at,
                )
                count = await uow.broadcasts.fan_out(
                    broadcast,
                    payload=payload,
                    dedupe_prefix=f"reminder:{slot.campaign}:{slot.event}:{slot.offset}:",
                    now=now,
                    not_before=now,
                )
                result = FireResult(slot, "queued", count)
            try:
                await uow.commit()
            except IntegrityError:  # another process recorded the slot first (SQLite has no advisory lock)
                await uow.rollback()
                result = FireResult(slot, "already")
        if self._done is not None:
            self._done.add(slot.id)
        if result.status == "queued":
            logger.info("reminder %s: queued for %d subscribers", slot.id, result.recipients)
            if result.recipients and self.on_queued is not None:
                self.on_queued()
        elif result.status == "skipped":
            logger.log(logging.INFO if log_skip else logging.DEBUG, "reminder %s: skipped, %s", slot.id, reason)
        return result


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


# ----------------------------------------------------------------------------------------------------------
# APScheduler wiring
# ----------------------------------------------------------------------------------------------------------

_active: ReminderService | None = None


async def run_reminder(slot_id: str) -> None:
    """The APScheduler job (referenced by name in the job store, so it survives restarts)."""
    service = _active
    if service is None:
        logger.warning("reminder %s fired with no active scheduler; ignored", slot_id)
        return
    await service.fire_slot_id(slot_id)


@dataclass
class RebuildReport:
    scheduled: int
    removed: int
    skipped: int


def persistent_job_store(database_url: str, tablename: str) -> SQLAlchemyJobStore:
    """An APScheduler job store in the bot's database (its own table), as every leader job uses."""
    url = sync_url(database_url)
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 10}
    return SQLAlchemyJobStore(url=url, tablename=tablename, engine_options=options)


class ReminderScheduler:
    """An ``AsyncIOScheduler`` whose jobs are the reminder slots, kept in a ``SQLAlchemyJobStore``."""

    def __init__(self, service: ReminderService, database_url: str, *, tablename: str = JOBS_TABLE) -> None:
        self.service = service
        self.jobstore = persistent_job_store(database_url, tablename)
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": self.jobstore},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(service.grace.total_seconds()),
            },
            timezone=UTC,
        )
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> RebuildReport:
        global _active
        _active = self.service
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.start(paused=True)
        report = await self.rebuild()
        self.scheduler.resume()
        logger.info(
            "reminders: %d scheduled, %d old jobs removed, %d missed ones recorded as skipped",
            report.scheduled,
            report.removed,
            report.skipped,
        )
        return report

    async def rebuild(self, now: datetime | None = None) -> RebuildReport:
        """Make the job store match the configuration; idempotent."""
        service = self.service
        now = now or service.clock.now()
        done = await service.load_done()
        wanted: dict[str, ReminderSlot] = {}
        skipped = 0
        for slot in service.slots:
            if slot.id in done:
                continue
            if now - slot.at > service.grace:
                await service.fire_slot(slot, now, log_skip=False)  # records it as skipped
                skipped += 1
                continue
            wanted[JOB_PREFIX + slot.id] = slot
        existing = {job.id for job in self.scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
        for job_id in existing - wanted.keys():
            self.scheduler.remove_job(job_id)
        grace = int(service.grace.total_seconds())
        for job_id, slot in wanted.items():
            self.scheduler.add_job(
                run_reminder,
                trigger=DateTrigger(run_date=slot.at),
                args=[slot.id],
                id=job_id,
                name=slot.id,
                replace_existing=True,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
            )
        return RebuildReport(len(wanted), len(existing - wanted.keys()), skipped)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if not event.job_id.startswith(JOB_PREFIX):
            return
        slot_id = event.job_id.removeprefix(JOB_PREFIX)
        task = asyncio.get_running_loop().create_task(self.service.fire_slot_id(slot_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        global _active
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if _active is self.service:
            _active = None


# ----------------------------------------------------------------------------------------------------------
# The pinned countdown post in a Telegram channel
# ----------------------------------------------------------------------------------------------------------

_active_poster: CountdownPoster | None = None


async def run_countdown_post() -> None:
    """The APScheduler job (referenced by name in the job store, so it survives restarts)."""
    poster = _active_poster
    if poster is None:
        logger.warning("countdown post fired with no active scheduler; ignored")
        return
    try:
        await poster.run()
    except Exception:
        logger.exception("countdown post failed; it runs again at the next interval")


class CountdownPostScheduler:
    """``countdown_post.every_minutes`` as an interval job in a persistent job store of its own; also run once
    at start (the leader just took over: the post may be out of date)."""

    def __init__(self, poster: CountdownPoster, database_url: str, *, minutes: int) -> None:
        self.poster = poster
        self.minutes = minutes
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": persistent_job_store(database_url, COUNTDOWN_JOBS_TABLE)}, timezone=UTC
        )

    async def start(self) -> None:
        global _active_poster
        _active_poster = self.poster
        self.scheduler.start(paused=True)
        self.scheduler.add_job(
            run_countdown_post,
            trigger=IntervalTrigger(minutes=self.minutes, timezone=UTC),
            id=COUNTDOWN_JOB_ID,
            name="Bài đếm ngược ghim trên kênh Telegram",
            replace_existing=True,
            next_run_time=datetime.now(UTC),  # once now, then every interval
            misfire_grace_time=self.minutes * 60,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.resume()

    async def stop(self) -> None:
        global _active_poster
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if _active_poster is self.poster:
            _active_poster = None


# ----------------------------------------------------------------------------------------------------------
# Leader election
# ----------------------------------------------------------------------------------------------------------


class LeaderLock:
    """Who runs the scheduler and the sender: PostgreSQL advisory lock, or a file lock beside SQLite."""

    def __init__(self, database_url: str, name: str = LEADER_LOCK) -> None:
        self.url = sync_url(database_url)
        self.key = lock_id(name)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._path = (
            Path(f"{parsed.database}.leader")
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
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
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


# ----------------------------------------------------------------------------------------------------------
# The process's broadcasting: leader lock → reminder scheduler + outbox sender
# ----------------------------------------------------------------------------------------------------------


class Broadcasting:
    """Run the reminder scheduler and the outbox sender while this process is the leader."""

    def __init__(
        self,
        db: Database,
        config: AppConfig,
        clock: Clock,
        delivers: dict[str, Deliver],
        *,
        limiter: RateLimiter | None = None,
        codec: ButtonCodec | None = None,
        sender_options: SenderOptions | None = None,
        retry_seconds: float = 10.0,
        reminders: bool = True,
        edits: dict[str, Edit] | None = None,
        media: Any = None,
        cases: bool = True,
        case_poll_seconds: float = 1.0,
        case_sla_seconds: float = 60.0,
        pins: dict[str, Pin] | None = None,
        housekeeping_seconds: float = 600.0,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.delivers = delivers
        self.limiter = limiter
        self.codec = codec
        self.sender_options = sender_options
        self.retry_seconds = retry_seconds
        self.reminders_enabled = reminders
        self.edits = edits
        self.media = media
        self.cases_enabled = cases
        self.case_poll_seconds = case_poll_seconds
        self.case_sla_seconds = case_sla_seconds
        self.case_work: Any = None  # bot.case_router.CaseWork while this process leads
        self.pins = pins or {}
        self.countdown: CountdownPostScheduler | None = None  # the pinned countdown post, when configured
        self.lock = LeaderLock(db.url)
        self.scheduler: ReminderScheduler | None = None
        self.sender: OutboxSender | None = None
        self._sender_stop: asyncio.Event | None = None
        self._sender_task: asyncio.Task | None = None
        self._task: asyncio.Task | None = None
        self.housekeeping_seconds = housekeeping_seconds
        self._housekeeping: asyncio.Task | None = None
        self.became_leader = asyncio.Event()

    @classmethod
    def from_settings(
        cls,
        app: Any,
        delivers: dict[str, Deliver],
        limiter: RateLimiter | None,
        edits: dict[str, Edit] | None = None,
        pins: dict[str, Pin] | None = None,
    ) -> Broadcasting:
        settings = app.settings
        options = SenderOptions(
            batch=settings.sender_batch,
            concurrency=settings.sender_concurrency,
            max_attempts=settings.sender_max_attempts,
            progress_interval=settings.sender_progress_seconds,
        )
        return cls(
            app.db,
            app.config,
            app.clock,
            delivers,
            limiter=limiter,
            codec=getattr(app, "codec", None),
            sender_options=options,
            retry_seconds=settings.leader_retry_seconds,
            edits=edits,
            media=getattr(app, "media", None),
            case_poll_seconds=settings.case_poll_seconds,
            case_sla_seconds=settings.case_sla_seconds,
            pins=pins,
        )

    @property
    def leader(self) -> bool:
        return self.lock.held

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        told = False
        while True:
            try:
                if not self.lock.held:
                    if await self.lock.try_acquire():
                        logger.info("this process is the leader: it sends reminders and broadcasts")
                        try:
                            await self._lead()
                        except Exception:
                            await self._step_down()
                            raise
                    elif not told:
                        logger.info("another process is the leader; standing by for reminders and broadcasts")
                        told = True
                elif not await self.lock.alive():
                    logger.error("leadership lost; reminders and broadcasts stop here")
                    await self._step_down()
                    told = False
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("broadcasting: leader check failed; trying again")
            await asyncio.sleep(self.retry_seconds)

    def make_sender(self) -> OutboxSender:
        """The leader's outbox sender. A message that fails for good is told to the staff who wrote it, as the
        row is marked failed: a staff answer to a merchant question (:func:`handlers.qa.answer_undelivered`)
        and, with cases on, a message to a reporter (:func:`handlers.cases.domain.reporter_unreachable`)."""
        from handlers.cases.domain import reporter_unreachable
        from handlers.qa import answer_undelivered

        config, cases = self.config, self.cases_enabled

        async def on_undelivered(uow, failures, now):
            queued = await answer_undelivered(uow, config, failures, now)
            if cases:
                queued += await reporter_unreachable(uow, config, failures, now)
            return queued

        return OutboxSender(
            self.db,
            self.delivers,
            clock=self.clock,
            limiter=self.limiter,
            codec=self.codec,
            quiet=self.config.quiet_hours,
            options=self.sender_options,
            edits=self.edits,
            on_undelivered=on_undelivered,
        )

    async def _lead(self) -> None:
        self.sender = self.make_sender()
        self._sender_stop = asyncio.Event()
        self._sender_task = asyncio.create_task(self.sender.run(self._sender_stop))
        if self.cases_enabled:
            # Reports to agency chats: routing next to the sender, and the SLA job (bot/case_router.py).
            from bot.case_router import CaseWork

            self.case_work = CaseWork(
                self.db,
                self.config,
                self.clock,
                self.media,
                on_queued=self.sender.wake,
                poll_seconds=self.case_poll_seconds,
                sla_seconds=self.case_sla_seconds,
            )
            await self.case_work.start()
        if self.reminders_enabled and self.config.reminders.enabled:
            service = ReminderService(self.db, self.config, self.clock, on_queued=self.sender.wake)
            self.scheduler = ReminderScheduler(service, self.db.url)
            await self.scheduler.start()
        post = self.config.countdown_post
        if post is not None:
            if "telegram" in self.delivers:
                poster = CountdownPoster(
                    self.db, self.config, self.clock, self.pins.get("telegram"), on_queued=self.sender.wake
                )
                self.countdown = CountdownPostScheduler(poster, self.db.url, minutes=post.every_minutes)
                await self.countdown.start()
            else:
                logger.warning("countdown_post is configured but Telegram is not: no countdown post")
        self._housekeeping = asyncio.create_task(self._housekeep())
        self.became_leader.set()

    async def _housekeep(self) -> None:
        """Leader-only chores that may run late, or twice, without harm: close the complaint drafts left past
        their deadline (each reporter is told through the outbox), every ``housekeeping_seconds``."""
        from handlers.complaints.flow import close_stale_drafts

        while True:
            try:
                if await close_stale_drafts(self.db, self.clock.now(), config=self.config) and self.sender:
                    self.sender.wake()
            except Exception:  # a database hiccup: try again next round
                logger.exception("housekeeping failed")
            await asyncio.sleep(self.housekeeping_seconds)

    async def _step_down(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        if self.countdown is not None:
            await self.countdown.stop()
            self.countdown = None
        if self.case_work is not None:
            await self.case_work.stop()
            self.case_work = None
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        if self._sender_task is not None and self._sender_stop is not None:
            self._sender_stop.set()
            with contextlib.suppress(Exception):
                await self._sender_task
        self._sender_task = self._sender_stop = self.sender = None
        self.became_leader.clear()
        await self.lock.release()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()
