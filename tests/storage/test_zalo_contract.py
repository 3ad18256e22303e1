"""The Zalo tables over SQLite and PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database

NOW = datetime(2024, 11, 29, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str):
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    yield database
    await database.dispose()


async def test_an_event_id_is_seen_first_once_and_old_ones_are_pruned(db: Database) -> None:
    async with db.unit_of_work() as uow:
        assert await uow.zalo.first_sight("zalo_oa", "msg:1", NOW)
        assert not await uow.zalo.first_sight("zalo_oa", "msg:1", NOW)
        assert await uow.zalo.first_sight("zalo_bot", "msg:1", NOW)  # ids are per channel
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert not await uow.zalo.first_sight("zalo_oa", "msg:1", NOW + timedelta(days=1))
        assert await uow.zalo.first_sight("zalo_oa", "msg:2", NOW + timedelta(days=9))
        assert await uow.zalo.prune_seen(NOW + timedelta(days=8)) == 2
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.zalo.first_sight("zalo_oa", "msg:1", NOW + timedelta(days=9))
        assert not await uow.zalo.first_sight("zalo_oa", "msg:2", NOW + timedelta(days=9))


async def test_choices_are_replaced_and_forgotten(db: Database) -> None:
    options = [{"label": "Có", "payload": "yes~sig"}, {"label": "Không", "payload": "no~sig"}]
    async with db.unit_of_work() as uow:
        await uow.zalo.set_choices("zalo_bot", "c1", options, NOW)
        await uow.zalo.set_choices("zalo_bot", "c1", options[:1], NOW + timedelta(minutes=1))
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.zalo.get_choices("zalo_bot", "c1")
        assert row.options == options[:1]
        assert row.updated_at.replace(tzinfo=UTC) == NOW + timedelta(minutes=1)
        assert await uow.zalo.get_choices("zalo_oa", "c1") is None
        await uow.zalo.set_choices("zalo_bot", "c1", [], NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.zalo.get_choices("zalo_bot", "c1") is None


async def test_the_token_pair_round_trips_under_its_lock(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.lock("zalo_oa_token", "app")
        assert await uow.zalo.lock_token("app") is None
        await uow.zalo.save_token(
            "app", access_token="a" * 600, refresh_token="r1", expires_at=NOW, now=NOW, seed_hash="h" * 64
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.zalo.lock_token("app")
        assert (row.access_token, row.refresh_token, row.seed_hash, row.refreshes) == ("a" * 600, "r1", "h" * 64, 0)
        await uow.zalo.save_token(
            "app", access_token="a2", refresh_token="r2", expires_at=None, now=NOW, refreshed=True
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.zalo.get_token("app")
    assert (row.access_token, row.refresh_token, row.expires_at, row.seed_hash, row.refreshes) == (
        "a2",
        "r2",
        None,
        "h" * 64,
        1,
    )
