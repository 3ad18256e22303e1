"""A forum topic per case (``topics: true``) over the fake Bot API: the topic created once with the case's
code, category and status, the card and album inside it, renamed when the status changes, a message written
in the topic relayed to the reporter, and a restart that never makes a second topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.cases.intake import route_pending
from handlers.config import AppConfig
from storage.models import OutboxMessage
from tests.handlers.cases.test_cases_telegram import buttons, file_with_album, press
from tests.support.fakes.telegram_api import chat_dict, text_update
from tests.support.fakes.telegram_forum import in_topic
from tests.support.telegram import COORDINATOR, GROUP, STAFF, USER, CaseRig, case_rig, telegram_config


def topics_config() -> AppConfig:
    base = telegram_config().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["topics"] = True
    return AppConfig.model_validate(base)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[CaseRig]:
    async with case_rig(tmp_path, topics_config()) as made:
        yield made


async def test_a_case_gets_its_topic_renamed_with_its_status_and_answers_in_it_reach_the_reporter(
    rig: CaseRig,
) -> None:
    code, _ = await file_with_album(rig)
    await rig.deliver()
    [topic] = rig.fake.forum.all(GROUP)
    assert topic.name.startswith(f"{code} · Hàng giả") and topic.name.endswith("chờ tiếp nhận")
    [card] = rig.to(GROUP)
    [album] = rig.to(GROUP, "sendMediaGroup")
    assert card.params["message_thread_id"] == topic.thread_id == album.params["message_thread_id"]
    assert not rig.fake.forum.all(COORDINATOR)  # the copy agency did not ask for topics
    assert "message_thread_id" not in rig.to(COORDINATOR)[0].params

    await press(rig, card, "Tiếp nhận")
    await rig.deliver()
    assert len(topic.names) == 2 and "Đã tiếp nhận" in topic.name
    await rig.deliver()  # nothing changed: no rename
    assert len(rig.fake.calls_of("editForumTopic")) == 1

    said = text_update("Chúng tôi sẽ kiểm tra cửa hàng trong hôm nay.", user_id=STAFF, chat_id=GROUP)
    said["message"]["chat"] = chat_dict(GROUP, "supergroup")
    rig.fake.push_update(in_topic(said, topic.thread_id))  # written in the topic, not a reply to the card
    [ack] = await rig.fake.wait_for(
        "sendMessage", predicate=lambda c: c.params["chat_id"] == GROUP and "Đã gửi" in c.params["text"]
    )
    assert ack.params["message_thread_id"] == topic.thread_id  # the answer stays in the topic
    await rig.deliver()
    to_reporter = rig.to(USER)[-1].params["text"]
    assert to_reporter.startswith("💬 Cục Quản lý thị trường tỉnh Bình Phước trả lời") and "kiểm tra" in to_reporter
    assert "Hoàn tất" in "".join(buttons(card))
    assert rig.fake.count_429 == 0


async def test_routing_again_after_a_restart_never_makes_a_second_topic(rig: CaseRig) -> None:
    await file_with_album(rig)
    await rig.deliver()
    await route_pending(rig.app.db, rig.app.config, rig.clock.now(), media=rig.app.media)
    await rig.deliver()
    async with rig.app.db.unit_of_work() as uow:
        rows = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "case_topic"))).all()
    assert len(rows) == 1 and len(rig.fake.forum.all(GROUP)) == 1
    assert len(rig.fake.calls_of("createForumTopic")) == 1
