"""The leader and the reminders it runs: each reminder exactly once (the clock walked through 2024, restarts,
two processes), the leader lock, and the real APScheduler wiring (one persistent job store, explicit ids,
replace_existing, misfires)."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import create_engine, select, text

import handlers.reminders
from bot.leader import JOBS_TABLE, Leader, LeaderLock, Timing, run_job
from handlers.clock import Clock, FixedClock, SystemClock, as_utc
from handlers.config import AppConfig
from handlers.jobs import At
from handlers.reminders.countdown import reminder_slots
from handlers.reminders.firing import JOB_PREFIX, ReminderService
from handlers.types import Reply
from storage.db import Database
from storage.models import OutboxMessage
from storage.subscriptions import Broadcast
from tests.support.configs import live_campaign, plan_2024
from tests.support.databases import PG_URL, reset_postgres

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SUBSCRIBERS = [("telegram", "101"), ("telegram", "102"), ("console", "alice")]


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return plan_2024()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    yield database
    await database.dispose()


async def subscribe(db: Database, now: datetime, people=SUBSCRIBERS) -> None:
    async with db.unit_of_work() as uow:
        for channel, user in people:
            await uow.subscriptions.subscribe(channel, user, user, "consumer", now)
        await uow.commit()


async def broadcasts(db: Database) -> list[Broadcast]:
    async with db.unit_of_work() as uow:
        return list((await uow.session.execute(select(Broadcast).order_by(Broadcast.id))).scalars())


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        return list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def walk(services: list[ReminderService], start: datetime, end: datetime, step: timedelta, skip=()) -> None:
    """Move the clock from ``start`` to ``end``; every service fires what is due at each step, together.

    ``skip`` lists (from, to) outages: no step falls inside them.
    """
    moment = start
    while moment <= end:
        if not any(a < moment < b for a, b in skip):
            await asyncio.gather(*(service.fire_due(moment) for service in services))
        moment += step


def slots_2024(config: AppConfig):
    return [s for s in reminder_slots(config) if s.campaign == "online-friday-2024"]


def expected_keys(slots) -> set[str]:
    return {
        f"reminder:{s.campaign}:{s.event}:{s.offset}:{channel}:{user}" for s in slots for channel, user in SUBSCRIBERS
    }


async def assert_each_2024_reminder_once(db: Database, config: AppConfig) -> None:
    slots = {s.id: s for s in slots_2024(config)}
    fired = [b for b in await broadcasts(db) if b.slot in slots]
    assert Counter(b.slot for b in fired) == Counter(dict.fromkeys(slots, 1))
    assert all(b.status == "queued" and b.recipients == 3 for b in fired)
    # On time: each fired at its own moment.
    assert [(b.slot, as_utc(b.created_at)) for b in fired if as_utc(b.created_at) != slots[b.slot].at] == []
    rows = await outbox_rows(db)
    keys = [r.dedupe_key for r in rows]
    assert len(keys) == len(set(keys)) == len(slots) * 3
    assert set(keys) == expected_keys(slots.values())


# -- the calendar walked by an injected clock --------------------------------------------------------------


async def test_each_reminder_fires_exactly_once_through_2024_across_a_restart(db_url: str, config: AppConfig) -> None:
    start, middle, end = (
        datetime(2024, 1, 1, tzinfo=VN),
        datetime(2024, 11, 29, 6, 0, tzinfo=VN),  # inside the 60 hours
        datetime(2025, 1, 1, tzinfo=VN),
    )
    first = Database(db_url)
    await asyncio.to_thread(first.upgrade)
    await subscribe(first, start)
    await walk([ReminderService(first, config, FixedClock(start))], start, middle, timedelta(minutes=15))
    before = len(await broadcasts(first))
    await first.dispose()  # the process stops…

    second = Database(db_url)  # …and another one starts on the same database
    await walk([ReminderService(second, config, FixedClock(middle))], middle, end, timedelta(minutes=15))
    await assert_each_2024_reminder_once(second, config)
    all_broadcasts = await broadcasts(second)
    assert before < len(all_broadcasts)
    old = [b for b in all_broadcasts if b.slot and b.slot.startswith("online-friday-2023")]
    assert old and all(b.status == "skipped" and "missed by" in b.note for b in old)  # never sent late
    assert not [b for b in all_broadcasts if b.slot and b.slot.startswith("online-friday-2025")]
    await second.dispose()


async def test_two_schedulers_on_one_database_fire_each_reminder_once(db_url: str, config: AppConfig) -> None:
    start, end = datetime(2024, 11, 1, tzinfo=VN), datetime(2024, 12, 3, tzinfo=VN)
    one, two = Database(db_url), Database(db_url)  # two engines, as two processes would have
    await asyncio.to_thread(one.upgrade)
    await subscribe(one, start)
    services = [ReminderService(one, config, FixedClock(start)), ReminderService(two, config, FixedClock(start))]
    await walk(services, start, end, timedelta(minutes=10))
    await assert_each_2024_reminder_once(one, config)
    await one.dispose()
    await two.dispose()


async def test_a_short_outage_sends_late_once_a_long_one_skips(db: Database, config: AppConfig) -> None:
    start, end = datetime(2024, 11, 28, 12, 0, tzinfo=VN), datetime(2024, 12, 2, tzinfo=VN)
    await subscribe(db, start)
    service = ReminderService(db, config, FixedClock(start))
    outages = [
        (datetime(2024, 11, 28, 20, 0, tzinfo=VN), datetime(2024, 11, 29, 3, 0, tzinfo=VN)),  # 7 hours
        (datetime(2024, 11, 29, 11, 50, tzinfo=VN), datetime(2024, 11, 29, 12, 20, tzinfo=VN)),  # 30 minutes
    ]
    await walk([service], start, end, timedelta(minutes=10), skip=outages)
    by_slot = {b.slot: b for b in await broadcasts(db)}
    for offset in ("start-1h", "start"):  # 23:00 and 00:00 fell in the long outage
        missed = by_slot[f"online-friday-2024:online-friday:{offset}"]
        assert missed.status == "skipped" and missed.recipients == 0 and "missed by" in missed.note
    late = by_slot["online-friday-2024:online-friday:start+12h"]  # 12:00, the process came back at 12:20
    assert late.status == "queued" and late.recipients == 3
    assert as_utc(late.created_at) == datetime(2024, 11, 29, 12, 20, tzinfo=VN)
    assert "còn 47 giờ 40 phút" in late.payload["text"]  # the text is computed at the real moment
    rows = [r for r in await outbox_rows(db) if r.ref == late.ref]
    assert len(rows) == 3
    skipped_refs = {by_slot[f"online-friday-2024:online-friday:{o}"].ref for o in ("start-1h", "start")}
    assert not [r for r in await outbox_rows(db) if r.ref in skipped_refs]


async def test_a_reminder_overtaken_by_the_next_is_skipped(db: Database, config: AppConfig) -> None:
    data = config.model_dump(mode="json")
    data["reminders"] = {"before_start": ["1h", "45m"], "during_every": None, "before_end": [], "at_end": False}
    data["quiet_hours"] = {"start": "00:00", "end": "00:00"}
    custom = AppConfig.model_validate(data)
    await subscribe(db, datetime(2024, 11, 28, tzinfo=VN))
    service = ReminderService(db, custom, FixedClock(datetime(2024, 11, 28, tzinfo=VN)))
    await service.fire_due(datetime(2024, 11, 28, 22, 55, tzinfo=VN))
    results = await service.fire_due(datetime(2024, 11, 28, 23, 20, tzinfo=VN))  # back after 25 minutes
    status = {r.slot.offset: (r.status, r.reason) for r in results if r.slot.event == "online-friday"}
    assert status["start-1h"] == ("skipped", "superseded by start-45m")
    assert status["start-45m"][0] == "queued"


async def test_a_reminder_row_is_a_reply_with_an_unsubscribe_button(db: Database, config: AppConfig) -> None:
    slot = next(s for s in slots_2024(config) if s.offset == "start-1h" and s.event == "online-friday")
    await subscribe(db, slot.at)
    [result] = [r for r in await ReminderService(db, config, FixedClock(slot.at)).fire_due(slot.at) if r.slot == slot]
    assert result.status == "queued" and result.recipients == 3
    row = next(r for r in await outbox_rows(db) if r.chat_id == "alice")
    reply = Reply.from_dict(row.payload)
    assert reply.text.startswith("⏰ Nhắc lịch: còn 1 giờ 0 phút nữa đến 60 giờ Online Friday 2024")
    assert reply.buttons[0][0].payload == "sub:off"
    assert datetime.fromisoformat(row.payload["expires_at"]) == slot.expires
    assert row.kind == "reminder" and row.dedupe_key == f"reminder:{slot.id}:console:alice"


# -- leader election ---------------------------------------------------------------------------------------


async def test_one_leader_and_a_standby_takes_over(db_url: str) -> None:
    first, second = LeaderLock(db_url), LeaderLock(db_url)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert await first.alive()
    await first.release()
    assert await second.try_acquire()
    await second.release()


@pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL not set")
async def test_postgres_lock_goes_with_its_connection() -> None:
    reset_postgres(PG_URL)
    first, second = LeaderLock(PG_URL), LeaderLock(PG_URL)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    await first._conn.close()  # the leader's process or network dies: the server drops the lock
    assert not await first.alive()
    assert await second.try_acquire()
    await second.release()


def host(db: Database, config: AppConfig, clock: Clock | None = None) -> SimpleNamespace:
    """What the leader needs of the application, without the messenger settings."""
    return SimpleNamespace(db=db, config=config, clock=clock or SystemClock(), codec=None, media=None)


async def printing(chat_id: str, reply: Reply) -> None:
    """A channel's deliver that keeps nothing."""


def leader_of(db: Database, config: AppConfig, features=(handlers.reminders,)) -> Leader:
    delivers = {"console": printing, "telegram": printing}
    return Leader(host(db, config), delivers, features=features, timing=Timing(retry_seconds=0.1))


async def test_the_leader_runs_on_one_process_only(db_url: str, config: AppConfig) -> None:
    dbs = [Database(db_url), Database(db_url)]
    await asyncio.to_thread(dbs[0].upgrade)
    runs = [leader_of(d, config, features=()) for d in dbs]
    for run in runs:
        await run.start()
    waiters = {asyncio.create_task(r.became_leader.wait()) for r in runs}
    await asyncio.wait(waiters, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.sleep(0.3)  # several election rounds
    assert sum(r.leader for r in runs) == 1
    leader, standby = (runs[0], runs[1]) if runs[0].leader else (runs[1], runs[0])
    await leader.stop()
    await asyncio.wait_for(standby.became_leader.wait(), 10)
    assert standby.leader and standby.sender is not None
    await standby.stop()
    for d in dbs:
        await d.dispose()


# -- the real APScheduler wiring ---------------------------------------------------------------------------


def live_config(base: AppConfig, start: datetime, **reminders) -> AppConfig:
    """A campaign around the real clock, without quiet hours."""
    quiet = {"start": "00:00", "end": "00:00"}
    return live_campaign(
        base, start, quiet_hours=quiet, reminders={**base.model_dump(mode="json")["reminders"], **reminders}
    )


async def wait_for_slot(db: Database, slot: str, timeout: float = 15) -> Broadcast:
    async with asyncio.timeout(timeout):
        while True:
            found = [b for b in await broadcasts(db) if b.slot == slot]
            if found:
                return found[0]
            await asyncio.sleep(0.05)


def stored_job_ids(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = set(conn.execute(text(f"SELECT id FROM {JOBS_TABLE}")).scalars())
    engine.dispose()
    return ids


async def lead(leader: Leader) -> Leader:
    await leader.start()
    await asyncio.wait_for(leader.became_leader.wait(), 10)
    return leader


async def test_apscheduler_jobs_persisted_with_ids_rebuilt_idempotently(db: Database, config: AppConfig) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    live = live_config(config, now + timedelta(minutes=55))  # "1 hour before" was 5 minutes ago
    await subscribe(db, now)
    future = [s for s in reminder_slots(live) if s.at > now + timedelta(seconds=5)]
    expected = {JOB_PREFIX + s.id for s in future}

    first = await lead(leader_of(db, live))
    try:
        late = await wait_for_slot(db, "live:window:start-1h")  # run at once: within the grace time
        assert late.status == "queued" and late.recipients == 3
        skipped = [b for b in await broadcasts(db) if b.status == "skipped"]
        assert {b.slot for b in skipped} == {"live:window:start-7d", "live:window:start-1d"}  # hours late
        assert first.scheduler is not None
        jobs = {job.id: job for job in first.scheduler.get_jobs()}
        assert set(jobs) == expected
        for slot in future:
            job = jobs[JOB_PREFIX + slot.id]
            assert job.next_run_time == slot.at and job.misfire_grace_time == 1800 and job.coalesce
            assert job.func is run_job and job.args == (JOB_PREFIX + slot.id,)
        assert stored_job_ids(db.url) == expected  # in the database, not in memory
    finally:
        await first.stop()

    assert stored_job_ids(db.url) == expected
    second = await lead(leader_of(db, live))  # a restart: the store rebuilt, nothing added twice
    try:
        await asyncio.sleep(0.3)
        assert stored_job_ids(db.url) == expected
        assert Counter(b.slot for b in await broadcasts(db))["live:window:start-1h"] == 1
        assert len(await outbox_rows(db)) == 3  # nothing fired twice
    finally:
        await second.stop()

    shorter = live_config(config, now + timedelta(minutes=55), during_every=None)
    third = await lead(leader_of(db, shorter))  # the configuration changed: the same store, rebuilt
    try:
        assert expected - stored_job_ids(db.url) == {j for j in expected if "start+" in j}  # start+12h … start+48h
        assert len([j for j in expected if "start+" in j]) == 4
        assert stored_job_ids(db.url) == {job.id for job in third.scheduler.get_jobs()}
    finally:
        await third.stop()


async def test_apscheduler_missed_run_is_recorded_as_skipped(db: Database, config: AppConfig) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    live = live_config(config, now + timedelta(minutes=40), misfire_grace_minutes=1)
    slot = next(s for s in reminder_slots(live) if s.offset == "start-1h")  # 20 minutes ago
    leader = await lead(leader_of(db, live, features=()))
    try:
        # As if the process had been asleep: APScheduler itself finds the job 20 minutes late.
        job_id = JOB_PREFIX + slot.id
        service = ReminderService(db, live, SystemClock())
        leader.jobs[job_id] = At(job_id, slot.id, slot.at, functools.partial(service.fire_slot_id, slot.id), 60)
        assert leader.scheduler is not None
        leader.scheduler.add_job(
            run_job, DateTrigger(run_date=slot.at), args=[job_id], id=job_id, misfire_grace_time=60
        )
        missed = await wait_for_slot(db, slot.id)
        assert missed.status == "skipped" and "missed by 20m" in missed.note
        assert await outbox_rows(db) == []
    finally:
        await leader.stop()


async def test_a_first_start_records_past_reminders_as_skipped(db_url: str) -> None:
    if PG_URL and db_url == PG_URL:
        reset_postgres(PG_URL)
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    config = plan_2024()
    leader = await lead(leader_of(database, config))
    try:
        past = [s for s in reminder_slots(config) if datetime.now(UTC) - s.at > config.reminders.grace]
        assert [b.slot for b in await broadcasts(database)] == [s.id for s in past]
        assert {b.status for b in await broadcasts(database)} <= {"skipped"}
        assert len(stored_job_ids(database.url)) == len(reminder_slots(config)) - len(past)
    finally:
        await leader.stop()
        await database.dispose()
