"""Poison updates (parked after three failures, the user told once, listed for staff) and retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from handlers import texts
from handlers.clock import FixedClock
from handlers.core import REPLY_KIND, Context
from handlers.inbox import purge
from handlers.jobs import LeaderContext
from handlers.types import IncomingMessage
from storage.inbox import InboxStatus, InboxUpdate, Received
from storage.models import OutboxMessage
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.inbox_apps import app_with_command


async def test_an_update_failing_three_times_is_parked_the_user_told_once_and_staff_can_list_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = 0

    async def boom(ctx: Context) -> None:
        nonlocal calls
        calls += 1
        ctx.reply("never sent")
        raise RuntimeError("the handler is broken")

    async with app_with_command(db_url, "/boom", boom) as app:
        async with app.db.unit_of_work() as uow:
            [row] = await uow.inbox.store("telegram", [Received("77", "5:5", {"x": 1})], DEFAULT_NOW)
            await uow.commit()
        msg = IncomingMessage(channel="telegram", chat_id="5", user_id="5", text="/boom", inbox_ids=[row.id])
        [apology] = await app.dispatcher.handle(msg)
        assert apology.text == texts.APOLOGY and apology.outbox_id is not None
        assert calls == 3
        assert await app.dispatcher.handle(msg) == []  # parked: never tried again, the user not told twice
        assert calls == 3
        async with app.db.unit_of_work() as uow:
            stored = (await uow.session.execute(select(InboxUpdate))).scalar_one()
            replies = list(
                (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == REPLY_KIND))).scalars()
            )
        assert stored.status == InboxStatus.PARKED.value and stored.attempts == 3
        assert stored.error == "RuntimeError: the handler is broken"
        assert [r.payload["text"] for r in replies] == [texts.APOLOGY]

    monkeypatch.setenv("DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["inbox"]) == 0  # a command runs its own event loop
    out = capsys.readouterr().out
    assert "tạm gác (lỗi): 1" in out and f"#{row.id} · telegram" in out and "RuntimeError" in out


async def test_handled_updates_are_purged_after_the_retention_period(db_url: str) -> None:
    settings = Settings(_env_file=None, database_url=db_url)
    clock = FixedClock(DEFAULT_NOW)
    async with create_app(settings, clock=clock, config=plan_2024(), knowledge=shared_knowledge()) as app:
        async with app.db.unit_of_work() as uow:
            rows = await uow.inbox.store("telegram", [Received(str(i), "1:1", {}) for i in range(4)], DEFAULT_NOW)
            ages = {rows[0].id: 8, rows[1].id: 6, rows[2].id: 30}
            for row_id, days in ages.items():
                status = InboxStatus.PARKED if row_id == rows[2].id else InboxStatus.HANDLED
                await uow.session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.id == row_id)
                    .values(status=status.value, handled_at=DEFAULT_NOW - timedelta(days=days))
                )
            await uow.commit()
        ctx = LeaderContext(db=app.db, config=app.config, clock=clock, wake=lambda: None)
        assert await purge(ctx) == 1  # handled 8 days ago; kept: handled 6 days ago, parked, pending
        async with app.db.unit_of_work() as uow:
            left = set((await uow.session.execute(select(InboxUpdate.id))).scalars())
        assert left == {rows[1].id, rows[2].id, rows[3].id}
