"""An upgrade: a database written by the layout before the leader starts under it with every job rebuilt.

The old layout ran three schedulers with three job stores, and its stored jobs name functions that are gone:
``bot.scheduler:run_reminder`` (one job per reminder slot, ``apscheduler_jobs``),
``bot.case_router:run_sla_check`` (``apscheduler_case_jobs``) and ``bot.scheduler:run_countdown_post``
(``apscheduler_countdown_jobs``). The rows are written as APScheduler's ``SQLAlchemyJobStore`` writes them
(the pickled ``Job.__getstate__()``), then the app starts (migrating) and the leader takes over.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import create_engine, func, inspect, select, text

from bot.app import create_app
from bot.leader import JOBS_TABLE, Leader, run_job
from bot.settings import Settings
from handlers.clock import SystemClock
from handlers.config import AppConfig
from handlers.reminders.countdown import ReminderSlot, reminder_slots
from handlers.types import Reply
from storage.db import Database, sync_url
from tests.support.chat import shared_knowledge
from tests.support.configs import live_campaign, plan_2024
from tests.support.databases import PG_URL

OLD_REVISION = "0009"
CASE_JOBS, COUNTDOWN_JOBS = "apscheduler_case_jobs", "apscheduler_countdown_jobs"
GONE_SLOT = "online-friday-2023:online-friday:start-1h"  # configured then, no longer


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database migrated as far as the old layout went."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    elif not PG_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    else:
        url = PG_URL
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    Database(url).upgrade(OLD_REVISION)
    yield url


def live_config(start: datetime) -> AppConfig:
    """A campaign around the real clock, and the pinned countdown post."""
    post = {"telegram_chat": "@kenh_sct_online_friday", "every_minutes": 15}
    return live_campaign(plan_2024(), start, countdown_post=post)


def old_job(job_id: str, func_ref: str, trigger, args: tuple, next_run: datetime, grace: int | None) -> dict:
    """A job's state exactly as APScheduler 3 pickles it (``Job.__getstate__``)."""
    return {
        "version": 1,
        "id": job_id,
        "func": func_ref,
        "trigger": trigger,
        "executor": "default",
        "args": args,
        "kwargs": {},
        "name": job_id,
        "misfire_grace_time": grace,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": next_run,
    }


def write_old_layout(url: str, slots: list[ReminderSlot], now: datetime) -> None:
    interval_start = now + timedelta(minutes=1)
    stores = {
        JOBS_TABLE: [
            old_job(f"reminder:{s.id}", "bot.scheduler:run_reminder", DateTrigger(s.at), (s.id,), s.at, 1800)
            for s in slots
        ]
        + [old_job(f"reminder:{GONE_SLOT}", "bot.scheduler:run_reminder", DateTrigger(now), (GONE_SLOT,), now, 1800)],
        CASE_JOBS: [
            old_job("cases:sla", "bot.case_router:run_sla_check", IntervalTrigger(seconds=60), (), interval_start, 3600)
        ],
        COUNTDOWN_JOBS: [
            old_job(
                "countdown_post",
                "bot.scheduler:run_countdown_post",
                IntervalTrigger(minutes=15),
                (),
                interval_start,
                900,
            )
        ],
    }
    engine = create_engine(sync_url(url))
    for table, states in stores.items():
        store = SQLAlchemyJobStore(engine=engine, tablename=table)
        store.jobs_t.create(engine, checkfirst=True)  # as the store's start() does
        with engine.begin() as conn:
            for state in states:
                row = {
                    "id": state["id"],
                    "next_run_time": datetime_to_utc_timestamp(state["next_run_time"]),
                    "job_state": pickle.dumps(state, store.pickle_protocol),
                }
                conn.execute(store.jobs_t.insert().values(**row))
    engine.dispose()


def stored(url: str) -> dict[str, dict[str, int]]:
    """Per job-store table still in the database: how many rows each job id has."""
    engine = create_engine(sync_url(url))
    tables = set(inspect(engine).get_table_names())
    found: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for table in {JOBS_TABLE, CASE_JOBS, COUNTDOWN_JOBS} & tables:
            store = SQLAlchemyJobStore(engine=engine, tablename=table)
            rows = conn.execute(select(store.jobs_t.c.id, func.count()).group_by(store.jobs_t.c.id)).all()
            found[table] = {job_id: count for job_id, count in rows}
    engine.dispose()
    return found


async def delivered(chat_id: str, reply: Reply) -> str:
    return "1"


async def pinned(chat_id: str, message_id: str) -> None:
    return None


async def ran(leader: Leader, *job_ids: str, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not all(leader.runs[job_id] for job_id in job_ids):
            await asyncio.sleep(0.05)


async def test_an_old_database_starts_with_every_job_rebuilt_once_in_one_store(old_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    config = live_config(now + timedelta(days=8))  # every slot is still to come
    slots = reminder_slots(config)
    assert slots and all(s.at > now for s in slots)
    write_old_layout(old_url, slots, now)
    old = {f"reminder:{s.id}" for s in slots} | {f"reminder:{GONE_SLOT}"}
    assert stored(old_url) == {
        JOBS_TABLE: dict.fromkeys(old, 1),
        CASE_JOBS: {"cases:sla": 1},
        COUNTDOWN_JOBS: {"countdown_post": 1},
    }

    settings = Settings(_env_file=None, database_url=old_url, media_dir=tmp_path / "media")
    expected = {f"reminder:{s.id}" for s in slots} | {
        "cases:sla",
        "countdown_post",
        "complaints:stale_drafts",
        "inbox:purge",
    }
    for _restart in range(2):
        app = create_app(settings, config=config, clock=SystemClock(), knowledge=shared_knowledge())
        async with app:  # migrates the database to the head
            leader = Leader(app, {"telegram": delivered}, pins={"telegram": pinned})
            await leader.start()
            try:
                await asyncio.wait_for(leader.became_leader.wait(), 10)
                assert stored(old_url) == {JOBS_TABLE: dict.fromkeys(expected, 1)}  # the old stores are gone
                assert leader.scheduler is not None
                jobs = {job.id: job for job in leader.scheduler.get_jobs()}
                assert set(jobs) == expected
                assert all(job.func is run_job and job.args == (job.id,) for job in jobs.values())
                for slot in slots:
                    assert jobs[f"reminder:{slot.id}"].next_run_time == slot.at
                assert "cases:route" in leader.jobs  # the case worker's loop, in memory only
                # The rebuilt interval jobs run at once on a new leader.
                await ran(leader, "cases:sla", "countdown_post")
            finally:
                await leader.stop()
