"""The text-safety helpers and what they protect: numbers typed in other scripts, control characters, contacts
inside free text, formulas in spreadsheets, and people understood in their own words."""

from __future__ import annotations

import pytest

from handlers.text_safety import (
    ascii_int,
    clean_text,
    find_link,
    mask_contacts,
    spreadsheet_cell,
    visible_length,
    vn_number,
)
from handlers.types import MediaRef, MessageKind
from tests.support.chat import ChatHarness
from tests.support.complaints import submit, to_photos, to_summary
from tests.support.images import jpeg

OTHER_DIGITS = ["²", "①", "٣", "፩", "１２", "߃", "𝟘"]


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_only_ascii_digits_make_a_number(text: str) -> None:
    assert ascii_int(text) is None
    assert ascii_int(" 12 ") == 12 and ascii_int("-1") is None and ascii_int("") is None and ascii_int(None) is None


def test_control_characters_and_lone_surrogates_are_dropped() -> None:
    assert clean_text("Shop\x00 Hoa\ud800\x1b[31m") == "Shop Hoa[31m"
    assert clean_text("dòng 1\r\ndòng 2\tcột") == "dòng 1\ndòng 2\tcột"
    clean_text("a\udfff").encode("utf-8")  # encodes: no UnicodeEncodeError


def test_contacts_in_free_text_are_masked() -> None:
    masked = mask_contacts("gọi tôi 0987654321, 0987 654 321, +84 987.654.321 hoặc an.nguyen@gmail.com")
    assert masked == "gọi tôi 09xx xxx 321, 09xx xxx 321, 09xx xxx 321 hoặc a***@gmail.com"
    untouched = "PA-7K3Q-9M ngày 27/11/2024 lúc 09:00, giá 1.250.000 đ, mã đơn 2411270012"
    assert mask_contacts(untouched) == untouched


def test_formula_cells_are_written_as_text() -> None:
    assert [spreadsheet_cell(v) for v in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "ok", 5, None]] == [
        "'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", 5, None,
    ]  # fmt: skip


def test_links_lengths_and_numbers() -> None:
    assert find_link("link đây nè https://shopee.vn/shop-hoa?x=1.") == "https://shopee.vn/shop-hoa?x=1"
    assert find_link("shopee.vn/shop-hoa") == "shopee.vn/shop-hoa" and find_link("link đây nè") is None
    assert visible_length("🌸🌸") == 2 and visible_length(" .. ") == 0
    assert vn_number(6646) == "6.646"


# -- in conversation ------------------------------------------------------------------------------------------


async def test_other_digits_and_control_characters_at_every_numbered_step(chat: ChatHarness) -> None:
    an = chat.person(name="An\x00 ²")
    await an.say("/phananh")
    for text in [*OTHER_DIGITS, "\x00", "\ud800"]:
        await an.say(text)
        assert "Xin lỗi" not in an.text and "vấn đề" in an.text
    await an.press("Hàng giả")
    await an.press("Shopee")
    await an.say("Shop\x00 Hoa\ud800")  # NUL in a seller name: stored without it (PostgreSQL refuses NUL)
    assert "đường link" in an.text


async def test_a_report_with_nul_everywhere_is_stored(db_url: str) -> None:
    from tests.support.chat import DEFAULT_NOW

    async with ChatHarness.create(db_url, now=DEFAULT_NOW) as chat:
        an = chat.person(name="An\x00")
        await to_photos(an, seller="Shop\x00 Hoa", product="Son\x00 môi")
        ref = MediaRef("p1", size=None, file_name="a\x00.jpg")
        chat.files["p1"] = jpeg("nul")
        await an.send_photo(ref, caption="ảnh\x00")
        await an.press("Xong")
        await to_summary(an)
        code = await submit(an)
        async with chat.app.db.unit_of_work() as uow:
            row = await uow.complaints.get(code)
        assert row.seller == "Shop Hoa" and row.product == "Son môi" and row.reporter_name == "An"


async def test_people_are_understood_in_their_own_words(chat: ChatHarness) -> None:
    cases = {
        "còn bao lâu nữa tới online friday": "Online Friday",
        "con bao lau nua toi online friday": "Còn",
        "nhắc tôi khi bắt đầu": "tư cách nào",
        "tắt thông báo đi": "chưa bật nhắc lịch",
        "tôi muốn phản ánh hàng kém chất lượng": "ghi nhận vấn đề: Hàng kém chất lượng",
        "toi muon phan anh hang gia": "ghi nhận vấn đề: Hàng giả",
        "tôi muốn phản ánh khuyến mại ảo": "ghi nhận vấn đề: Vi phạm khuyến mại",
        "tôi muốn phản ánh hàng giả kém chất lượng": "vấn đề gì",  # two kinds named: asked
    }
    for i, (text, expected) in enumerate(cases.items()):
        person = chat.person(f"w{i}")
        await person.say(text)
        assert expected in person.text, (text, person.text)


async def test_a_named_kind_is_chosen_and_can_be_changed(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("Tôi muốn phản ánh hàng kém chất lượng")
    assert "Bạn mua hàng ở đâu" in an.text and "⬅️ Quay lại" in an.labels
    await an.press("Quay lại")
    assert "vấn đề gì" in an.text
    await an.press("Hàng giả")
    assert "Bạn mua hàng ở đâu" in an.text


async def test_the_link_step_wants_a_link_or_none(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/phananh")
    await an.press("Hàng giả")
    await an.press("Shopee")
    await an.say("🌸🌸")  # two emoji are a name
    assert "đường link" in an.text
    await an.say("link đây nè")
    assert "chưa thấy đường link" in an.text
    await an.say("link đây nè https://shopee.vn/hoa-hong")
    assert "Sản phẩm" in an.text
    await an.press("Quay lại")
    await an.say("không có")
    assert "Sản phẩm" in an.text


async def test_a_long_description_is_kept_up_to_the_limit(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.press("Quay lại")
    long_text = ("Son bị chảy, mùi lạ, vỏ hộp in sai chính tả. " * 120)[:5000]
    await an.say(long_text)
    assert "4.096 ký tự đầu" in an.text and "giữ" in an.text and "gửi ảnh" in an.text
    await an.press("Bỏ qua")
    await to_summary(an)
    code = await submit(an)
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
    assert 1900 < len(row.description) <= 2000 and long_text.startswith(row.description)


async def test_deleting_photos_asks_first_and_can_take_out_one(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    for i in range(3):
        await an.send_photo(chat.serve(f"f{i}", jpeg(f"del-{i}")))
    await an.say("Xóa ảnh")
    assert "bỏ ảnh nào" in an.text and "Ảnh 2" in an.labels
    await an.press("Ảnh 2")
    assert "Đã bỏ ảnh 2; còn 2 ảnh" in an.text
    await an.say("xóa ảnh")
    await an.press("Giữ nguyên")
    assert "giữ nguyên" in an.text
    await an.say("xoá ảnh 1")  # typed with its number: that one, at once
    assert "còn 1 ảnh" in an.text
    await an.press("Xong")
    await to_summary(an)
    assert "• Ảnh: 1 ảnh" in an.text


async def test_a_sticker_mid_report_is_not_a_crash(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.send_kind(MessageKind.STICKER)
    assert "Xin lỗi" not in an.text
