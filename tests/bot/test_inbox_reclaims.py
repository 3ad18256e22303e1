"""An update whose worker died on it (PostgreSQL claims): the claim after its lease ran out counts as a failed
attempt; at the third it is parked without being tried, the user told once, and staff see it listed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from bot.cli import main
from handlers import texts
from handlers.core import REPLY_KIND, Context
from handlers.types import IncomingMessage
from storage.db import Database
from storage.inbox import InboxStatus, InboxUpdate, Received, Stored
from storage.models import OutboxMessage
from tests.support.chat import DEFAULT_NOW
from tests.support.databases import PG_URL, reset_postgres
from tests.support.inbox_apps import app_with_command

pytestmark = pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL not set: claims need PostgreSQL")

LEASE = 30.0


@pytest.fixture
def pg_url() -> str:
    reset_postgres(PG_URL)
    return PG_URL


async def claim(db: Database) -> list[Stored]:
    async with db.unit_of_work() as uow:
        rows = await uow.inbox.claim(["telegram"], 10, LEASE)
        await uow.commit()
    return rows


async def let_leases_run_out(db: Database) -> None:
    """As if the worker holding the claims died LEASE seconds ago (the database's clock decides)."""
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            text("UPDATE inbox SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL")
        )
        await uow.commit()


async def test_a_claim_after_a_lease_ran_out_counts_an_attempt_a_claim_handed_back_does_not(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        async with db.unit_of_work() as uow:
            first, second = await uow.inbox.store(
                "telegram", [Received("1", "5:5", {}), Received("2", "5:5", {})], DEFAULT_NOW
            )
            await uow.commit()
        assert [(r.id, r.attempts) for r in await claim(db)] == [(first.id, 0)]  # the conversation's head
        assert await claim(db) == []  # leased
        async with db.unit_of_work() as uow:  # a process stopping hands its claims back: no failed attempt
            await uow.inbox.release([first.id])
            await uow.commit()
        assert [(r.id, r.attempts) for r in await claim(db)] == [(first.id, 0)]
        for died in (1, 2, 3):  # the worker died holding it: each claim after the lease is one failed attempt
            await let_leases_run_out(db)
            assert [(r.id, r.attempts) for r in await claim(db)] == [(first.id, died)]
        async with db.unit_of_work() as uow:  # handled at last; its claim passes on to the next, never counted
            assert await uow.inbox.take([first.id], DEFAULT_NOW) == [first.id]
            following = await uow.inbox.claim_next(Stored(first.id, "telegram", "5:5", {}), LEASE)
            await uow.commit()
        assert following is not None and (following.id, following.attempts) == (second.id, 0)
        await let_leases_run_out(db)
        assert [(r.id, r.attempts) for r in await claim(db)] == [(second.id, 1)]
        async with db.unit_of_work() as uow:
            attempts = dict((await uow.session.execute(select(InboxUpdate.id, InboxUpdate.attempts))).all())
        assert attempts == {first.id: 4, second.id: 1}  # the take counted the handling attempt, as before
    finally:
        await db.dispose()


async def test_an_update_its_worker_died_on_three_times_is_parked_untried_and_the_user_told_once(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    async def note(ctx: Context) -> None:
        calls.append(ctx.text)
        ctx.reply("đã nhận")

    async with app_with_command(pg_url, "/note", note) as app:
        async with app.db.unit_of_work() as uow:
            await uow.inbox.store("telegram", [Received("1", "5:5", {}), Received("2", "5:5", {})], DEFAULT_NOW)
            await uow.commit()

        def message(row: Stored, text: str) -> IncomingMessage:  # as a channel builds it from the claimed row
            return IncomingMessage(
                channel="telegram", chat_id="5", user_id="5", text=text, inbox_ids=[row.id], inbox_attempts=row.attempts
            )

        [row] = await claim(app.db)
        for _ in range(3):  # the worker dies on it (nothing handled, nothing committed) and the lease runs out
            await let_leases_run_out(app.db)
            [row] = await claim(app.db)
        assert row.attempts == 3
        [apology] = await app.dispatcher.handle(message(row, "/note poison"))
        assert apology.text == texts.APOLOGY and apology.outbox_id is not None
        assert calls == []  # not tried a fourth time
        assert await app.dispatcher.handle(message(row, "/note poison")) == []  # parked: the user not told twice
        async with app.db.unit_of_work() as uow:  # the conversation goes on: its next update is claimable now
            await uow.inbox.release([row.id])
            await uow.commit()
        [following] = await claim(app.db)
        [reply] = await app.dispatcher.handle(message(following, "/note next"))
        assert reply.text == "đã nhận" and calls == ["/note next"]
        async with app.db.unit_of_work() as uow:
            rows = {r.id: r for r in (await uow.session.execute(select(InboxUpdate))).scalars()}
            replies = list(
                (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == REPLY_KIND))).scalars()
            )
        parked = rows[row.id]
        assert (parked.status, parked.attempts) == (InboxStatus.PARKED.value, 3)
        assert parked.error == "the worker stopped while handling it 3 times"
        assert rows[following.id].status == InboxStatus.HANDLED.value
        assert [r.payload["text"] for r in replies] == [texts.APOLOGY, "đã nhận"]

    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert await asyncio.to_thread(main, ["inbox"]) == 0
    out = capsys.readouterr().out
    assert "tạm gác (lỗi): 1" in out and f"#{row.id} · telegram" in out and "3 · the worker stopped" in out


async def test_a_failure_after_its_worker_died_twice_parks_it_at_the_third_attempt(pg_url: str) -> None:

    async def boom(ctx: Context) -> None:
        raise RuntimeError("the handler is broken")

    async with app_with_command(pg_url, "/boom", boom) as app:
        async with app.db.unit_of_work() as uow:
            await uow.inbox.store("telegram", [Received("1", "5:5", {})], DEFAULT_NOW)
            await uow.commit()
        [row] = await claim(app.db)
        for _ in range(2):
            await let_leases_run_out(app.db)
            [row] = await claim(app.db)
        msg = IncomingMessage(
            channel="telegram", chat_id="5", user_id="5", text="/boom", inbox_ids=[row.id], inbox_attempts=row.attempts
        )
        [apology] = await app.dispatcher.handle(msg)
        assert apology.text == texts.APOLOGY
        async with app.db.unit_of_work() as uow:
            stored = (await uow.session.execute(select(InboxUpdate))).scalar_one()
        assert (stored.status, stored.attempts) == (InboxStatus.PARKED.value, 3)
        assert stored.error == "RuntimeError: the handler is broken"
