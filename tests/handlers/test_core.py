"""The conversation core, driven through the test channel like a chat."""

from __future__ import annotations

import logging
from datetime import timedelta

from handlers.types import MediaRef, MessageKind
from tests.support.chat import DEFAULT_NOW, ChatHarness

MENU = [
    "Hỏi đáp về khuyến mại",
    "Phản ánh hàng giả / hàng kém chất lượng",
    "Đếm ngược Online Friday",
    "Tra cứu phản ánh",
    "Liên hệ",
]


async def test_start_greets_and_shows_the_menu(chat: ChatHarness) -> None:
    an = chat.person(name="An")
    await an.say("/start")
    assert "Xin chào An!" in an.text
    assert "Sở Công Thương tỉnh Bình Phước" in an.text
    for item in MENU:
        assert any(item in label for label in an.labels), item


async def test_help_lists_commands(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/help")
    for command in ("/start", "/phananh", "/tracuu", "/demnguoc", "/cancel"):
        assert command in an.text


async def test_the_report_and_track_menu_items_open_their_flows(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/start")
    await an.press("Tra cứu phản ánh")
    assert "mã phản ánh" in an.text and "đang được hoàn thiện" not in an.text
    await an.say("/start")
    await an.press("Phản ánh hàng giả")
    assert "vấn đề gì" in an.text and "đang được hoàn thiện" not in an.text


async def test_typed_menu_label_without_diacritics_acts_like_the_button(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("lien he")
    assert "1800 6838" in an.text


async def test_unknown_input_gets_a_useful_answer_with_the_menu(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/khongcolenhnay")
    assert "chưa biết lệnh /khongcolenhnay" in an.text
    assert len(an.labels) == 6  # the main menu (with «Kiểm tra chương trình khuyến mại»)
    await an.say("asdkjh qwe")
    assert "chưa chắc đã hiểu" in an.text or "chưa có thông tin" in an.text
    assert any("gửi câu hỏi cho cán bộ" in label for label in an.labels)


async def test_bad_input_gets_clear_vietnamese_replies(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("   ")
    assert "chưa nhận được nội dung" in an.text
    await an.say("a" * 4097)
    assert "dài quá" in an.text and "4.096" in an.text
    await an.send_kind(MessageKind.STICKER)
    assert "nhãn dán" in an.text
    await an.send_kind(MessageKind.DOCUMENT, document=MediaRef("f1", file_name="x.pdf"))
    assert "tệp" in an.text


async def test_forged_and_garbled_button_data_is_refused(chat: ChatHarness, caplog) -> None:
    an = chat.person()
    with caplog.at_level(logging.WARNING):
        await an.press_raw("menu:contact~AAAAAAAA")
    assert "không hợp lệ" in an.text
    assert "forged" in caplog.text
    await an.press_raw("garbage")
    assert "không hợp lệ" in an.text


async def test_buttons_carry_short_signed_payloads(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/start")
    for reply in an.last:
        for button in reply.flat_buttons():
            assert len(button.payload.encode()) <= 64
            assert "~" in button.payload


async def test_profile_flow_with_back_and_free_text(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/vaitro")
    assert "vai trò nào" in an.text
    await an.say("toi la nguoi ban hang")  # free text where buttons are offered
    assert "hình thức nào" in an.text
    await an.press("Quay lại")
    assert "vai trò nào" in an.text
    await an.press("Thương nhân")
    await an.say("9")
    assert "chưa rõ hình thức" in an.text  # invalid answer explained and asked again
    await an.press("Hộ kinh doanh")
    assert "Hộ kinh doanh" in an.text and "Lưu" in an.labels[0]
    await an.press("Lưu")
    assert "Đã lưu" in an.text
    async with chat.app.db.unit_of_work() as uow:
        user = await uow.users.get("console", an.user_id)
    assert user is not None and user.role == "merchant" and user.business_kind == "household"


async def test_cancel_works_in_a_flow_by_command_and_by_word(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/vaitro")
    await an.say("Hủy")
    assert "Đã hủy" in an.text
    await an.say("1")  # no flow any more: plain text
    assert "vai trò" not in an.text
    await an.say("/vaitro")
    await an.say("/cancel")
    assert "Đã hủy" in an.text
    await an.say("/cancel")
    assert "không có thao tác" in an.text


async def test_a_pressed_button_from_a_finished_step_is_stale(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/vaitro")
    old = list(an.buttons)
    await an.say("/cancel")
    await an.press_raw(old[0].payload)
    assert "bước đã qua" in an.text


async def test_conversations_are_per_user_and_per_chat(chat: ChatHarness) -> None:
    an, binh = chat.person("u1"), chat.person("u2")
    an_in_group = chat.person("u1", chat_id="-100")
    await an.say("/vaitro")
    await binh.say("1")
    assert "vai trò nào" not in binh.text
    await an_in_group.say("1")
    assert "hình thức nào" not in an_in_group.text
    await an.say("1")
    assert "hình thức nào" in an.text


async def test_state_survives_a_restart(sqlite_url: str) -> None:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as first:
        an = first.person()
        await an.say("/vaitro")
        await an.say("1")
        assert "hình thức nào" in an.text
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as second:
        an = second.person()
        await an.say("2")
        assert "Hộ kinh doanh" in an.text and "Lưu" in an.text


async def test_a_stale_conversation_expires(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/vaitro")
    chat.clock.advance(timedelta(minutes=31))
    await an.say("1")
    assert "hết hạn" in an.text
    assert "hình thức nào" not in an.text


async def test_a_failing_handler_apologises_logs_once_and_keeps_state(chat: ChatHarness, caplog) -> None:
    an = chat.person()
    await an.say("/vaitro")
    await an.say("1")
    flow = chat.app.dispatcher.router.flows["profile"]
    original = flow.handle

    async def broken(ctx):
        ctx.user.display_name = "changed inside the failing step"
        raise RuntimeError("boom")

    flow.handle = broken
    with caplog.at_level(logging.ERROR):
        await an.say("2")
    assert "Xin lỗi" in an.text
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is not None
    flow.handle = original
    async with chat.app.db.unit_of_work() as uow:
        user = await uow.users.get("console", an.user_id)
        row = await uow.conversations.get("console", an.chat_id, an.user_id)
    assert user.display_name == "An"
    assert row.step == "business"
    await an.say("2")
    assert "Hộ kinh doanh" in an.text
