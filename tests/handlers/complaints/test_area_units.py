"""The area step under today's Đồng Nai: communes and wards typed (old addresses too), confirmed or chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.chat import DEFAULT_NOW, ChatHarness, Person
from tests.support.complaints import submit, to_photos
from tests.support.configs import dong_nai


@pytest.fixture
async def dn_chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=dong_nai()) as harness:
        yield harness


async def at_area(an: Person) -> None:
    await to_photos(an)
    await an.press("Bỏ qua")
    assert "xã, phường nào" in an.text
    assert len(an.labels) <= 4, an.labels  # «Ngoài tỉnh», back, cancel: never the 95 communes


async def stored_area(chat: ChatHarness, code: str) -> str:
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        assert row is not None
        return row.area


async def finish(an: Person) -> str:
    assert "Số điện thoại" in an.text, an.text
    await an.press("Gửi ẩn danh")
    assert "kiểm tra lại phản ánh" in an.text
    return await submit(an)


async def test_an_old_ward_and_district_is_proposed_and_confirmed(dn_chat: ChatHarness) -> None:
    an = dn_chat.person()
    await at_area(an)
    await an.say("phuong Tan Phu, Dong Xoai")
    assert "Có phải Phường Bình Phước" in an.text and "Phường Tân Phú, Thành phố Đồng Xoài" in an.text
    await an.press("Đúng")
    assert await stored_area(dn_chat, await finish(an)) == "phuong-binh-phuoc"


async def test_a_typed_yes_confirms_and_no_asks_again(dn_chat: ChatHarness) -> None:
    an = dn_chat.person()
    await at_area(an)
    await an.say("Trấn Biên")
    assert "Có phải Phường Trấn Biên" in an.text
    await an.say("không")
    assert "xã, phường nào" in an.text
    await an.say("tran bien")
    await an.press("Quay lại")  # back from the candidates: type the place again
    assert "xã, phường nào" in an.text
    await an.say("tran bien")
    await an.say("có")
    assert await stored_area(dn_chat, await finish(an)) == "phuong-tran-bien"


async def test_an_old_district_offers_its_communes_as_buttons(dn_chat: ChatHarness) -> None:
    an = dn_chat.person()
    await at_area(an)
    await an.say("huyện Lộc Ninh cũ")
    assert "một trong các xã, phường" in an.text and "Huyện Lộc Ninh" in an.text
    assert "Xã Lộc Ninh" in an.labels and len(an.labels) <= 14
    second = an.labels[1]
    await an.say("2")  # a number picks the second candidate (Zalo shows buttons as numbered lines)
    code = await finish(an)
    assert dn_chat.app.config.area(await stored_area(dn_chat, code)).name == second


async def test_outside_the_province_goes_to_the_coordinator_with_a_note(dn_chat: ChatHarness) -> None:
    an = dn_chat.person()
    await at_area(an)
    await an.say("Quận 3, TP Hồ Chí Minh")
    assert "ngoài tỉnh Đồng Nai" in an.text and "Sở Công Thương tỉnh bạn có thể" in an.text
    assert await stored_area(dn_chat, await finish(an)) == "ngoai-tinh"


async def test_the_outside_button_and_nonsense(dn_chat: ChatHarness) -> None:
    an = dn_chat.person()
    await at_area(an)
    await an.say("asdfgh qwerty")
    assert "chưa nhận ra xã, phường" in an.text
    await an.press("Ngoài tỉnh")
    assert "Nghị định 146/2025" in an.text
    assert await stored_area(dn_chat, await finish(an)) == "ngoai-tinh"
