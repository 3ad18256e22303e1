"""The inbox's housekeeping as a feature: handled updates are purged once older than ``INBOX_KEEP_DAYS``.

Receiving and handling stored updates is the runtime's (``bot/inbox.py``, ``storage/inbox.py``); parked updates
(failed three times) stay until staff have looked at them (``python -m bot inbox``).
"""

from __future__ import annotations

import logging

from handlers.core import Router
from handlers.jobs import Interval, Job, LeaderContext

logger = logging.getLogger(__name__)

PURGE_EVERY = 3600.0


def register(router: Router) -> None:
    """Nothing to say to users: the inbox has no commands."""


async def purge(ctx: LeaderContext) -> int:
    async with ctx.db.unit_of_work() as uow:
        purged = await uow.inbox.purge(ctx.clock.now() - ctx.inbox_keep)
        await uow.commit()
    if purged:
        logger.info("inbox: %d handled update(s) older than %s purged", purged, ctx.inbox_keep)
    return purged


async def jobs(ctx: LeaderContext) -> list[Job]:
    return [Interval("inbox:purge", "Dọn hộp thư đến đã xử lý", PURGE_EVERY, lambda: purge(ctx))]
