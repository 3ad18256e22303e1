"""Cases over Telegram against the fake Bot API: the card with its album in the agency's group, staff
buttons that change the case (edited card, alerts), "reply to" a card, a sender killed with SIGKILL, and a
forum topic per case (created once, renamed with the status, a message in it relayed to the reporter)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.base import RateLimited
from bot.channels.telegram import TelegramChannel
from handlers.cases.intake import route_pending
from handlers.types import Button, Reply
from storage.models import OutboxMessage
from tests.support.databases import migrated_sqlite
from tests.support.fakes.telegram_api import (
    Call,
    FakeTelegramAPI,
    callback_update,
    chat_dict,
    photo_update,
    text_update,
)
from tests.support.fakes.telegram_forum import in_topic
from tests.support.images import jpeg
from tests.support.processes import ROOT, checkout_env
from tests.support.telegram import (
    COORDINATOR,
    GROUP,
    STAFF,
    USER,
    CaseRig,
    ReporterRig,
    case_rig,
    make_settings,
    telegram_config,
    tg_topics_config,
)
from tests.support.telegram import (
    file_with_album as file_album_report,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[CaseRig]:
    async with case_rig(tmp_path, telegram_config()) as made:
        yield made


def buttons(call: Call) -> dict[str, str]:
    markup = call.params.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def data_for(call: Call, label: str) -> str:
    return next(data for text, data in buttons(call).items() if label in text)


async def file_with_album(rig: CaseRig) -> tuple[str, list[bytes]]:
    served = [jpeg(f"case-{i}", 20_000 + i) for i in range(3)]
    code = await file_album_report(ReporterRig(rig.fake, rig.app, rig.channel), served)
    return code, served


async def press(rig: CaseRig, card: Call, label: str, user: int = STAFF) -> Call:
    """Someone in the group presses a button of the card; returns the callback answer."""
    before = len(rig.fake.calls_of("answerCallbackQuery"))
    rig.fake.push_update(
        callback_update(
            data_for(card, label),
            user_id=user,
            chat_id=GROUP,
            chat_type="supergroup",
            first_name="Sơn",
            message_id=await card_message_id(rig, GROUP),
            message_text=card.params["text"],
            reply_markup=card.params["reply_markup"],
        )
    )
    answers = await rig.fake.wait_for("answerCallbackQuery", count=before + 1)
    return answers[-1]


async def card_message_id(rig: CaseRig, chat: int) -> int:
    """The platform message id the sender recorded for the case card sent to ``chat``."""
    async with rig.app.db.unit_of_work() as uow:
        result = await uow.session.execute(
            select(OutboxMessage.platform_message_id).where(
                OutboxMessage.kind == "case_card", OutboxMessage.chat_id == str(chat)
            )
        )
        return int(result.scalar_one())


async def test_the_card_and_its_album_reach_the_group_and_a_press_moves_the_case(rig: CaseRig) -> None:
    code, served = await file_with_album(rig)
    await rig.deliver()
    card_id = await card_message_id(rig, GROUP)
    [album] = rig.to(GROUP, "sendMediaGroup")
    assert [m.data for m in (item["media"] for item in album.params["media"])] == served  # the original photos
    [card] = rig.to(GROUP)
    assert f"PHẢN ÁNH {code} — Cục QLTT chủ trì" in card.params["text"] and "Ảnh: 3" in card.params["text"]
    assert "09xx xxx 678" in card.params["text"] and "0912 345 678" not in card.params["text"]
    assert {"📥 Tiếp nhận", "📞 Xem liên hệ", "✅ Hoàn tất"} <= set(buttons(card))
    assert all(len(data.encode()) <= 64 for data in buttons(card).values())
    [copy] = rig.to(COORDINATOR)
    assert copy.params["text"].startswith("📋 BẢN SAO") and list(buttons(copy)) == ["👀 Đã nắm thông tin"]
    assert rig.to(COORDINATOR, "sendMediaGroup")  # the copy has the evidence too

    answer = await press(rig, card, "Tiếp nhận")
    assert answer.params.get("show_alert") is True and f"Đã tiếp nhận {code}" in answer.params["text"]
    assert not rig.to(GROUP, "editMessageText")  # the shared card is not touched by the press; the sender edits it
    await rig.deliver()
    edit = next(c for c in rig.fake.calls_of("editMessageText") if c.params["chat_id"] == GROUP)
    assert edit.params["message_id"] == card_id
    assert "Trạng thái: 📥 Đã tiếp nhận" in edit.params["text"] and "Tiếp nhận — Trần Văn Sơn" in edit.params["text"]
    assert "📥 Tiếp nhận" not in buttons(edit) and "🙋 Nhận xử lý" in buttons(edit)
    assert any(c.params["chat_id"] == COORDINATOR for c in rig.fake.calls_of("editMessageText"))
    notice = rig.to(USER)[-1].params["text"]
    assert f"Phản ánh {code} của bạn đã được Cục Quản lý thị trường tỉnh Bình Phước tiếp nhận" in notice

    shown = await press(rig, card, "Xem liên hệ")
    assert shown.params["show_alert"] is True and "0912 345 678" in shown.params["text"]
    in_groups = [c for c in rig.fake.calls if c.params.get("chat_id") in (GROUP, COORDINATOR)]
    assert not any("0912 345 678" in str(c.params.get("text", "")) for c in in_groups)  # never in a group

    reply = text_update("Chúng tôi sẽ kiểm tra cửa hàng trong hôm nay.", user_id=STAFF, chat_id=GROUP)
    reply["message"]["chat"] = chat_dict(GROUP, "supergroup")
    reply["message"]["reply_to_message"] = {
        "message_id": card_id,
        "date": int(time.time()),
        "chat": chat_dict(GROUP, "supergroup"),
        "from": rig.fake.bot_user,
        "text": card.params["text"],
    }
    rig.fake.push_update(reply)
    [ack] = await rig.fake.wait_for(
        "sendMessage", predicate=lambda c: c.params["chat_id"] == GROUP and "Đã gửi" in c.params["text"]
    )
    assert "Đã gửi trả lời tới người phản ánh" in ack.params["text"]
    await rig.deliver()
    answer_to_reporter = rig.to(USER)[-1].params["text"]
    assert answer_to_reporter.startswith("💬 Cục Quản lý thị trường tỉnh Bình Phước trả lời")
    assert "kiểm tra cửa hàng" in answer_to_reporter and "Sơn" not in answer_to_reporter

    refused = await press(rig, card, "Hoàn tất", user=777)  # not staff
    assert refused.params["show_alert"] is True and "Chỉ cán bộ" in refused.params["text"]


# -- a sender killed with SIGKILL between submission and delivery ---------------------------------------------


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_killed_between_submit_and_delivery_no_card_is_lost(tmp_path: Path) -> None:
    from tests.benchmarks.bench_cases import cards_in_flight, prepare_reports

    url = migrated_sqlite(tmp_path / "kill.db")
    codes = await prepare_reports(url, 60)

    async def spawn(fake: FakeTelegramAPI) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.benchmarks.bench_cases", "child", "--db", url,
            "--api", fake.api_base_url, "--token", fake.token, "--group-cap", "20", "--group-span", "1",
            "--digest-after", "0",
            cwd=ROOT, env=checkout_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    def cards(fake: FakeTelegramAPI) -> Counter:
        return Counter(
            c.params["text"].split()[3]
            for c in fake.calls_of("sendMessage")
            if c.status == 200 and c.params["text"].startswith("🚨 PHẢN ÁNH")
        )

    async with FakeTelegramAPI() as fake:
        child = await spawn(fake)
        await fake.wait_for("sendMessage", count=15, timeout=60)
        child.send_signal(signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        await asyncio.sleep(0.2)
        flying = cards_in_flight(url)
        before = sum(cards(fake).values())
        assert 15 <= before < len(codes)
        child = await spawn(fake)
        assert await asyncio.wait_for(child.wait(), 90) == 0
        delivered = cards(fake)
    assert set(delivered) == set(codes)  # every card reached the group
    assert sum(delivered.values()) - len(codes) <= flying  # only what was on its way at the kill went twice


# -- edit(): a card sent as a photo's caption, an unchanged card, a card that is gone ------------------------


async def test_edit_falls_back_to_the_caption_or_a_new_message(tmp_path: Path) -> None:
    async with FakeTelegramAPI() as fake:
        settings = make_settings(fake, tmp_path)
        channel = TelegramChannel(settings, _ignore)
        card = Reply(
            "🚨 PHẢN ÁNH PA-2345-67 — Cục QLTT chủ trì\nTrạng thái: 📥 Đã tiếp nhận", [[Button("✅ Hoàn tất", "x")]]
        )
        try:
            assert await channel.edit(str(GROUP), "7", card) == "7"
            [edit] = fake.calls_of("editMessageText")
            assert edit.params["message_id"] == 7 and buttons(edit) == {"✅ Hoàn tất": "x"}

            fake.fail_next("editMessageText", 400, description="Bad Request: there is no text in the message to edit")
            assert await channel.edit(str(GROUP), "8", card) == "8"
            [caption] = fake.calls_of("editMessageCaption")
            assert caption.params["caption"].startswith("🚨 PHẢN ÁNH") and caption.params["message_id"] == 8

            fake.fail_next("editMessageText", 400, description="Bad Request: message is not modified")
            assert await channel.edit(str(GROUP), "9", card) == "9"

            fake.fail_next("editMessageText", 400, description="Bad Request: message to edit not found")
            new_id = await channel.edit(str(GROUP), "10", card)
            [sent] = [c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == GROUP]
            assert new_id not in (None, "10") and sent.params["text"] == card.text

            fake.fail_next("editMessageText", 429)
            with pytest.raises(RateLimited):
                await channel.edit(str(GROUP), "11", card)
        finally:
            await channel.close_bulk()


async def _ignore(_msg):
    return []


async def test_a_staff_photo_reaches_the_reporter_on_telegram(rig: CaseRig) -> None:
    code, _ = await file_with_album(rig)
    await rig.deliver()
    [card] = rig.to(GROUP)
    await press(rig, card, "Trả lời người phản ánh")  # not acknowledged yet: the answer acknowledges it too
    await rig.fake.wait_for(
        "sendMessage", predicate=lambda c: c.params["chat_id"] == GROUP and "gửi kèm ảnh" in c.params["text"]
    )
    seized = jpeg("seized", 30_000)
    rig.fake.add_file("staff-big", seized, file_path="photos/staff.jpg")
    rig.fake.push_update(
        photo_update(
            [("staff-thumb", 90, 90, 1_000), ("staff-big", 1280, 960, len(seized))], user_id=STAFF, chat_id=GROUP,
            chat_type="supergroup", first_name="Sơn", caption="Biên bản thu giữ hàng giả",
        )
    )  # fmt: skip
    await rig.fake.wait_for(
        "sendMessage", predicate=lambda c: c.params["chat_id"] == GROUP and "Đã gửi trả lời" in c.params["text"]
    )
    await rig.deliver()
    sent = rig.to(USER, "sendPhoto")[-1]
    assert f"trả lời về phản ánh {code}" in sent.params["caption"] and "Biên bản thu giữ" in sent.params["caption"]
    assert [c for c in rig.to(USER, "sendPhoto") if c is not sent] == []  # the acknowledgement went without it
    assert sent.params["photo"].data == seized  # the bytes the staff member sent, uploaded to the reporter


# -- a forum topic per case (topics: true) ---------------------------------------------------------------------


@pytest.fixture
async def forum(tmp_path: Path) -> AsyncIterator[CaseRig]:
    async with case_rig(tmp_path, tg_topics_config()) as made:
        yield made


async def test_a_case_gets_its_topic_renamed_with_its_status_and_answers_in_it_reach_the_reporter(
    forum: CaseRig,
) -> None:
    rig = forum
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

    # A reply, inside the topic, to a message that is not the case's (here the bot's acknowledgement).
    again = text_update("Cửa hàng đã gỡ sản phẩm khỏi sàn.", user_id=STAFF, chat_id=GROUP)
    again["message"]["chat"] = chat_dict(GROUP, "supergroup")
    rig.fake.push_update(in_topic(again, topic.thread_id, reply_to=ack.result["message_id"]))
    await rig.fake.wait_for(
        "sendMessage", count=2, predicate=lambda c: c.params["chat_id"] == GROUP and "Đã gửi" in c.params["text"]
    )
    await rig.deliver()
    assert "gỡ sản phẩm" in rig.to(USER)[-1].params["text"]
    assert rig.fake.count_429 == 0


async def test_routing_again_after_a_restart_never_makes_a_second_topic(forum: CaseRig) -> None:
    rig = forum
    await file_with_album(rig)
    await rig.deliver()
    await route_pending(rig.app.db, rig.app.config, rig.clock.now(), media=rig.app.media)
    await rig.deliver()
    async with rig.app.db.unit_of_work() as uow:
        rows = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "case_topic"))).all()
    assert len(rows) == 1 and len(rig.fake.forum.all(GROUP)) == 1
    assert len(rig.fake.calls_of("createForumTopic")) == 1


async def press_in_topic(rig: CaseRig, message: Call, label: str, message_id: int, thread: int) -> Call:
    """A staff member presses a button of a bot message inside a forum topic; returns the callback answer."""
    before = len(rig.fake.calls_of("answerCallbackQuery"))
    text = message.params.get("text") or message.params.get("caption") or ""
    rig.fake.push_update(
        callback_update(
            data_for(message, label), user_id=STAFF, chat_id=GROUP, chat_type="supergroup", first_name="Sơn",
            message_id=message_id, message_text=text, reply_markup=message.params["reply_markup"], thread_id=thread,
        )
    )  # fmt: skip
    return (await rig.fake.wait_for("answerCallbackQuery", count=before + 1))[-1]


async def test_buttons_pressed_inside_the_topic_act_on_the_case_and_its_prompts_stay_there(forum: CaseRig) -> None:
    rig = forum
    code, _ = await file_with_album(rig)
    await rig.deliver()
    [topic] = rig.fake.forum.all(GROUP)
    [card] = rig.to(GROUP)
    card_id = await card_message_id(rig, GROUP)
    await press_in_topic(rig, card, "Tiếp nhận", card_id, topic.thread_id)
    await rig.deliver()
    assert "Đã tiếp nhận" in topic.name  # the press moved the case (and its topic's name)

    in_group = len(rig.to(GROUP))
    await press_in_topic(rig, card, "Hoàn tất", card_id, topic.thread_id)
    [ask_reason] = (
        await rig.fake.wait_for("sendMessage", count=in_group + 1, predicate=lambda c: c.params["chat_id"] == GROUP)
    )[in_group:]
    assert ask_reason.params["message_thread_id"] == topic.thread_id  # the prompt is in the topic, not General
    await press_in_topic(rig, ask_reason, "Đã xử lý vi phạm", ask_reason.result["message_id"], topic.thread_id)
    [ask_text] = (
        await rig.fake.wait_for("sendMessage", count=in_group + 2, predicate=lambda c: c.params["chat_id"] == GROUP)
    )[in_group + 1 :]
    assert ask_text.params["message_thread_id"] == topic.thread_id and code in ask_text.params["text"]

    said = text_update("Cửa hàng đã bị xử phạt và gỡ sản phẩm.", user_id=STAFF, chat_id=GROUP)
    said["message"]["chat"] = chat_dict(GROUP, "supergroup")
    rig.fake.push_update(in_topic(said, topic.thread_id, reply_to=ask_text.result["message_id"]))
    [done] = (
        await rig.fake.wait_for("sendMessage", count=in_group + 3, predicate=lambda c: c.params["chat_id"] == GROUP)
    )[in_group + 2 :]
    assert done.params["message_thread_id"] == topic.thread_id and code in done.params["text"]
    await rig.deliver()
    assert topic.name.endswith("Đã hoàn tất")
    assert "xử phạt" in " ".join(c.params["text"] for c in rig.to(USER))  # the reporter got the result
    general = [c for c in rig.to(GROUP)[in_group:] if "message_thread_id" not in c.params]
    assert not general  # nothing about the case fell into the group's General topic
