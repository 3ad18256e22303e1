"""The leader's case work: route submitted reports to agency chats, and check the SLA on a schedule.

* :class:`CaseWorker` — job ``cases:route``, a tight loop next to the outbox sender (every
  ``CASE_POLL_SECONDS``): :func:`route_pending` turns the ``staff`` pseudo-channel's rows into cases and cards,
  then the platform message ids the sender recorded are copied into the case message map. The sender is woken
  as soon as new cards are queued. A staff group the bot can no longer post to (removed from it) is reported
  once to the admins and the coordinator.
* Job ``cases:sla`` — :func:`check_sla` every ``CASE_SLA_SECONDS``, with a generous misfire grace, and once
  at the start, so what fell due while no process led is done right away. Each SLA step happens once whatever
  calls it how often (unique marks, an advisory lock per case, dedupe keys on the outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.cases.intake import RouteStats, route_pending
from handlers.cases.posting import alert_lost_chats, link_sent
from handlers.cases.sla import check_sla
from handlers.clock import Clock
from handlers.config import AppConfig
from handlers.jobs import Interval, Job, LeaderContext, Loop
from storage.db import Database

ROUTE_JOB_ID = "cases:route"
SLA_JOB_ID = "cases:sla"


class CaseWorker:
    """One round of routing pending staff rows and linking delivered messages."""

    def __init__(
        self,
        db: Database,
        config: AppConfig,
        clock: Clock,
        media: Any = None,
        *,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.media = media
        self.on_queued = on_queued

    async def tick(self) -> RouteStats:
        stats = await route_pending(self.db, self.config, self.clock.now(), media=self.media)
        if (stats.routed or stats.relayed) and self.on_queued is not None:
            self.on_queued()
        await link_sent(self.db)
        if await alert_lost_chats(self.db, self.config, self.clock.now()) and self.on_queued is not None:
            self.on_queued()
        return stats


async def jobs(ctx: LeaderContext) -> list[Job]:
    worker = CaseWorker(ctx.db, ctx.config, ctx.clock, ctx.media, on_queued=ctx.wake)

    async def check_deadlines() -> dict[str, int]:
        return await check_sla(ctx.db, ctx.config, ctx.clock.now())

    seconds = ctx.intervals.case_sla
    return [
        Loop(ROUTE_JOB_ID, worker.tick, ctx.intervals.case_poll),
        Interval(
            SLA_JOB_ID,
            "SLA: nhắc và báo quá hạn phản ánh",
            seconds,
            ctx.waking(check_deadlines),
            misfire_grace=max(int(seconds) * 10, 3600),
        ),
    ]
