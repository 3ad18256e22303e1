"""One storage contract over SQLite and PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect

from handlers.clock import as_utc
from storage.db import Database

NOW = datetime(2024, 11, 29, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str):
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    yield database
    await database.dispose()


async def test_migrations_create_the_tables(db: Database) -> None:
    engine = create_engine(db.url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"users", "conversations", "app_secrets", "outbox", "alembic_version"} <= names
    await asyncio.to_thread(db.upgrade)  # idempotent


async def test_user_is_created_once_and_refreshed(db: Database) -> None:
    async with db.unit_of_work() as uow:
        first = await uow.users.touch("telegram", "42", "Lan", NOW)
        await uow.commit()
    later = NOW + timedelta(hours=1)
    async with db.unit_of_work() as uow:
        again = await uow.users.touch("telegram", "42", "Lan Nguyễn", later)
        await uow.users.touch("zalo_bot", "42", "Lan Zalo", later)
        await uow.commit()
    assert again.id == first.id
    async with db.unit_of_work() as uow:
        user = await uow.users.get("telegram", "42")
        assert await uow.users.count() == 2
    assert user.display_name == "Lan Nguyễn"
    assert user.role == "citizen"
    assert as_utc(user.created_at) == NOW and as_utc(user.last_seen_at) == later


async def test_conversation_state_round_trip(db: Database) -> None:
    data = {"seller": "Shop Ánh Dương", "photos": [{"sha256": "ab" * 32}], "n": 3, "flag": True}
    deadline = NOW + timedelta(minutes=30)
    async with db.unit_of_work() as uow:
        await uow.conversations.save(
            "telegram", "-100", "7", flow="f", step="s1", data=data, deadline=deadline, now=NOW
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.conversations.get("telegram", "-100", "7")
        assert row is not None
        assert (row.flow, row.step, row.data) == ("f", "s1", data)
        assert as_utc(row.deadline) == deadline
        await uow.conversations.save(
            "telegram", "-100", "7", flow="f", step="s2", data={**data, "n": 4}, deadline=deadline, now=NOW
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.conversations.get("telegram", "-100", "7")
        assert (row.step, row.data["n"]) == ("s2", 4)
        assert await uow.conversations.get("telegram", "-100", "8") is None
        expired = await uow.conversations.expired(NOW + timedelta(hours=1))
        assert [(r.chat_id, r.user_id) for r in expired] == [("-100", "7")]
        await uow.conversations.clear("telegram", "-100", "7")
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.conversations.get("telegram", "-100", "7") is None


async def test_a_failed_unit_of_work_saves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            await uow.users.touch("telegram", "1", "A", NOW)
            await uow.conversations.save("telegram", "1", "1", flow="f", step="s", data={}, deadline=NOW, now=NOW)
            raise RuntimeError("fails before commit")
    async with db.unit_of_work() as uow:
        assert await uow.users.get("telegram", "1") is None
        assert await uow.conversations.get("telegram", "1", "1") is None


async def test_secret_is_made_once(db: Database) -> None:
    async with db.unit_of_work() as uow:
        first = await uow.secrets.get_or_create("buttons", NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.secrets.get_or_create("buttons", NOW) == first
    assert len(first) >= 32


async def test_work_on_one_key_is_serialised_across_engines(db: Database, db_url: str) -> None:
    """Two processes (here: two engines) never interleave steps of the same conversation."""
    other = Database(db_url)
    order: list[str] = []

    async def step(database: Database, name: str, hold: float) -> None:
        async with database.unit_of_work() as uow:
            await uow.lock("telegram", "5", "5")
            order.append(f"{name}-in")
            row = await uow.conversations.get("telegram", "5", "5")
            count = row.data["count"] if row else 0
            await asyncio.sleep(hold)
            await uow.conversations.save(
                "telegram", "5", "5", flow="f", step="s", data={"count": count + 1}, deadline=NOW, now=NOW
            )
            order.append(f"{name}-out")
            await uow.commit()

    try:
        if db.is_sqlite:
            # SQLite runs one process; the dispatcher's per-key asyncio lock serialises instead.
            await step(db, "a", 0)
            await step(other, "b", 0)
        else:
            await asyncio.gather(step(db, "a", 0.3), step(other, "b", 0))
        async with db.unit_of_work() as uow:
            row = await uow.conversations.get("telegram", "5", "5")
        assert row.data["count"] == 2
        assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
    finally:
        await other.dispose()


async def test_outbox_enqueue_claim_mark(db: Database) -> None:
    later = NOW + timedelta(minutes=5)
    async with db.unit_of_work() as uow:
        a = await uow.outbox.enqueue(channel="telegram", chat_id="1", kind="t", payload={"text": "a"}, now=NOW)
        await uow.outbox.enqueue(
            channel="telegram", chat_id="2", kind="t", payload={"text": "b"}, now=NOW, dedupe_key="k1"
        )
        again = await uow.outbox.enqueue(
            channel="telegram", chat_id="2", kind="t", payload={"text": "b"}, now=NOW, dedupe_key="k1"
        )
        await uow.outbox.enqueue(
            channel="telegram", chat_id="3", kind="t", payload={"text": "c"}, now=NOW, not_before=later
        )
        await uow.commit()
    assert a is not None and again is None
    async with db.unit_of_work() as uow:
        claimed = await uow.outbox.claim(NOW, 10, lease=timedelta(seconds=30))
        await uow.commit()
    assert [r.payload["text"] for r in claimed] == ["a", "b"]
    async with db.unit_of_work() as uow:
        assert await uow.outbox.claim(NOW, 10) == []  # leased
        await uow.outbox.mark_sent(claimed[0].id, NOW, "m1")
        await uow.outbox.mark_failed(claimed[1].id, "403 blocked", permanent=True)
        await uow.commit()
    async with db.unit_of_work() as uow:
        rows = await uow.outbox.claim(later + timedelta(minutes=1), 10)
        await uow.commit()
        assert [r.payload["text"] for r in rows] == ["c"]
        counts = await uow.outbox.counts(kind="t")
    assert counts == {"sent": 1, "failed": 1, "pending": 1}


async def test_outbox_lease_expires_so_a_crashed_sender_loses_nothing(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.outbox.enqueue(channel="telegram", chat_id="1", kind="t", payload={"text": "a"}, now=NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        first = await uow.outbox.claim(NOW, 10, lease=timedelta(seconds=30))
        await uow.commit()
    async with db.unit_of_work() as uow:
        again = await uow.outbox.claim(NOW + timedelta(seconds=31), 10)
        await uow.commit()
    assert [r.id for r in first] == [r.id for r in again] and again[0].attempts == 2
