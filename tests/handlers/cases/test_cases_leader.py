"""Cases over time: the leader's own loop, lost staff chats, /viec, and a reporter who cannot be reached (the rig:
tests/support/cases.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import handlers.cases
import handlers.complaints
from bot.channels.base import OutsideMessagingWindow, TemporaryFailure, Unreachable
from bot.leader import Leader, Timing
from bot.sender import OutboxSender, SenderOptions
from handlers.cases.posting import alert_lost_chats
from handlers.features import load_features
from handlers.jobs import Intervals
from handlers.types import Reply
from storage.cases import CaseMessageKind
from tests.support.cases import (
    FAST,
    HOI,
    QLTM,
    QLTT,
    FlakyInbox,
    Inbox,
    Sent,
    audit,
    cases_config,
    deliver,
    deliver_as_leader,
    later,
    member,
    outbox_rows,
    the_case,
)
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report, submit, to_photos


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=cases_config()) as harness:
        yield harness


# -- the leader's own loop, lost staff chats, /viec -------------------------------------------------------


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_leader_routes_delivers_edits_and_checks_deadlines_by_itself(sqlite_url: str) -> None:
    config = cases_config()
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=config) as chat:
        inbox = Inbox()
        app = chat.app
        timing = Timing(retry_seconds=0.05, sender=FAST, intervals=Intervals(case_poll=0.05, case_sla=0.2))
        features = [f for f in load_features() if f.__name__ != "handlers.reminders"]
        leader = Leader(app, {CHANNEL: inbox.deliver}, edits={CHANNEL: inbox.edit}, features=features, timing=timing)
        await leader.start()
        try:
            code = await file_report(chat.person("u1"))
            await wait_until(lambda: inbox.to(QLTT) and inbox.to("u1") == [])
            card = inbox.last(QLTT)
            assert code in card.text
            for _ in range(500):  # the worker links the delivered card to its platform message id
                async with app.db.unit_of_work() as uow:
                    [mapped] = await uow.cases.messages((await uow.cases.by_code(code)).id, [CaseMessageKind.CARD])
                if mapped.message_id == card.message_id:
                    break
                await asyncio.sleep(0.02)
            await member(chat, "qltt-1", QLTT).press_on(card, "Nhận xử lý")
            await wait_until(lambda: card.edits and inbox.to("u1"))
            assert "Phụ trách: Trần Văn Sơn" in card.text
            later(chat, hours=73)  # past the time to resolve: the SLA job (every 0.2 s here) escalates
            await wait_until(lambda: any("Quá hạn xử lý" in s.text for s in inbox.to(QLTM)))
            assert sum("Quá hạn xử lý" in s.text for s in inbox.to(QLTT)) == 1
        finally:
            await leader.stop()
        assert (await the_case(chat, code)).status == "in_progress"


async def test_the_leader_closes_abandoned_drafts_and_tells_the_reporter(chat: ChatHarness) -> None:
    inbox = Inbox()
    an = chat.person("u1", name="An")
    await to_photos(an)  # a report started, then left
    later(chat, hours=25)
    app = chat.app
    timing = Timing(retry_seconds=0.05, sender=FAST, intervals=Intervals(housekeeping=0.05))
    leader = Leader(app, {CHANNEL: inbox.deliver}, features=[handlers.complaints], timing=timing)
    await leader.start()
    try:
        await wait_until(lambda: inbox.to("u1"))
        await asyncio.sleep(0.2)  # a few more rounds: nothing twice
    finally:
        await leader.stop()
    [closed] = inbox.to("u1")
    assert "quá 24 giờ chưa được gửi" in closed.text
    async with app.db.unit_of_work() as uow:
        assert await uow.conversations.get(CHANNEL, "u1", "u1") is None


async def test_a_staff_group_that_removed_the_bot_is_reported_to_the_admins_once(chat: ChatHarness) -> None:
    class Gone(Inbox):
        async def deliver(self, chat_id: str, reply: Reply) -> str:
            if chat_id == HOI:
                raise Unreachable("Forbidden: bot was kicked from the group chat")
            return await super().deliver(chat_id, reply)

    inbox = Gone()
    await file_report(chat.person("u1"))
    await deliver(chat, inbox)
    assert inbox.to(HOI) == []
    assert await alert_lost_chats(chat.app.db, chat.app.config, chat.clock.now()) == 2
    assert await alert_lost_chats(chat.app.db, chat.app.config, chat.clock.now()) == 0
    await deliver(chat, inbox)
    [admin] = inbox.to("qltm-1")
    assert "không gửi được tin vào nhóm -600" in admin.text and "Hội Bảo vệ quyền lợi người tiêu dùng" in admin.text
    assert any("-600" in s.text for s in inbox.to(QLTM))


async def test_my_open_cases(chat: ChatHarness) -> None:
    inbox = Inbox()
    first = await file_report(chat.person("u1"))
    second = await file_report(chat.person("u2"))
    await deliver(chat, inbox)
    son = member(chat, "qltt-1", QLTT)
    await son.press_on(next(s for s in inbox.to(QLTT) if first in s.text), "Nhận xử lý")
    await son.say("/viec")
    mine, _, others = son.text.partition("Chưa ai nhận trong cơ quan")
    assert "Đang phụ trách: 1" in mine and first in mine and second not in mine
    assert others.startswith(": 1") and second in others
    stranger = member(chat, "u9", QLTT)
    await stranger.say("/viec")
    assert "chỉ dành cho cán bộ" in stranger.text


async def test_two_colleagues_type_at_the_same_time_in_one_group(chat: ChatHarness) -> None:
    inbox = Inbox()
    code = await file_report(chat.person("u1"))
    await deliver(chat, inbox)
    card = inbox.last(QLTT)
    son, cuc = member(chat, "qltt-1", QLTT), member(chat, "qltt-2", QLTT)
    await son.press_on(card, "Trả lời người phản ánh")
    await cuc.press_on(card, "Yêu cầu bổ sung")
    assert "nhập nội dung cần người phản ánh bổ sung" in cuc.text
    await cuc.say("Bạn cho biết số đơn hàng trên Shopee nhé")  # each one's text goes to their own action
    await son.say("Chúng tôi đã nhận phản ánh và đang xác minh.")
    await deliver(chat, inbox)
    texts = inbox.texts("u1")
    assert any("đề nghị bạn bổ sung" in t and "số đơn hàng" in t for t in texts)
    assert any(t.startswith("💬") and "đang xác minh" in t for t in texts)
    actions = [(a.action, a.actor_user_id) for a in await audit(chat, code)]
    assert ("more", "qltt-2") in actions and ("reply", "qltt-1") in actions
    await son.say("hủy")  # nothing left in progress for either of them
    assert "Không có thao tác nào" in son.text or "không có thao tác" in son.text.lower()


async def test_a_platform_without_edits_gets_the_new_state_as_a_new_message(chat: ChatHarness) -> None:
    inbox = Inbox()
    app = chat.app
    await file_report(chat.person("u1"))
    await deliver(chat, inbox)
    card = inbox.last(QLTT)
    await member(chat, "qltt-1", QLTT).press_on(card, "Tiếp nhận")
    sender = OutboxSender(app.db, {CHANNEL: inbox.deliver}, clock=chat.clock, codec=app.codec, options=FAST)
    await sender.run(until_empty=True)  # no edit() for this channel, like Zalo
    assert card.edits == [] and inbox.edit_calls == 0
    updated = inbox.last(QLTT)
    assert updated is not card and "Trạng thái: 📥 Đã tiếp nhận" in updated.text and "PHẢN ÁNH" in updated.text


# -- a reporter who cannot be reached --------------------------------------------------------------------------


async def reporter_blocks_then_staff_acknowledge(chat: ChatHarness) -> FlakyInbox:
    """A filed report delivered, then the reporter blocks the bot and QLTT acknowledges: one undeliverable
    notice to the reporter is queued."""
    inbox = FlakyInbox()
    await file_report(chat.person("u1", name="An"))
    await deliver_as_leader(chat, inbox)
    inbox.failing["u1"] = Unreachable("Forbidden: bot was blocked by the user")
    await member(chat, "qltt-1", QLTT).press_on(inbox.last(QLTT), "Tiếp nhận")
    return inbox


def unreachable_notices(inbox: Inbox, chat_id: str) -> list[Sent]:
    return [s for s in inbox.to(chat_id) if s.text.startswith("⚠️ Không liên lạc được với người phản ánh")]


async def test_a_reporter_outside_the_window_is_told_to_the_lead_agency_once(chat: ChatHarness) -> None:
    inbox = FlakyInbox()
    code = await file_report(chat.person("u1", name="An"))
    await deliver_as_leader(chat, inbox)
    card = inbox.last(QLTT)
    inbox.failing["u1"] = OutsideMessagingWindow("Zalo OA: error -230: the user is outside the OA's 7-day window")
    son = member(chat, "qltt-1", QLTT, "Sơn")
    await son.reply_to(card, "Chúng tôi sẽ kiểm tra cửa hàng trong hôm nay.")
    await deliver_as_leader(chat, inbox)
    await deliver_as_leader(chat, inbox)  # nothing is tried again, nothing told twice

    failed = [r for r in await outbox_rows(chat, "case_notice") if r.status == "failed"]
    assert len(failed) == 2  # the acknowledgement and the reply
    assert all(r.last_error.startswith("unreachable: Zalo OA: error -230") for r in failed)
    assert inbox.tries["u1"] == 2  # each tried once, never again
    notices = unreachable_notices(inbox, QLTT)
    assert len(notices) == 2  # one per message that did not get through
    reply_notice = next(n for n in notices if "kiểm tra cửa hàng trong hôm nay" in n.text)  # which one failed
    text = reply_notice.text
    assert f"người phản ánh {code} qua console" in text and "trong 7 ngày qua" in text
    assert "09xx xxx 678 (đồng ý để cán bộ liên hệ)" in text and "0912 345 678" not in text
    assert reply_notice.labels == ["📞 Xem liên hệ"] and reply_notice.reply.reply_to == card.message_id
    assert unreachable_notices(inbox, QLTM) == [] and unreachable_notices(inbox, HOI) == []  # the lead only

    rows = await outbox_rows(chat, "case_unreachable")
    assert sorted(r.dedupe_key for r in rows) == sorted(f"unreachable:{r.id}:console:{QLTT}" for r in failed)
    case = await the_case(chat, code)
    async with chat.app.db.unit_of_work() as uow:
        mapped = await uow.cases.messages(case.id, [CaseMessageKind.UNREACHABLE])
    assert sorted(m.outbox_id for m in mapped) == sorted(r.id for r in rows)
    assert [a.action for a in await audit(chat, code)].count("reporter_unreachable") == 2

    await son.press_on(reply_notice, "Xem liên hệ")  # the contact from the notice, as from the card
    assert son.last[0].alert and "0912 345 678" in son.text
    await son.reply_to(reply_notice, "Anh ơi gọi giúp em")  # an answer to the notice is not relayed
    assert "không gửi được tin tới người phản ánh" in son.text
    await deliver_as_leader(chat, inbox)
    assert inbox.tries["u1"] == 2


async def test_a_staff_answer_that_cannot_reach_the_asker_is_told_to_the_agency_once(chat: ChatHarness) -> None:
    inbox = FlakyInbox()
    asker = chat.person("m1", name="Shop Mai")
    await asker.say("giá vàng SJC hôm nay bao nhiêu một lượng")
    await asker.press("gửi câu hỏi cho cán bộ")
    await deliver_as_leader(chat, inbox)
    [forwarded] = inbox.to(QLTM)
    inbox.failing["m1"] = OutsideMessagingWindow("Zalo OA: error -230: the user is outside the OA's 7-day window")
    hoa = member(chat, "qltm-1", QLTM, "Hoa")
    await hoa.reply_to(forwarded, "Giá vàng do các ngân hàng công bố hằng ngày.")
    assert "Đã ghi nhận" in hoa.text
    await deliver_as_leader(chat, inbox)
    await deliver_as_leader(chat, inbox)  # not tried again, not told twice

    assert inbox.tries["m1"] == 1
    notices = [s for s in inbox.to(QLTM) if s.text.startswith("⚠️ Câu trả lời cho câu hỏi Q1")]
    assert len(notices) == 1 and "trong 7 ngày qua" in notices[0].text
    [answer] = await outbox_rows(chat, "question_answer")
    assert answer.status == "failed" and answer.last_error.startswith("unreachable")


async def test_an_anonymous_reporter_who_blocked_the_bot_and_other_failures(chat: ChatHarness) -> None:
    inbox = FlakyInbox()
    an = chat.person("u1", name="An")
    await to_photos(an)
    await an.press("Bỏ qua")
    await an.press("Đồng Xoài")
    await an.press("Gửi ẩn danh")
    code = await submit(an)
    await deliver_as_leader(chat, inbox)
    inbox.failing["u1"] = Unreachable("Forbidden: bot was blocked by the user")
    async with chat.app.db.unit_of_work() as uow:  # a reminder to the same chat fails too: not a case message
        await uow.subscriptions.subscribe(CHANNEL, "u1", "u1", "consumer", chat.clock.now())
        await uow.outbox.enqueue(
            channel=CHANNEL, chat_id="u1", kind="reminder", payload=Reply("Nhắc lịch").to_dict(), now=chat.clock.now()
        )
        await uow.commit()
    card = inbox.last(QLTT)
    await member(chat, "qltt-1", QLTT).press_on(card, "Tiếp nhận")
    await deliver_as_leader(chat, inbox)
    [notice] = unreachable_notices(inbox, QLTT)
    assert "đã chặn trợ lý" in notice.text and "ẩn danh" in notice.text and f"/tracuu {code}" in notice.text
    assert notice.labels == []  # nothing to reveal

    # Temporary failures until the attempts run out (one here: the test clock stands still): told too, once.
    inbox.failing["u1"] = TemporaryFailure("HTTP 502")
    await member(chat, "qltt-1", QLTT).press_on(card, "Nhận xử lý")
    quick = SenderOptions(batch=50, concurrency=4, flush_interval=0.02, idle_poll=0.02, max_attempts=1)
    await deliver_as_leader(chat, inbox, quick)
    notices = unreachable_notices(inbox, QLTT)
    assert len(notices) == 2 and "gửi nhiều lần qua console nhưng không thành công" in notices[-1].text


async def test_the_notice_is_written_once_with_the_mark_even_when_a_flush_fails(chat: ChatHarness, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    inbox = await reporter_blocks_then_staff_acknowledge(chat)
    real = handlers.cases.on_undelivered
    calls = 0

    async def flaky(uow, config, failures, now):
        nonlocal calls
        calls += 1
        queued = await real(uow, config, failures, now)
        if calls == 1:  # the database goes away after the notice was queued, before the commit
            raise OperationalError("COMMIT", {}, Exception("connection lost"))
        return queued

    monkeypatch.setattr(handlers.cases, "on_undelivered", flaky)
    await deliver_as_leader(chat, inbox)
    assert calls == 2 and inbox.tries["u1"] == 1
    assert len(unreachable_notices(inbox, QLTT)) == 1
    [failed] = [r for r in await outbox_rows(chat, "case_notice") if r.status == "failed"]
    assert failed.last_error.startswith("unreachable")


async def test_a_broken_hook_never_stalls_the_sender(chat: ChatHarness, caplog) -> None:
    inbox = await reporter_blocks_then_staff_acknowledge(chat)
    app = chat.app

    async def broken(uow, failures, now):
        raise RuntimeError("a bug")

    sender = OutboxSender(
        app.db, {CHANNEL: inbox.deliver}, edits={CHANNEL: inbox.edit}, clock=chat.clock, codec=app.codec,
        options=FAST, on_undelivered=broken,
    )  # fmt: skip
    await asyncio.wait_for(sender.run(until_empty=True), 10)
    assert "the undelivered hook failed" in caplog.text
    assert [r.status for r in await outbox_rows(chat, "case_notice")] == ["failed"]
    assert sender.stats.failed == 1 and sender.stats.sent >= 1  # the card edit went out and was recorded
