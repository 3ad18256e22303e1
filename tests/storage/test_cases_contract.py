"""The case storage contract over SQLite and PostgreSQL (when TEST_DATABASE_URL is set): routing and SLA
steps exactly once with two engines on one database, as two processes would have, and the message map."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.exc import IntegrityError

from handlers.cases.intake import route_pending
from handlers.cases.posting import link_sent
from handlers.cases.sla import check_sla
from storage.cases import Case, CaseMessage, CaseMessageKind, CaseSlaMark, SlaStep
from storage.db import Database
from storage.models import OutboxMessage
from tests.benchmarks.bench_cases import GROUP, SUBMITTED_AT, bench_config, prepare_reports

ADMIN = "555"


async def rows(db: Database, model, *where) -> list:
    async with db.unit_of_work() as uow:
        return list((await uow.session.execute(select(model).where(*where).order_by(model.id))).scalars())


async def add_admin(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.staff.upsert(
            channel="telegram",
            user_id=ADMIN,
            name="Quản trị",
            agency="qltm",
            role="admin",
            source="cli",
            now=SUBMITTED_AT,
        )
        await uow.commit()


def test_the_migration_creates_the_case_tables(db_url: str) -> None:
    Database(db_url).upgrade()
    engine = create_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"cases", "case_messages", "case_actions", "case_sla_marks"} <= tables


async def test_two_processes_route_each_report_once_and_send_each_sla_step_once(db_url: str) -> None:
    codes = await prepare_reports(db_url, 12)
    config = bench_config()
    one, two = Database(db_url), Database(db_url)  # two engines, as two processes would have
    try:
        await add_admin(one)
        now = SUBMITTED_AT + timedelta(minutes=1)
        stats = await asyncio.gather(*(route_pending(db, config, now) for db in (one, two, one, two)))
        assert sum(s.routed for s in stats) == len(codes)
        cases = await rows(one, Case)
        assert sorted(c.code for c in cases) == sorted(codes)
        cards = await rows(one, OutboxMessage, OutboxMessage.kind == "case_card")
        assert Counter(c.ref for c in cards) == Counter(dict.fromkeys(codes, 1))
        assert {c.chat_id for c in cards} == {str(GROUP)}
        assert not await rows(one, OutboxMessage, OutboxMessage.channel == "staff", OutboxMessage.status == "pending")

        # Inside the 60 hours: 2 h (counterfeit) or 4 h to acknowledge, then 4 h more before escalating.
        late = SUBMITTED_AT + timedelta(hours=9)
        counts = await asyncio.gather(*(check_sla(db, config, late) for db in (one, two, two, one, one, two)))
        total: Counter = Counter()
        for count in counts:
            total.update(count)
        assert total == {"ack_reminder": len(codes), "ack_escalation": len(codes)}
        again = await asyncio.gather(*(check_sla(db, config, late) for db in (one, two)))
        assert again == [{}, {}]
        reminders = await rows(one, OutboxMessage, OutboxMessage.kind == "case_reminder")
        escalations = await rows(one, OutboxMessage, OutboxMessage.kind == "case_escalation")
        assert Counter(r.ref for r in reminders) == Counter(dict.fromkeys(codes, 1))
        assert Counter(r.ref for r in escalations) == Counter(dict.fromkeys(codes, 1))
        assert {r.chat_id for r in escalations} == {ADMIN}  # the admin, privately
        marks = await rows(one, CaseSlaMark)
        assert Counter(m.step for m in marks) == {"ack_reminder": len(codes), "ack_escalation": len(codes)}
    finally:
        await one.dispose()
        await two.dispose()


async def test_an_sla_step_is_unique_per_case_and_epoch(db_url: str) -> None:
    await prepare_reports(db_url, 1)
    db = Database(db_url)
    try:
        await route_pending(db, bench_config(), SUBMITTED_AT)
        [case] = await rows(db, Case)
        async with db.unit_of_work() as uow:
            await uow.cases.mark_sla(case.id, 0, SlaStep.ACK_REMINDER, SUBMITTED_AT)
            await uow.cases.mark_sla(case.id, 1, SlaStep.ACK_REMINDER, SUBMITTED_AT)  # a new epoch: allowed
            await uow.commit()
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as uow:
                await uow.cases.mark_sla(case.id, 0, SlaStep.ACK_REMINDER, SUBMITTED_AT)
                await uow.commit()
    finally:
        await db.dispose()


async def test_the_message_map_finds_a_case_by_its_platform_message(db_url: str) -> None:
    [code] = await prepare_reports(db_url, 1)
    db = Database(db_url)
    try:
        await route_pending(db, bench_config(), SUBMITTED_AT)
        [card] = await rows(db, OutboxMessage, OutboxMessage.kind == "case_card")
        async with db.unit_of_work() as uow:
            await uow.outbox.mark_sent(card.id, SUBMITTED_AT, platform_message_id="4242")
            await uow.commit()
        async with db.unit_of_work() as uow:  # delivered, not linked yet: found through the outbox
            [found] = await uow.cases.by_message("telegram", str(GROUP), "4242")
            assert found.kind == CaseMessageKind.CARD.value and found.outbox_id == card.id
            assert await uow.cases.by_message("telegram", "-1", "4242") == []
            assert await uow.cases.by_message("telegram", str(GROUP), "4243") == []
        assert await link_sent(db) == 1
        assert await link_sent(db) == 0
        [mapped] = await rows(db, CaseMessage)
        assert mapped.message_id == "4242"
        async with db.unit_of_work() as uow:
            case = await uow.cases.by_code(code)
            assert [m.id for m in await uow.cases.by_message("telegram", str(GROUP), "4242")] == [mapped.id]
            assert case is not None and case.id == mapped.case_id
            total = await uow.session.execute(select(func.count()).select_from(CaseMessage))
            assert total.scalar_one() == 1
    finally:
        await db.dispose()
