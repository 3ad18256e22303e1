"""The background work a feature declares for the leader process, in neutral terms (no scheduler named here).

A feature's optional ``async def jobs(ctx: LeaderContext) -> list[Job]`` returns what it needs while this
process leads; ``bot/leader.py`` runs the declarations on one scheduler with one persistent job store:

* :class:`Interval` — every ``seconds``, and once as soon as a process takes the lead (what fell due while
  none led is done at once);
* :class:`At` — once at a moment (a reminder slot). The declared set is the whole set: a stored job that is
  declared no more is removed. A run the scheduler finds later than ``misfire_grace`` seconds still goes to
  ``run``, which decides what a late run means (a reminder records it as skipped);
* :class:`Loop` — a tight loop next to the sender: ``tick`` every ``interval`` seconds, in memory only.

Job ids are stable (they are the keys of the job store) and unique across features.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.clock import Clock
from handlers.config import AppConfig
from storage.db import Database

Run = Callable[[], Awaitable[object]]
Pin = Callable[[str, str], Awaitable[object]]  # (chat_id, message_id): pin that message silently


@dataclass(frozen=True)
class Intervals:
    """How often the leader's periodic work runs, in seconds (from the settings; tests shorten them)."""

    case_poll: float = 1.0  # new reports routed to the agencies' chats
    case_sla: float = 60.0  # case deadlines checked
    housekeeping: float = 600.0  # complaint drafts past their deadline closed


@dataclass
class LeaderContext:
    """What a feature's jobs may use while this process leads."""

    db: Database
    config: AppConfig
    clock: Clock
    wake: Callable[[], None]  # rows were queued: the outbox sender looks at once
    media: Any = None
    channels: frozenset[str] = frozenset()  # the channels the sender delivers to
    pins: dict[str, Pin] = field(default_factory=dict)  # channel -> pin a message it sent
    intervals: Intervals = Intervals()
    inbox_keep: timedelta = timedelta(days=7)  # handled inbox rows are kept this long (INBOX_KEEP_DAYS)

    def waking(self, work: Run) -> Run:
        """``work`` as a job that wakes the sender when it returns something truthy (it queued rows)."""

        async def run() -> object:
            queued = await work()
            if queued:
                self.wake()
            return queued

        return run


@dataclass(frozen=True)
class Interval:
    id: str
    name: str
    seconds: float
    run: Run
    misfire_grace: int | None = None  # None: however late, run it once (coalesced)


@dataclass(frozen=True)
class At:
    id: str
    name: str
    when: datetime
    run: Run
    misfire_grace: int


@dataclass(frozen=True)
class Loop:
    id: str
    tick: Run
    interval: float


Job = Interval | At | Loop
