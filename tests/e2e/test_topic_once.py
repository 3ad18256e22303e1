"""A case's forum topic exactly once, as far as Telegram allows, on SQLite and PostgreSQL: the leader's sender
killed (SIGKILL) between ``createForumTopic`` answering and the topic's id being recorded, then restarted; and
two processes handling the notes of two topics of one case at the same time.

Telegram posts a note of every topic created (``forum_topic_created``, received as an update); the fake does
the same and can hold the notes back. After the kill the restarted sender waits for the note of the earlier
try before creating again: the note arriving adopts that topic (one topic in all); arriving too late, it finds
the case with another topic and that first topic is deleted (or closed, without the right to delete).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.sender import OutboxSender
from handlers.cases.intake import route_pending
from storage.models import OutboxMessage, OutboxStatus
from tests.support.cases import FAST, TOPICS_GROUP, outbox_rows, topics_config
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report
from tests.support.images import jpeg
from tests.support.processes import ROOT, checkout_env
from tests.support.racers import race
from tests.support.telegram import GROUP, CaseRig, ReporterRig, case_rig, file_with_album, tg_topics_config

pytestmark = [pytest.mark.processes, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")]


@pytest.fixture
async def forum(db_url: str, tmp_path: Path) -> AsyncIterator[CaseRig]:
    async with case_rig(tmp_path, tg_topics_config(), database_url=db_url) as rig:
        yield rig


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def topic_row(rig: CaseRig) -> OutboxMessage:
    async with rig.app.db.unit_of_work() as uow:
        query = select(OutboxMessage).where(OutboxMessage.kind == "case_topic")
        return (await uow.session.execute(query)).scalar_one()


async def report_and_kill_the_sender(rig: CaseRig, url: str) -> None:
    """A report routed to the forum group; a sender that dies right after Telegram created the topic."""
    await file_with_album(ReporterRig(rig.fake, rig.app, rig.channel), [jpeg("topic-once", 20_000)])
    await route_pending(rig.app.db, rig.app.config, rig.clock.now(), media=rig.app.media)
    rig.fake.forum.hold_notes = True
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.topic_crash_worker", url, rig.fake.api_base_url, rig.fake.token,
        rig.clock.now().isoformat(), cwd=ROOT, env=checkout_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(child.communicate(), 90)
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert len(rig.fake.forum.all(GROUP)) == 1 and len(rig.fake.forum.held) == 1  # created, its note held back
    row = await topic_row(rig)
    assert row.status == OutboxStatus.PENDING.value and row.platform_message_id is None and "creating" in row.payload


async def restarted(rig: CaseRig) -> tuple[OutboxSender, asyncio.Event, asyncio.Task]:
    """The leader's sender after the restart (it takes back the rows the dead one had claimed)."""
    sender = OutboxSender(
        rig.app.db,
        {"telegram": rig.channel.deliver},
        edits={"telegram": rig.channel.edit},
        clock=rig.clock,
        codec=rig.app.codec,
        limiter=rig.channel.limiter,
        options=FAST,
    )
    stop = asyncio.Event()
    return sender, stop, asyncio.create_task(sender.run(stop))


async def waiting_for_the_note(rig: CaseRig) -> bool:
    return "waiting for its note" in ((await topic_row(rig)).last_error or "")


async def recorded(rig: CaseRig) -> bool:
    return (await topic_row(rig)).status == OutboxStatus.SENT.value


async def the_card(rig: CaseRig):
    """The case card in the lead's group (one photo: the card is its caption)."""
    [card] = await rig.fake.wait_for(
        "sendPhoto", timeout=30, predicate=lambda c: c.params["chat_id"] == GROUP and "PHẢN ÁNH" in c.params["caption"]
    )
    return card


async def test_killed_after_creating_the_topic_the_restart_adopts_it_from_its_note(forum: CaseRig, db_url: str) -> None:
    rig = forum
    await report_and_kill_the_sender(rig, db_url)
    [topic] = rig.fake.forum.all(GROUP)
    _sender, stop, running = await restarted(rig)
    await until(lambda: waiting_for_the_note(rig))  # the restart does not create again at once
    rig.fake.forum.release_notes()  # Telegram's note of the topic the dead sender created arrives
    await until(lambda: recorded(rig))
    assert (await topic_row(rig)).platform_message_id == str(topic.thread_id)  # adopted
    rig.clock.advance(timedelta(minutes=1))
    card = await the_card(rig)
    stop.set()
    await running
    assert card.params["message_thread_id"] == topic.thread_id  # the card went into that topic
    assert len(rig.fake.calls_of("createForumTopic")) == 1 and rig.fake.forum.all(GROUP) == [topic]
    assert not rig.fake.calls_of("deleteForumTopic") and rig.fake.count_429 == 0


@pytest.mark.parametrize("may_delete", [True, False], ids=["deleted", "closed"])
async def test_a_note_arriving_too_late_drops_the_first_topic(forum: CaseRig, db_url: str, may_delete: bool) -> None:
    rig = forum
    rig.fake.forum.can_delete = may_delete
    await report_and_kill_the_sender(rig, db_url)
    [first] = rig.fake.forum.all(GROUP)
    _sender, stop, running = await restarted(rig)
    await until(lambda: waiting_for_the_note(rig))
    rig.clock.advance(timedelta(seconds=FAST.topic_grace + 1))  # no note in time: the topic is created again
    await until(lambda: recorded(rig))
    second = next(t for t in rig.fake.forum.all(GROUP) if t is not first)
    assert (await topic_row(rig)).platform_message_id == str(second.thread_id)
    rig.fake.forum.release_notes()  # both notes now: the first topic is an orphan
    await rig.fake.wait_for("deleteForumTopic" if may_delete else "closeForumTopic", timeout=30)
    rig.clock.advance(timedelta(minutes=1))
    card = await the_card(rig)
    stop.set()
    await running
    assert card.params["message_thread_id"] == second.thread_id
    if may_delete:
        assert rig.fake.forum.all(GROUP) == [second] and rig.fake.forum.deleted == [first]
    else:
        assert first.closed and not second.closed and not rig.fake.forum.deleted
    drops = await outbox_rows_of(rig, "case_topic_drop")
    assert [r.payload["thread_id"] for r in drops] == [str(first.thread_id)]  # once, though both notes came


async def outbox_rows_of(rig: CaseRig, kind: str) -> list[OutboxMessage]:
    async with rig.app.db.unit_of_work() as uow:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list((await uow.session.execute(query)).scalars())


async def test_two_processes_handling_the_notes_of_two_topics_per_case_keep_one_and_drop_one(
    db_url: str, tmp_path: Path
) -> None:
    """Each process is handed both notes of every case (two topics, each note twice in all), in its own order."""
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=topics_config()) as harness:
        codes = [await file_report(harness.person(f"n{i}", name=f"Người {i}")) for i in range(8)]
        await route_pending(harness.app.db, harness.app.config, harness.clock.now(), media=harness.app.media)
        threads = {code: {str(1000 + i), str(2000 + i)} for i, code in enumerate(codes)}
        notes = [{"code": code, "thread": thread} for code in codes for thread in sorted(threads[code])]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BOT_CONFIG"))}
        args = ["tests.support.topic_note_worker", db_url, harness.clock.now().isoformat(), json.dumps(notes)]
        assert await race(args, env, tmp_path) == [len(notes), len(notes)]
        topics = {r.ref: r for r in await outbox_rows(harness, "case_topic")}
        drops = await outbox_rows(harness, "case_topic_drop")
        assert sorted(r.ref for r in drops) == sorted(codes)  # one drop per case, not two
        for drop in drops:
            kept = topics[drop.ref]
            assert kept.status == OutboxStatus.SENT.value and kept.chat_id == drop.chat_id == TOPICS_GROUP
            assert {kept.platform_message_id, drop.payload["thread_id"]} == threads[drop.ref]  # one kept, one dropped
