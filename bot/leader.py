"""The leader: one process holds the leader lock and runs the outbox sender and every job the features declare.

* **One leader**: only the process holding the leader lock sends and runs jobs. On PostgreSQL the lock is
  ``pg_try_advisory_lock`` held by a dedicated connection (it goes when the process or its connection dies,
  and a standby takes over within ``LEADER_RETRY_SECONDS``). On SQLite, which serves a single machine, it is
  an exclusive ``flock`` on a file beside the database.
* **What runs**: the features (:func:`handlers.features.load_features`) are asked for their jobs
  (:mod:`handlers.jobs`) and their hook for messages that fail for good; ``bot/`` names no feature.
* **One scheduler, one job store**: interval and one-off jobs live in one ``AsyncIOScheduler`` whose
  ``SQLAlchemyJobStore`` is the table ``apscheduler_jobs`` of the bot's database. Every stored job calls
  :func:`run_job` with its id, which finds the job in this process's leader, so the store never names a
  feature's module. At each start the store is made to match the declarations (``replace_existing``; stored
  jobs declared no more are removed). A one-off job the scheduler finds past its misfire grace is still
  handed to its ``run`` (``EVENT_JOB_MISSED``), which decides what a late run means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.locks import LeaderLock
from bot.notify import OUTBOX, Listener
from bot.ratelimit import RateLimiter
from bot.sender import Deliver, Edit, OutboxSender, SenderOptions
from handlers.buttons import ButtonCodec
from handlers.clock import Clock
from handlers.config import AppConfig
from handlers.features import declared_jobs, load_features, undelivered_hook
from handlers.jobs import At, Interval, Intervals, Job, LeaderContext, Loop, Pin
from storage.db import Database, sync_url

logger = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"


class Host(Protocol):
    """What the leader needs of the application (:class:`bot.app.App` has it)."""

    db: Database
    config: AppConfig
    clock: Clock
    codec: ButtonCodec | None
    media: Any
    settings: Any  # bot.settings.Settings: the leader's timing, unless given


@dataclass(frozen=True)
class Timing:
    """How often the leader works: standby checks, the sender's options, the features' intervals."""

    retry_seconds: float = 10.0
    sender: SenderOptions = field(default_factory=SenderOptions)
    intervals: Intervals = field(default_factory=Intervals)
    inbox_keep: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: Any) -> Timing:
        return cls(
            retry_seconds=settings.leader_retry_seconds,
            sender=SenderOptions(
                batch=settings.sender_batch,
                concurrency=settings.sender_concurrency,
                max_attempts=settings.sender_max_attempts,
                progress_interval=settings.sender_progress_seconds,
            ),
            intervals=Intervals(case_poll=settings.case_poll_seconds, case_sla=settings.case_sla_seconds),
            inbox_keep=timedelta(days=settings.inbox_keep_days),
        )


_running: Leader | None = None  # the leader of this process while it leads


async def run_job(job_id: str) -> None:
    """What every stored job calls (by this module's path, so the job store survives any move of a feature)."""
    leader = _running
    if leader is None:
        logger.warning("job %s fired with no leader in this process; ignored", job_id)
        return
    await leader.run(job_id)


def job_store(database_url: str) -> SQLAlchemyJobStore:
    """The leader's persistent job store, in the bot's database."""
    url = sync_url(database_url)
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 10}
    return SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE, engine_options=options)


class Leader:
    """Take the leader lock when free (retrying every ``retry_seconds``), then send and run the features' jobs
    until the lock is lost or :meth:`stop`."""

    def __init__(
        self,
        app: Host,
        delivers: dict[str, Deliver],
        *,
        edits: dict[str, Edit] | None = None,
        pins: dict[str, Pin] | None = None,
        limiter: RateLimiter | None = None,
        features: Sequence[ModuleType] | None = None,
        timing: Timing | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.app = app
        self.listener = listener  # PostgreSQL: rows due now written by any process wake the sender at once
        self.delivers = delivers
        self.edits = edits
        self.pins = pins or {}
        self.limiter = limiter
        self.features = list(load_features() if features is None else features)
        self.timing = timing or Timing.from_settings(app.settings)
        self.lock = LeaderLock(app.db.url)
        self.sender: OutboxSender | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.jobs: dict[str, Job] = {}  # the declared jobs by id, while leading
        self.runs: Counter[str] = Counter()  # finished runs per job id
        self.became_leader = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()  # the sender, the loops, missed one-off jobs
        self._task: asyncio.Task | None = None

    @property
    def leader(self) -> bool:
        return self.lock.held

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _run(self) -> None:
        told = False
        while True:
            try:
                if not self.lock.held:
                    if await self.lock.try_acquire():
                        logger.info("this process is the leader: it sends reminders, broadcasts and runs the jobs")
                        try:
                            await self._lead()
                        except Exception:
                            await self._step_down()
                            raise
                    elif not told:
                        logger.info("another process is the leader; standing by")
                        told = True
                elif not await self.lock.alive():
                    logger.error("leadership lost; sending and jobs stop here")
                    await self._step_down()
                    told = False
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("leader: check failed; trying again")
            await asyncio.sleep(self.timing.retry_seconds)

    def make_sender(self) -> OutboxSender:
        """The leader's outbox sender. A message that fails for good is handed, as its row is marked failed, to
        every feature's ``on_undelivered`` hook (e.g. the staff who wrote it are told)."""
        app = self.app
        return OutboxSender(
            app.db,
            self.delivers,
            clock=app.clock,
            limiter=self.limiter,
            codec=app.codec,
            quiet=app.config.quiet_hours,
            options=self.timing.sender,
            edits=self.edits,
            on_undelivered=undelivered_hook(self.features, app.config),
        )

    async def _lead(self) -> None:
        global _running
        self._stop.clear()
        sender = self.sender = self.make_sender()
        self._spawn(sender.run(self._stop))
        if self.listener is not None:
            self.listener.on(OUTBOX, sender.wake)
            self.listener.start()
        app = self.app
        ctx = LeaderContext(
            db=app.db,
            config=app.config,
            clock=app.clock,
            wake=sender.wake,
            media=app.media,
            channels=frozenset(self.delivers),
            pins=self.pins,
            intervals=self.timing.intervals,
            inbox_keep=self.timing.inbox_keep,
        )
        self.jobs = await declared_jobs(self.features, ctx)
        _running = self
        declared = list(self.jobs.values())
        self._schedule(declared)
        for job in declared:
            if isinstance(job, Loop):
                self._spawn(self._loop(job))
        self.became_leader.set()

    def _schedule(self, declared: list[Job]) -> None:
        """Start the scheduler with its store matching the declarations."""
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": job_store(self.app.db.url)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.start(paused=True)
        stored = {job.id for job in self.scheduler.get_jobs()}
        wanted = {job.id for job in declared if not isinstance(job, Loop)}
        for job_id in stored - wanted:
            self.scheduler.remove_job(job_id)
        now = datetime.now(UTC)
        for job in declared:
            if isinstance(job, Interval):
                trigger: Any = IntervalTrigger(seconds=job.seconds, timezone=UTC)
                first = now  # once now: what fell due while no process led
            elif isinstance(job, At):
                trigger, first = DateTrigger(run_date=job.when), job.when
            else:
                continue
            self.scheduler.add_job(
                run_job,
                trigger=trigger,
                args=[job.id],
                id=job.id,
                name=job.name,
                replace_existing=True,
                misfire_grace_time=job.misfire_grace,
                next_run_time=first,
            )
        self.scheduler.resume()
        logger.info("leader: %d jobs scheduled, %d old ones removed", len(wanted), len(stored - wanted))

    async def run(self, job_id: str) -> object:
        """Run one declared job now; its failure is logged (it runs again at its next time)."""
        job = self.jobs.get(job_id)
        if job is None:
            logger.warning("job %s is declared no more; ignored", job_id)
            return None
        try:
            return await (job.tick() if isinstance(job, Loop) else job.run())
        except Exception:
            logger.exception("job %s failed; it runs again at its next time", job_id)
            return None
        finally:
            self.runs[job_id] += 1

    async def _loop(self, loop: Loop) -> None:
        while not self._stop.is_set():
            await self.run(loop.id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), loop.interval)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if isinstance(self.jobs.get(event.job_id), At):
            self._spawn(self.run(event.job_id))

    def _spawn(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _step_down(self) -> None:
        global _running
        if self.scheduler is not None:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self._stop.set()
        if self.listener is not None and self.sender is not None:
            self.listener.off(OUTBOX, self.sender.wake)
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if _running is self:
            _running = None
        self.jobs = {}
        self.sender = None
        self.became_leader.clear()
        await self.lock.release()
