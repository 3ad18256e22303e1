"""The leader's case work: route submitted reports to agency chats, and check the SLA on a schedule.

* :class:`CaseWorker` — a tight loop next to the outbox sender (woken at once when asked, else every
  ``CASE_POLL_SECONDS``): :func:`handlers.cases.domain.route_pending` turns the ``staff`` pseudo-channel's rows into
  cases and cards, then the platform message ids the sender recorded are copied into the case message map.
  The sender is woken as soon as new cards are queued. A staff group the bot can no longer post to (removed
  from it) is reported once to the admins and the coordinator.
* :class:`CaseScheduler` — an APScheduler interval job ``cases:sla`` in a persistent SQLAlchemy job store (its
  own table, so the reminder scheduler never runs it), ``replace_existing``, a generous ``misfire_grace_time``,
  coalesced: :func:`handlers.cases.domain.check_sla` every ``CASE_SLA_SECONDS``, and once at start, so what fell due
  while the bot was down is done right away. Each SLA step happens once whatever calls it how often (unique
  marks, an advisory lock per case, dedupe keys on the outbox).

Both run only in the process holding the leader lock (``bot/scheduler.py``, :class:`Broadcasting`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import persistent_job_store
from handlers.cases.domain import RouteStats, alert_lost_chats, check_sla, link_sent, route_pending
from handlers.clock import Clock
from handlers.config import AppConfig
from storage.db import Database

logger = logging.getLogger(__name__)

SLA_JOB_ID = "cases:sla"
JOBS_TABLE = "apscheduler_case_jobs"


class CaseWorker:
    """Route pending staff rows and link delivered messages, in a loop, until stopped."""

    def __init__(
        self,
        db: Database,
        config: AppConfig,
        clock: Clock,
        media: Any = None,
        *,
        interval: float = 1.0,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.media = media
        self.interval = interval
        self.on_queued = on_queued
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for new staff rows now (e.g. right after a report was submitted in this process)."""
        self._wake.set()

    async def tick(self) -> RouteStats:
        stats = await route_pending(self.db, self.config, self.clock.now(), media=self.media)
        if (stats.routed or stats.relayed) and self.on_queued is not None:
            self.on_queued()
        await link_sent(self.db)
        if await alert_lost_chats(self.db, self.config, self.clock.now()) and self.on_queued is not None:
            self.on_queued()
        return stats

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be briefly away: keep going
                logger.exception("case worker: routing failed; trying again")
            self._wake.clear()
            waiter = asyncio.create_task(self._wake.wait())
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({waiter, stopping}, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopping.cancel()


class SlaService:
    def __init__(self, db: Database, config: AppConfig, clock: Clock, on_queued: Callable[[], None] | None) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.on_queued = on_queued

    async def check(self) -> dict[str, int]:
        counts = await check_sla(self.db, self.config, self.clock.now())
        if counts and self.on_queued is not None:
            self.on_queued()
        return counts


_active: SlaService | None = None


async def run_sla_check() -> None:
    """The APScheduler job (referenced by name in the job store, so it survives restarts)."""
    service = _active
    if service is None:
        logger.warning("case SLA check fired with no active scheduler; ignored")
        return
    try:
        await service.check()
    except Exception:
        logger.exception("case SLA check failed; it runs again at the next interval")


class CaseScheduler:
    """The SLA check as an interval job in a persistent job store of its own."""

    def __init__(self, service: SlaService, database_url: str, *, seconds: float = 60.0) -> None:
        self.service = service
        self.seconds = seconds
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": persistent_job_store(database_url, JOBS_TABLE)}, timezone=UTC
        )

    async def start(self) -> None:
        global _active
        _active = self.service
        self.scheduler.start(paused=True)
        self.scheduler.add_job(
            run_sla_check,
            trigger=IntervalTrigger(seconds=self.seconds, timezone=UTC),
            id=SLA_JOB_ID,
            name="SLA: nhắc và báo quá hạn phản ánh",
            replace_existing=True,
            misfire_grace_time=max(int(self.seconds) * 10, 3600),
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.resume()
        await run_sla_check()  # what fell due while no scheduler ran, now

    async def stop(self) -> None:
        global _active
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if _active is self.service:
            _active = None


class CaseWork:
    """The worker and the SLA scheduler together, started and stopped by the leader."""

    def __init__(
        self,
        db: Database,
        config: AppConfig,
        clock: Clock,
        media: Any = None,
        *,
        on_queued: Callable[[], None] | None = None,
        poll_seconds: float = 1.0,
        sla_seconds: float = 60.0,
    ) -> None:
        self.worker = CaseWorker(db, config, clock, media, interval=poll_seconds, on_queued=on_queued)
        self.scheduler = CaseScheduler(SlaService(db, config, clock, on_queued), db.url, seconds=sla_seconds)
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.worker.run(self._stop))
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
