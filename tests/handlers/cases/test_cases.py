"""Staff routing and case handling through the test channel: reporters and staff in one conversation.

The rig (tests/support/cases.py): a staffed configuration (agency groups on the test channel), an inbox that plays
the channel's part for the real outbox sender (numbered messages, edits in place), and staff members who write in
a group chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

import handlers.cases
import handlers.complaints
from bot.channels.base import OutsideMessagingWindow, TemporaryFailure, Unreachable
from bot.leader import Leader, Timing
from bot.sender import OutboxSender, SenderOptions
from handlers.cases.intake import route_pending
from handlers.cases.posting import alert_lost_chats
from handlers.cases.sla import check_sla
from handlers.clock import as_utc
from handlers.features import load_features
from handlers.jobs import Intervals
from handlers.types import Reply
from storage.cases import CaseMessageKind
from storage.db import Database
from tests.support.cases import (
    FAST,
    HOI,
    QLTM,
    QLTT,
    TTS,
    FlakyInbox,
    Inbox,
    Sent,
    audit,
    cases_config,
    deliver,
    deliver_as_leader,
    member,
    outbox_rows,
    the_case,
)
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report, submit, to_photos
from tests.support.images import jpeg


def later(chat: ChatHarness, **delta) -> None:
    chat.clock.advance(timedelta(**delta))


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=cases_config()) as harness:
        yield harness


# -- the whole way: report, card, acknowledge, ask for more, answer with a photo, reply, resolve --------------


async def test_a_counterfeit_report_is_handled_by_market_surveillance_and_the_reporter_hears_each_step(
    chat: ChatHarness,
) -> None:
    inbox = Inbox()
    an = chat.person("u1", name="An")
    code = await file_report(an)
    await deliver(chat, inbox)

    [card] = inbox.to(QLTT)
    assert f"PHẢN ÁNH {code} — Cục QLTT chủ trì" in card.text
    for field_text in ("Hàng giả / hàng nhái", "Shop Mỹ Phẩm Hoa Hồng — Shopee", "Son môi Dior", "Thành phố Đồng Xoài"):
        assert field_text in card.text
    assert "An · console" in card.text and "09xx xxx 678" in card.text and "0912 345 678" not in card.text
    assert "Trạng thái: 🆕 Mới" in card.text
    for label in ("Tiếp nhận", "Nhận xử lý", "Phân công", "Chuyển cơ quan", "Yêu cầu bổ sung",
                  "Trả lời người phản ánh", "Hoàn tất", "Từ chối", "Xem liên hệ"):  # fmt: skip
        card.button(label)
    [copy] = inbox.to(QLTM)
    assert copy.text.startswith(f"📋 BẢN SAO — PHẢN ÁNH {code}") and copy.labels == ["👀 Đã nắm thông tin"]
    assert len(inbox.to(HOI)) == 1 and inbox.to(TTS) == []  # the association gets a copy; the inspectorate not
    assert "Ẩn danh" not in card.text

    son = member(chat, "qltt-1", QLTT, "Sơn")
    await son.press_on(card, "Tiếp nhận")
    assert son.last[0].alert and f"Đã tiếp nhận {code}" in son.text
    await deliver(chat, inbox)
    assert "Trạng thái: 📥 Đã tiếp nhận" in card.text and "Tiếp nhận — Trần Văn Sơn" in card.text
    assert "Tiếp nhận" not in [label.split(" ", 1)[1] for label in card.labels]
    assert "Đã tiếp nhận" in copy.text and copy.edits  # copies follow the case too
    [notice] = inbox.to("u1")
    assert f"Phản ánh {code} của bạn đã được Cục Quản lý thị trường tỉnh Bình Phước tiếp nhận" in notice.text

    await son.press_on(card, "Yêu cầu bổ sung")
    assert "nhập nội dung cần người phản ánh bổ sung" in son.text
    await son.say("Bạn chụp giúp hóa đơn hoặc ảnh đơn hàng trên Shopee nhé")
    assert "Đã gửi yêu cầu bổ sung" in son.text
    await deliver(chat, inbox)
    request = inbox.last("u1")
    assert "đề nghị bạn bổ sung thông tin" in request.text and "hóa đơn" in request.text
    assert "Trần Văn Sơn" not in request.text and "Sơn" not in request.text
    assert "Chờ người phản ánh bổ sung" in card.text

    await an.press_raw(request.button("Bổ sung thông tin").payload)
    assert f"phản ánh {code}" in an.text
    photo = jpeg("receipt")
    await an.send_photo(chat.serve("receipt", photo), caption="Hóa đơn đây ạ")
    assert "Đã thêm 1 ảnh" in an.text
    await an.press("Xong")
    await deliver(chat, inbox)
    relay = inbox.last(QLTT)
    assert relay is not card and f"➕ {code}" in relay.text and "Hóa đơn đây ạ" in relay.text
    assert relay.reply.reply_to == card.message_id  # under the card
    assert [Path(p).read_bytes() for p in relay.reply.photos] == [photo]
    assert "Trạng thái: 🔎 Đang xử lý" in card.text

    await son.reply_to(relay, "Cảm ơn bạn, chúng tôi đã nhận hóa đơn và sẽ kiểm tra cửa hàng.")
    assert "Đã gửi trả lời tới người phản ánh" in son.text
    await deliver(chat, inbox)
    answer = inbox.last("u1")
    assert answer.text.startswith("💬 Cục Quản lý thị trường tỉnh Bình Phước trả lời về phản ánh")
    assert "sẽ kiểm tra cửa hàng" in answer.text and "Sơn" not in answer.text

    await son.press_on(card, "Hoàn tất")
    assert "chọn lý do «Hoàn tất»" in son.text
    await son.say("Đã xử phạt")  # a reason of its own, typed
    await son.say("Đã kiểm tra, thu giữ 120 thỏi son giả và xử phạt cửa hàng.")
    assert f"Đã hoàn tất {code}" in son.text
    await deliver(chat, inbox)
    done, question = inbox.to("u1")[-2:]
    assert "đã được Cục Quản lý thị trường tỉnh Bình Phước xử lý xong (Đã xử phạt)" in done.text
    assert "120 thỏi" in done.text
    assert "đã được giải quyết chưa" in question.text and len(question.labels) == 3
    assert "Trạng thái: ✅ Đã hoàn tất" in card.text and "Kết quả: Đã kiểm tra" in card.text
    assert card.labels == ["📞 Xem liên hệ"]  # closed: only the contact stays
    assert copy.labels == []

    await an.say(f"/tracuu {code}")
    assert "Trạng thái: Đã xử lý xong" in an.text
    for line in ("Đã được Cục Quản lý thị trường tỉnh Bình Phước tiếp nhận", "đề nghị bổ sung thông tin",
                 "Người phản ánh bổ sung 1 ảnh", "đã trả lời", "đã xử lý xong"):  # fmt: skip
        assert line in an.text

    trail = await audit(chat, code)
    assert [a.action for a in trail] == ["routed", "ack", "more", "reporter_added", "reply", "resolve"]
    ack = trail[1]
    assert (ack.actor_name, ack.actor_agency, ack.actor_role) == ("Trần Văn Sơn", "qltt", "agent")
    assert (ack.before["status"], ack.after["status"]) == ("new", "acknowledged")
    assert trail[3].before["status"] == "waiting_reporter" and trail[3].after["status"] == "in_progress"
    assert trail[-1].note.startswith("Lý do: Đã xử phạt. Đã kiểm tra") and trail[-1].after["status"] == "resolved"
    case = await the_case(chat, code)
    assert case.acknowledged_at is not None and case.closed_at is not None and case.sla_next_at is None


# -- transfer ------------------------------------------------------------------------------------------------


async def test_a_transfer_moves_the_case_to_another_agency(chat: ChatHarness) -> None:
    inbox = Inbox()
    an = chat.person("u1", name="An")
    code = await file_report(an)
    await deliver(chat, inbox)
    card = inbox.last(QLTT)
    son = member(chat, "qltt-1", QLTT)
    await son.press_on(card, "Chuyển cơ quan")
    assert f"Chuyển {code} cho cơ quan nào?" in son.text
    choices = son.buttons
    assert "Cục QLTT" not in [b.label for b in choices] and "Thanh tra Sở" in [b.label for b in choices]
    await son.press("Thanh tra Sở")
    assert "nhập lý do chuyển" in son.text
    await son.say("Son môi kém chất lượng chứ không phải hàng giả; thuộc thẩm quyền Thanh tra Sở")
    assert f"Đã chuyển {code} cho Thanh tra Sở Công Thương" in son.text
    await deliver(chat, inbox)

    assert "đã chuyển cho Thanh tra Sở Công Thương" in card.text and card.labels == []
    [new_card] = inbox.to(TTS)
    assert f"PHẢN ÁNH {code} — Thanh tra Sở chủ trì" in new_card.text and "Được chuyển đến" in new_card.text
    assert "Tiếp nhận" in " ".join(new_card.labels)
    moved = inbox.last("u1")
    assert "đã được chuyển tới Thanh tra Sở Công Thương" in moved.text
    case = await the_case(chat, code)
    assert (case.lead, case.status, case.sla_epoch) == ("thanh-tra-so", "transferred", 1)
    assert case.ack_due is not None

    # The former lead can no longer act, even with the old card's buttons.
    await son.press_raw(card.reply.flat_buttons()[0].payload)
    assert son.last[0].alert and "do Thanh tra Sở Công Thương chủ trì" in son.text
    em = member(chat, "tts-1", TTS)
    await em.press_on(new_card, "Tiếp nhận")
    assert f"Đã tiếp nhận {code}" in em.text
    await deliver(chat, inbox)
    assert "đã được Thanh tra Sở Công Thương tiếp nhận" in inbox.last("u1").text
    trail = await audit(chat, code)
    transfer = next(a for a in trail if a.action == "transfer")
    assert (transfer.before["lead"], transfer.after["lead"]) == ("qltt", "thanh-tra-so")
    assert "thẩm quyền Thanh tra Sở" in transfer.note
    assert [a.action for a in trail][-2:] == ["refused", "ack"]
    await an.say(f"/tracuu {code}")
    assert "Được chuyển tới Thanh tra Sở Công Thương để xử lý theo thẩm quyền" in an.text


# -- who may press what --------------------------------------------------------------------------------------


async def test_strangers_copies_and_forged_buttons_are_refused(chat: ChatHarness, caplog) -> None:
    inbox = Inbox()
    code = await file_report(chat.person("u1", name="An"))
    await deliver(chat, inbox)
    card, copy = inbox.last(QLTT), inbox.last(QLTM)
    ack = card.button("Tiếp nhận").payload

    stranger = member(chat, "u9", QLTT, "Người lạ")
    with caplog.at_level("WARNING"):
        await stranger.press_raw(ack)
    assert stranger.last[0].alert and "Chỉ cán bộ được phân công" in stranger.text
    assert "refused case action" in caplog.text
    await stranger.reply_to(card, "Tôi muốn trả lời người phản ánh")
    assert "Chỉ cán bộ được phân công" in stranger.text

    dung = member(chat, "qltm-2", QLTM)  # staff of a copy agency
    await dung.press_raw(ack)
    assert "do Cục Quản lý thị trường tỉnh Bình Phước chủ trì" in dung.text
    await dung.reply_to(copy, "Chúng tôi đã nắm")
    assert "chủ trì" in dung.text
    await dung.press_on(copy, "Đã nắm thông tin")
    assert "Phòng QLTM đã nắm thông tin" in dung.text

    forged = ack.rsplit("~", 1)[0] + "~AAAAAAAA"
    son = member(chat, "qltt-1", QLTT)
    with caplog.at_level("WARNING"):
        await son.press_raw(forged)
    assert "không hợp lệ" in son.text and "forged" in caplog.text
    await son.press_raw(ack.rsplit("~", 1)[0].replace(":ack:", ":done:") + "~" + ack.rsplit("~", 1)[1])
    assert "không hợp lệ" in son.text  # a valid signature does not carry over to another payload

    await son.press_on(card, "Phân công")  # an agent may not assign
    assert "Chỉ lãnh đạo" in son.text
    cuc = member(chat, "qltt-2", QLTT)
    await cuc.press_on(card, "Phân công")
    assert f"Phân công {code} cho" in cuc.text
    await cuc.press("Trần Văn Sơn")
    assert "Đã phân công" in cuc.text and "Trần Văn Sơn" in cuc.text
    await deliver(chat, inbox)
    assert "Phụ trách: Trần Văn Sơn" in card.text and "Trạng thái: 🔎 Đang xử lý" in card.text
    assert "đang được Cục Quản lý thị trường tỉnh Bình Phước xác minh" in inbox.last("u1").text

    case = await the_case(chat, code)
    assert case.status == "in_progress"
    trail = await audit(chat, code)
    refused = [a for a in trail if a.action == "refused"]
    assert len(refused) == 5
    assert {a.actor_user_id for a in refused} == {"u9", "qltm-2", "qltt-1"}
    assert [a.action for a in trail if a.action != "refused"] == ["routed", "copy_seen", "assign"]


async def test_the_contact_is_shown_only_to_the_presser_and_recorded(chat: ChatHarness) -> None:
    inbox = Inbox()
    code = await file_report(chat.person("u1", name="An"))
    await deliver(chat, inbox)
    son = member(chat, "qltt-1", QLTT)
    await son.press_on(inbox.last(QLTT), "Xem liên hệ")
    [shown] = son.last
    assert shown.alert and "0912 345 678" in shown.text and "(An)" in shown.text
    dung = member(chat, "qltm-2", QLTM)
    await dung.press_raw(inbox.last(QLTT).button("Xem liên hệ").payload)
    assert "0912" not in dung.text and "chủ trì" in dung.text
    viewed = [a for a in await audit(chat, code) if a.action == "contact_viewed"]
    assert [(a.actor_user_id, a.actor_name) for a in viewed] == [("qltt-1", "Trần Văn Sơn")]
    await deliver(chat, inbox)
    assert len(inbox.to("qltt-1")) == 0  # nothing was posted anywhere, not even privately


async def test_a_reporter_who_stays_anonymous_is_never_revealed(chat: ChatHarness) -> None:
    inbox = Inbox()
    an = chat.person("u1", name="An")
    await to_photos(an)
    await an.press("Bỏ qua")
    await an.press("Đồng Xoài")
    await an.press("Gửi ẩn danh")
    code = await submit(an)
    await deliver(chat, inbox)
    card = inbox.last(QLTT)
    assert "Ẩn danh · console" in card.text and "An ·" not in card.text and "Xem liên hệ" not in card.labels
    son = member(chat, "qltt-1", QLTT)
    await son.press_on(card, "Trả lời người phản ánh")
    await son.say("Cảm ơn bạn đã phản ánh, chúng tôi đang xác minh.")
    await deliver(chat, inbox)
    assert "đang xác minh" in inbox.last("u1").text  # the answer still reaches the reporter's chat
    assert code in inbox.last("u1").text


# -- SLA -----------------------------------------------------------------------------------------------------


async def sla_rows(chat: ChatHarness) -> list[tuple[str, str]]:
    return [(r.kind, r.chat_id) for r in await outbox_rows(chat) if r.kind in ("case_reminder", "case_escalation")]


async def test_reminder_then_escalation_exactly_once_also_after_a_restart(chat: ChatHarness, sqlite_url: str) -> None:
    inbox = Inbox()
    code = await file_report(chat.person("u1", name="An"))
    await deliver(chat, inbox)
    app = chat.app
    case = await the_case(chat, code)
    submitted = DEFAULT_NOW
    assert as_utc(case.ack_due) == submitted + timedelta(hours=12)  # counterfeit goods: 12 h to acknowledge
    assert as_utc(case.resolve_due) == submitted + timedelta(hours=72)

    assert await check_sla(app.db, app.config, chat.clock.now()) == {}
    later(chat, hours=12, minutes=1)
    assert await check_sla(app.db, app.config, chat.clock.now()) == {"ack_reminder": 1}
    assert await check_sla(app.db, app.config, chat.clock.now()) == {}
    await deliver(chat, inbox)
    reminder = inbox.last(QLTT)
    assert (
        reminder.text.startswith(f"⏰ Nhắc: phản ánh {code}")
        and reminder.reply.reply_to == inbox.to(QLTT)[0].message_id
    )

    later(chat, hours=4)
    restarted = Database(sqlite_url)  # another process on the same database, or this one after a restart
    try:
        assert await check_sla(restarted, app.config, chat.clock.now()) == {"ack_escalation": 1}
        assert await check_sla(restarted, app.config, chat.clock.now()) == {}
    finally:
        await restarted.dispose()
    assert await check_sla(app.db, app.config, chat.clock.now()) == {}
    await deliver(chat, inbox)
    escalation = inbox.last(QLTM)
    assert "Cảnh báo quá hạn" in escalation.text and "chưa được tiếp nhận" in escalation.text
    # The coordinator's group, the lead's supervisor and every admin (privately); not the agent.
    assert sorted(await sla_rows(chat)) == sorted(
        [("case_reminder", QLTT), ("case_escalation", QLTM), ("case_escalation", "qltt-2"),
         ("case_escalation", "qltm-1")]
    )  # fmt: skip

    son = member(chat, "qltt-1", QLTT)
    await son.press_on(inbox.to(QLTT)[0], "Tiếp nhận")
    later(chat, hours=60)  # past the time to resolve
    assert await check_sla(app.db, app.config, chat.clock.now()) == {"resolve_escalation": 1}
    assert await check_sla(app.db, app.config, chat.clock.now()) == {}
    rows = await sla_rows(chat)
    assert rows.count(("case_escalation", QLTT)) == 1 and len(rows) == 8
    actions = [a.action for a in await audit(chat, code)]
    assert actions.count("sla_ack_reminder") == actions.count("sla_ack_escalation") == 1
    assert (await the_case(chat, code)).sla_next_at is None


async def test_acknowledging_in_time_means_no_reminder(chat: ChatHarness) -> None:
    inbox = Inbox()
    code = await file_report(chat.person("u1"))
    await deliver(chat, inbox)
    await member(chat, "qltt-1", QLTT).press_on(inbox.last(QLTT), "Tiếp nhận")
    later(chat, hours=20)
    assert await check_sla(chat.app.db, chat.app.config, chat.clock.now()) == {}
    assert as_utc((await the_case(chat, code)).sla_next_at) == DEFAULT_NOW + timedelta(hours=72)


# -- digests of a long queue, and routing that never half-saves ------------------------------------------


async def test_a_long_queue_is_folded_into_digests_and_a_card_can_be_opened(sqlite_url: str) -> None:
    config = cases_config(digest_after=2, digest_size=3, digest_wait_seconds=60)
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=config) as chat:
        inbox = Inbox()
        codes = [await file_report(chat.person(f"r{i}", name=f"Người {i}")) for i in range(6)]
        stats = await route_pending(chat.app.db, chat.app.config, chat.clock.now(), media=chat.app.media)
        assert stats.routed == 6 and stats.cases == codes
        kinds = [r.kind for r in await outbox_rows(chat) if r.chat_id == QLTT]
        assert kinds == ["case_card", "case_card", "case_digest", "case_digest"]
        await deliver(chat, inbox, route=False)
        assert len(inbox.to(QLTT)) == 2  # the digests wait to collect more
        later(chat, seconds=61)
        await deliver(chat, inbox, route=False)
        first, second = inbox.to(QLTT)[2:]
        assert "3 phản ánh mới cho Cục QLTT" in first.text and "1 phản ánh mới" in second.text
        assert all(code in first.text for code in codes[2:5]) and codes[5] in second.text
        assert [b.label for b in first.current.flat_buttons()] == [f"📋 {code}" for code in codes[2:5]]

        son = member(chat, "qltt-1", QLTT)
        await son.reply_to(first, "Ai nhận giúp mấy phản ánh này?")
        assert "gộp nhiều phản ánh" in son.text
        await son.press_on(first, codes[3])
        assert f"Đang gửi thẻ {codes[3]}" in son.text
        await son.press_on(first, codes[3])
        assert "đã được gửi trong nhóm" in son.text
        await deliver(chat, inbox, route=False)
        card = inbox.last(QLTT)
        assert f"PHẢN ÁNH {codes[3]} — Cục QLTT chủ trì" in card.text
        await son.press_on(card, "Nhận xử lý")
        await deliver(chat, inbox, route=False)
        assert "Phụ trách: Trần Văn Sơn" in card.text and card.edits
        hoi = [s for s in inbox.to(HOI)]
        assert len(hoi) == 4 and "(bản sao)" in hoi[2].text


async def test_routing_is_all_or_nothing_and_happens_once(chat: ChatHarness, monkeypatch) -> None:
    import handlers.cases.posting as cases_module

    code = await file_report(chat.person("u1"))
    app = chat.app
    calls = 0
    original = cases_module.post_card

    async def broken(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:  # the lead's card is written, then the first copy fails
            raise RuntimeError("disk full")
        return await original(*args, **kwargs)

    monkeypatch.setattr(cases_module, "post_card", broken)
    stats = await route_pending(app.db, app.config, chat.clock.now(), media=app.media)
    assert stats.routed == 0
    async with app.db.unit_of_work() as uow:
        assert await uow.cases.by_code(code) is None
    assert [r.kind for r in await outbox_rows(chat)] == ["complaint_submitted"]  # no card without its case
    [source] = await outbox_rows(chat, "complaint_submitted")
    assert source.status == "pending" and source.attempts == 1 and "disk full" in source.last_error

    monkeypatch.setattr(cases_module, "post_card", original)
    later(chat, minutes=1)
    assert (await route_pending(app.db, app.config, chat.clock.now(), media=app.media)).routed == 1
    assert (await route_pending(app.db, app.config, chat.clock.now(), media=app.media)).routed == 0
    assert [r.kind for r in await outbox_rows(chat) if r.kind.startswith("case")] == [
        "case_card",
        "case_copy",
        "case_copy",
    ]


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
