"""Merges and the reporter's verdict from two processes on one database: each happens exactly once in total."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from storage.cases import CaseStatus
from tests.support.cases import (
    QLTT,
    TOPICS_GROUP,
    Inbox,
    audit,
    cases_config,
    deliver,
    member,
    outbox_rows,
    the_case,
    topics_config,
)
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report
from tests.support.racers import race

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(sys.platform == "win32", reason="subprocesses with stdin pipes"),
]


@pytest.fixture
async def shared(db_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=cases_config()) as harness:
        yield harness


async def press_together(db_url: str, at: str, presses: list[list[str]], tmp_path: Path) -> list[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BOT_CONFIG"))}
    return await race(["tests.support.case_press_worker", db_url, at, json.dumps(presses)], env, tmp_path)


async def test_two_processes_merge_once_and_reopen_once(shared: ChatHarness, db_url: str, tmp_path: Path) -> None:
    inbox = Inbox()
    codes = []
    for i in range(3):
        codes.append(await file_report(shared.person(f"u{i}", name=f"Người {i}")))
        await deliver(shared, inbox)
    first, second, third = codes
    cards = {code: next(s for s in inbox.to(QLTT) if f"PHẢN ÁNH {code}" in s.text) for code in codes}
    merge = [["qltt-1", QLTT, "group", cards[c].button(f"Gộp vào {first}").payload] for c in (second, third)]
    answers = await press_together(db_url, shared.clock.now().isoformat(), merge, tmp_path)
    said = " ".join(" ".join(a) for a in answers)
    assert said.count(f"Đã gộp {second} vào {first}") == 1 and said.count(f"Đã gộp {third} vào {first}") == 1
    assert [a.action for a in await audit(shared, first)].count("merged_in") == 2
    for code in (second, third):
        assert [a.action for a in await audit(shared, code)].count("merge") == 1
        assert (await the_case(shared, code)).state is CaseStatus.MERGED
    notices = [r for r in await outbox_rows(shared, "case_notice") if "được gộp với phản ánh" in r.payload["text"]]
    assert sorted(r.chat_id for r in notices) == ["u1", "u2"]  # each merged reporter told once

    son = member(shared, "qltt-1", QLTT, "Sơn")
    await son.press_on(cards[first], "Hoàn tất")
    await son.press("Đã xử lý vi phạm người bán")
    await son.say("Cửa hàng đã bị xử phạt.")
    await deliver(shared, inbox)
    assert sorted(r.chat_id for r in await outbox_rows(shared, "case_verdict")) == ["u0", "u1", "u2"]
    shared.clock.advance(timedelta(days=1))
    unsolved = inbox.last("u1").button("Chưa").payload
    presses = [["u1", "u1", "private", unsolved]]
    answers = await press_together(db_url, shared.clock.now().isoformat(), presses, tmp_path)
    said = " ".join(" ".join(a) for a in answers)
    assert said.count("đã được mở lại") == 1 and said.count("đã trả lời câu hỏi") == 1
    case = await the_case(shared, first)
    assert case.state is CaseStatus.IN_PROGRESS and case.reopens == 1
    assert [a.action for a in await audit(shared, first)].count("reporter_reopened") == 1
    assert len([r for r in await outbox_rows(shared, "case_reopened")]) == 1


async def route_together(db_url: str, at: str, tmp_path: Path) -> list[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BOT_CONFIG"))}
    return await race(["tests.support.topic_route_worker", db_url, at], env, tmp_path)


async def test_two_processes_routing_together_create_each_topic_once(db_url: str, tmp_path: Path) -> None:
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=topics_config()) as harness:
        codes = [await file_report(harness.person(f"t{i}", name=f"Người {i}")) for i in range(12)]
        routed = await route_together(db_url, harness.clock.now().isoformat(), tmp_path)
        assert sorted(code for codes_of in routed for code in codes_of) == sorted(codes)  # each routed once
        topics = await outbox_rows(harness, "case_topic")
        assert sorted(r.ref for r in topics) == sorted(codes) and {r.chat_id for r in topics} == {TOPICS_GROUP}
        cards = [r for r in await outbox_rows(harness, "case_card") if r.chat_id == TOPICS_GROUP]
        by_case = {r.ref: r.id for r in topics}
        assert sorted(r.ref for r in cards) == sorted(codes)
        assert all(r.payload["thread_row"] == by_case[r.ref] for r in cards)  # each card goes into its topic
        # A restart routes nothing again: still one topic per case.
        assert await route_together(db_url, harness.clock.now().isoformat(), tmp_path) == [[], []]
        assert len(await outbox_rows(harness, "case_topic")) == len(codes)


RACED = "vừa được cán bộ khác cập nhật cùng lúc"


async def at_once(db_url: str, at: str, tmp_path: Path, *presses: list[str]) -> list[str]:
    """Two processes, each with its own press (or typed text), released together; each change waits a second
    between reading the case and claiming it, so both have read it before either changes it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BOT_CONFIG"))}
    own = [[json.dumps([press]), "1.0"] for press in presses]
    answers = await race(["tests.support.case_press_worker", db_url, at], env, tmp_path, own=own)
    return [" ".join(said) for said in answers]


async def test_two_presses_at_once_change_the_case_once_for_every_kind_of_action(
    shared: ChatHarness, db_url: str, tmp_path: Path
) -> None:
    inbox = Inbox()
    code = await file_report(shared.person("r0", name="Người A"))
    await deliver(shared, inbox)
    at = shared.clock.now().isoformat()
    # Named as the worker names them, and seen once already: a press writes nothing before it reads the case.
    son, cuc = member(shared, "qltt-1", QLTT), member(shared, "qltt-2", QLTT)
    for someone in (son, cuc):
        await someone.say("/viec")

    def card() -> str:
        return next(s for s in inbox.to(QLTT) if f"PHẢN ÁNH {code}" in s.text)

    for label in ("Tiếp nhận", "Nhận xử lý"):  # buttons that change the case at once
        payload = card().button(label).payload
        said = await at_once(
            db_url, at, tmp_path, ["qltt-1", QLTT, "group", payload], ["qltt-2", QLTT, "group", payload]
        )
        assert sum(RACED in s for s in said) == 1, said  # the other press is told, kindly, and changes nothing
        await deliver(shared, inbox)

    # Actions asked for a text: both in their prompt, both send at once.
    await son.press_on(card(), "Yêu cầu bổ sung")
    await cuc.press_on(card(), "Yêu cầu bổ sung")
    more = (["qltt-1", QLTT, "text", "Bạn gửi thêm ảnh hóa đơn."], ["qltt-2", QLTT, "text", "Bạn gửi thêm ảnh vỏ hộp."])
    said = await at_once(db_url, at, tmp_path, *more)
    assert sum(RACED in s for s in said) == 1, said
    await deliver(shared, inbox)

    # One resolves while the other rejects.
    await son.press_on(card(), "Hoàn tất")
    await son.press("Đã xử lý vi phạm người bán")
    await cuc.press_on(card(), "Từ chối")
    await cuc.press("Không có dấu hiệu vi phạm")
    closing = (["qltt-1", QLTT, "text", "Cửa hàng đã bị xử phạt."], ["qltt-2", QLTT, "text", "Hàng đúng nguồn gốc."])
    said = await at_once(db_url, at, tmp_path, *closing)
    assert sum(RACED in s for s in said) == 1, said
    await deliver(shared, inbox)

    actions = [a.action for a in await audit(shared, code)]
    for once in ("ack", "take", "more"):
        assert actions.count(once) == 1, actions
    assert actions.count("resolve") + actions.count("reject") == 1, actions
    assert not (await the_case(shared, code)).open
    to_reporter = [r.payload["text"] for r in await outbox_rows(shared, "case_notice") if r.chat_id == "r0"]
    assert len(to_reporter) == 4, to_reporter  # acknowledged, in progress, asked for more, closed: each once
    assert len(await outbox_rows(shared, "case_verdict")) == 1  # asked once whether it was solved
