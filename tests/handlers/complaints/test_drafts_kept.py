"""A command or a menu button in the middle of a report keeps the draft (and its photos) and says how to resume."""

from __future__ import annotations

import pytest

from tests.support.chat import ChatHarness
from tests.support.complaints import submit, to_photos, to_summary
from tests.support.images import jpeg

INTERRUPTIONS = ["/start", "/menu", "/demnguoc", "/tracuu", "/hoidap", "/kiemtra"]


@pytest.mark.parametrize("command", INTERRUPTIONS)
async def test_a_command_mid_report_keeps_the_draft_and_its_photo(chat: ChatHarness, command: str) -> None:
    an = chat.person()
    await to_photos(an)
    await an.send_photo(chat.serve("p1", jpeg("kept")))
    await an.say(command)
    assert "vẫn được giữ đến" in an.text and any("Tiếp tục phản ánh đang viết" in label for label in an.labels)
    await an.say("Cho mình hỏi giờ mở cửa")  # free text now is not an answer to the report
    await an.say("/phananh")
    assert "soạn dở" in an.text and "Son môi Dior" in an.text
    await an.press("Tiếp tục")
    assert "gửi ảnh" in an.text or "Xong" in " ".join(an.labels)
    await an.press("Xong")
    await to_summary(an)
    assert "• Ảnh: 1 ảnh" in an.text
    await submit(an)


async def test_the_resume_button_of_the_notice_brings_the_step_back(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("/menu")
    await an.press("Tiếp tục phản ánh đang viết")
    assert "gửi ảnh" in an.text
    await an.press("Bỏ qua")
    await to_summary(an)
    await submit(an)


async def test_a_menu_button_mid_report_keeps_the_draft(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("/menu")
    await an.press("Tra cứu phản ánh")  # another feature's flow starts; the draft set aside rides along
    assert "mã phản ánh" in an.text
    await an.say("hủy")  # leaves the lookup, not the report
    await an.say("/phananh")
    assert "soạn dở" in an.text


async def test_an_explicit_cancel_of_the_resumed_draft_deletes_it(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("/start")
    await an.say("/phananh")
    await an.press("Hủy")
    await an.press("Xóa bản nháp")
    assert "Đã xóa phản ánh" in an.text
    await an.say("/phananh")
    assert "soạn dở" not in an.text and "vấn đề gì" in an.text


async def test_a_draft_set_aside_still_expires_with_a_message(chat: ChatHarness) -> None:
    from datetime import timedelta

    an = chat.person()
    await to_photos(an)
    await an.say("/start")
    chat.clock.advance(timedelta(hours=25))
    await an.say("xin chào")
    assert "quá thời hạn" in an.text
    await an.say("/phananh")
    assert "soạn dở" not in an.text
