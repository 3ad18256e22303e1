"""Staff routing and case handling through the test channel: reporters and staff in one conversation.

The rig (tests/support/cases.py): a staffed configuration (agency groups on the test channel), an inbox that plays
the channel's part for the real outbox sender (numbered messages, edits in place), and staff members who write in
a group chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.cases.intake import route_pending
from handlers.cases.sla import check_sla
from handlers.clock import as_utc
from storage.db import Database
from tests.support.cases import (
    HOI,
    QLTM,
    QLTT,
    TTS,
    Inbox,
    audit,
    cases_config,
    deliver,
    later,
    member,
    outbox_rows,
    the_case,
)
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import file_report, submit, to_photos
from tests.support.images import jpeg


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
