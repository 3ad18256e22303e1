"""SLA steps from two processes on one database: each reminder and escalation is sent exactly once in total."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.cases.sla import check_sla
from storage.db import Database
from tests.support.cases import QLTM, QLTT, Inbox, cases_config, deliver, outbox_rows
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report
from tests.support.racers import race

pytestmark = pytest.mark.processes


@pytest.fixture
async def shared(db_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=cases_config()) as harness:
        yield harness


async def checks(db_url: str, at: str, tmp_path: Path, *, rounds: int = 5) -> list[dict[str, int]]:
    """Two worker processes check the deadlines at the same moment, ``rounds`` times each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BOT_CONFIG"))}
    return await race(["tests.support.sla_worker", db_url, at, str(rounds)], env, tmp_path)


def total(reports: list[dict[str, int]]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for report in reports:
        for step, count in report.items():
            summed[step] = summed.get(step, 0) + count
    return summed


@pytest.mark.skipif(sys.platform == "win32", reason="subprocesses with stdin pipes")
async def test_two_processes_send_each_sla_step_exactly_once_in_total(
    shared: ChatHarness, db_url: str, tmp_path: Path
) -> None:
    inbox = Inbox()
    codes = [await file_report(shared.person(f"u{i}", name=f"Người {i}")) for i in range(3)]
    await deliver(shared, inbox)
    app = shared.app

    shared.clock.advance(timedelta(hours=12, minutes=1))  # counterfeit goods: 12 h to acknowledge
    assert total(await checks(db_url, shared.clock.now().isoformat(), tmp_path)) == {"ack_reminder": 3}
    shared.clock.advance(timedelta(hours=4))  # past the escalation margin
    assert total(await checks(db_url, shared.clock.now().isoformat(), tmp_path)) == {"ack_escalation": 3}
    # A restarted (third) process finds nothing left to do.
    restarted = Database(db_url)
    try:
        assert await check_sla(restarted, app.config, shared.clock.now()) == {}
    finally:
        await restarted.dispose()

    rows = [(r.kind, r.chat_id) for r in await outbox_rows(shared) if r.kind in ("case_reminder", "case_escalation")]
    assert rows.count(("case_reminder", QLTT)) == 3
    assert rows.count(("case_escalation", QLTM)) == 3
    assert len(rows) == 3 * 4  # per case: the reminder, and the escalation to three chats
    await deliver(shared, inbox)
    for code in codes:
        assert sum(code in text for text in inbox.texts(QLTT) if text.startswith("⏰ Nhắc")) == 1
