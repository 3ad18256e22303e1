"""Reminders on time, exactly once: which slots are due, firing one, and the slots as the leader's jobs.

* **Calendar**: :func:`handlers.reminders.countdown.reminder_slots` turns the configuration into slots (campaign,
  event, offset, firing time). Each slot is one job of the leader (id ``reminder:<campaign>:<event>:<offset>``,
  see :func:`jobs`), rebuilt from the configuration at every leader start: slots no longer configured are
  removed, moved dates are updated.
* **Exactly once**: firing a slot writes a ``broadcasts`` row whose ``slot`` is unique, together with one
  outbox row per subscriber (``dedupe_key = reminder:<campaign>:<event>:<offset>:<channel>:<user>``), in
  one transaction under an advisory lock on the slot. Firing twice (two processes, a restart, a job run
  after a manual :meth:`ReminderService.fire_due`) adds nothing.
* **Late or skipped**: the jobs' misfire grace equals ``reminders.misfire_grace_minutes`` (default 30).
  A slot missed by less (a restart, a short outage) is sent once, late, with its text computed at the
  real moment; one missed by more is recorded as ``skipped`` and never sent out of date. A slot is also
  skipped when a later slot of the same event is already due (superseded). The same rule is applied when
  the jobs are declared, when the scheduler finds a job past its grace, and by
  :meth:`ReminderService.fire_due`, which tests drive with an injected clock.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.clock import Clock
from handlers.config import AppConfig
from handlers.jobs import At, LeaderContext
from handlers.reminders.countdown import ReminderSlot, find_event, reminder_slots, reminder_text
from handlers.reminders.subscriptions import OFF_BUTTON
from handlers.types import Reply
from storage.db import Database
from storage.subscriptions import Audience, BroadcastKind, BroadcastStatus

logger = logging.getLogger(__name__)

JOB_PREFIX = "reminder:"


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
    """The reminder logic, independent of any scheduler: which slots are due, firing one exactly once."""

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


async def jobs(ctx: LeaderContext) -> list[At]:
    """The slots still to fire, one job each; those missed by more than the grace are recorded as skipped."""
    if not ctx.config.reminders.enabled:
        return []
    service = ReminderService(ctx.db, ctx.config, ctx.clock, on_queued=ctx.wake)
    now = ctx.clock.now()
    done = await service.load_done()
    grace = int(service.grace.total_seconds())
    wanted: list[At] = []
    skipped = 0
    for slot in service.slots:
        if slot.id in done:
            continue
        if now - slot.at > service.grace:
            await service.fire_slot(slot, now, log_skip=False)  # records it as skipped
            skipped += 1
            continue
        wanted.append(
            At(JOB_PREFIX + slot.id, slot.id, slot.at, functools.partial(service.fire_slot_id, slot.id), grace)
        )
    logger.info("reminders: %d scheduled, %d missed ones recorded as skipped", len(wanted), skipped)
    return wanted
