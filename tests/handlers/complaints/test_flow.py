"""Consumer complaints with photos, driven through the test channel like a chat."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from handlers.complaints.answers import parse_purchase_date, pick_area
from handlers.phone import format_phone, mask_phone, normalise_phone
from handlers.types import MessageKind
from storage.complaints import Complaint, ComplaintPhoto, ComplaintStatus
from storage.media import MediaStore, MediaTooLarge, NotAnImage, sniff
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import (
    complaint,
    complaint_events,
    count,
    outbox,
    sha,
    submit,
    to_photos,
    to_summary,
)
from tests.support.configs import plan_2024
from tests.support.images import PDF, heic, jpeg, png, webp

# -- the full report -----------------------------------------------------------------------------------


async def test_full_report_with_a_three_photo_album(chat: ChatHarness) -> None:
    an = chat.person(name="An")
    await to_photos(an)
    served = [jpeg(f"album-{i}") for i in range(3)]
    refs = [chat.serve(f"file-{i}", data) for i, data in enumerate(served)]
    replies = []
    for i, ref in enumerate(refs):
        # Items of one album arrive as separate messages; the caption is on the second one.
        replies.append(await an.send_photo(ref, caption="Vỏ hộp in sai" if i == 1 else "", album="album-1"))
    acks = [r for batch in replies for r in batch]
    assert len(acks) == 1, [r.text for r in acks]  # one acknowledgement for the whole album
    assert "Đã nhận" in acks[0].text and "Xong" in acks[0].flat_buttons()[0].label
    assert chat.downloads == ["file-0", "file-1", "file-2"]
    await an.press("Xong")
    assert "địa bàn nào" in an.text
    await to_summary(an)
    assert "• Ảnh: 3 ảnh" in an.text and "Vỏ hộp in sai" in an.text and "0912 345 678" in an.text
    code = await submit(an)
    assert f"/tracuu {code}" in an.text and "1800 6838" in an.text

    row, photos = await complaint(chat, code)
    assert row.status == ComplaintStatus.SUBMITTED and row.category == "hang-gia" and row.platform == "shopee"
    assert row.seller == "Shop Mỹ Phẩm Hoa Hồng" and row.product == "Son môi Dior"
    assert row.purchase_date == date(2024, 11, 26) and row.area == "dong-xoai"
    assert row.phone == "+84912345678" and row.contact_consent and not row.anonymous
    assert row.photo_note == "Vỏ hộp in sai" and row.reporter_name == "An"
    assert [p.sha256 for p in photos] == [sha(data) for data in served]
    store: MediaStore = chat.app.media
    for photo, data in zip(photos, served, strict=True):
        path = store.path(photo.sha256)
        assert path.name == photo.sha256 and sha(path.read_bytes()) == photo.sha256
        assert photo.mime == "image/jpeg" and photo.size == len(data) and photo.platform_file_id.startswith("file-")
    assert not list(store.tmp_dir.iterdir())  # no half-written file left behind

    [event] = await complaint_events(chat, row.id)
    assert event.note == "Đã gửi phản ánh" and event.public
    [staff] = await outbox(chat, "complaint_submitted")
    assert staff.ref == code and staff.status == "pending" and staff.channel == "staff"
    card = staff.payload["complaint"]
    assert card["phone_masked"] == "09xx xxx 678" and "+84912345678" not in str(staff.payload)
    assert "09xx xxx 678" in staff.payload["text"] and len(card["photos"]) == 3
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None  # the draft is gone


async def test_an_album_handed_over_as_one_message_gets_one_counted_acknowledgement(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    refs = [chat.serve(f"m-{i}", jpeg(f"m-{i}")) for i in range(3)]
    replies = await an.send(an._msg(kind=MessageKind.PHOTO, photos=refs, text="hóa đơn", album_id="g1"))
    assert len(replies) == 1
    assert "Đã nhận 3 ảnh" in replies[0].text and "chú thích" in replies[0].text


async def test_a_report_with_no_photos(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.press("Bỏ qua")
    await to_summary(an)
    assert "• Ảnh: không có" in an.text
    code = await submit(an)
    _, photos = await complaint(chat, code)
    assert photos == []
    assert await count(chat, Complaint) == 1


async def test_photos_sent_at_another_step_are_kept(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/phananh")
    await an.press("Hàng kém chất lượng")
    await an.send_photo(chat.serve("early", jpeg("early")))
    assert "Đã nhận 1 ảnh" in an.text and "mua hàng ở đâu" in an.text  # acknowledged, then the same question
    await an.send_photo(chat.serve("early", jpeg("early")))
    assert "đã gửi rồi" in an.text


async def test_free_text_where_buttons_are_offered(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/phananh")
    await an.say("giam gia ao")  # words without diacritics
    await an.say("tik tok")
    await an.say("Cửa hàng Bình An")
    await an.say("https://vt.tiktok.com/abc")
    await an.say("Nồi chiên không dầu")
    await an.say("25/11")
    await an.say("Quảng cáo giảm 70% nhưng giá gốc bị nâng lên gấp đôi")
    await an.say("khong co anh")
    await an.say("tx binh long")
    await an.say("an danh")
    assert "kiểm tra lại" in an.text
    assert "Vi phạm khuyến mại" in an.text and "TikTok Shop" in an.text and "25/11/2024" in an.text
    assert "Thị xã Bình Long" in an.text and "Ẩn danh" in an.text
    await an.say("gui")
    assert "Đã gửi phản ánh" in an.text


async def test_invalid_answers_are_explained_and_asked_again(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/phananh")
    await an.say("9")
    assert "chưa rõ bạn muốn phản ánh" in an.text and "vấn đề gì" in an.text
    await an.press("Khác")
    await an.say("ở đâu đó")
    assert "chưa rõ bạn mua ở đâu" in an.text
    await an.press("Cửa hàng")
    await an.say("x")
    assert "ít nhất 2 ký tự" in an.text
    await an.say("Tạp hóa Cô Ba")
    assert "Địa chỉ cửa hàng" in an.text
    await an.press("Không nhớ")
    await an.say("Sữa bột")
    await an.say("31/02/2024")
    assert "chưa hiểu ngày này" in an.text
    await an.say("28/11/2024")
    assert "không thể ở tương lai" in an.text and "27/11/2024" in an.text
    await an.press("Không nhớ rõ")
    await an.say("hết hạn")
    assert "ít nhất 10 ký tự" in an.text
    await an.say("Sữa hết hạn sử dụng từ tháng trước, bao bì bị tẩy xóa")
    await an.say("một tin nhắn")
    assert "Ở bước này bạn gửi ảnh" in an.text
    await an.press("Bỏ qua")
    await an.say("Hà Nội")
    assert "chưa rõ địa bàn" in an.text
    await an.say("bu")  # three areas start with Bù: ambiguous
    assert "chưa rõ địa bàn" in an.text
    await an.say("Bù Đốp")
    assert "Số điện thoại" in an.text


async def test_an_invalid_phone_is_explained_and_a_valid_one_normalised(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.press("Bỏ qua")
    await an.press("Đồng Xoài")
    for wrong in ("12345", "0123456789", "091234567", "1800 6838", "số của tôi"):
        await an.say(wrong)
        assert "Số điện thoại chưa đúng" in an.text, wrong
        assert "🙈 Gửi ẩn danh" in an.labels
    await an.say("+84 98.765.4321")
    assert "0987 654 321" in an.text
    await an.press("Không")
    assert "không lưu số điện thoại" in an.text
    assert "Không để lại số điện thoại" in an.text
    code = await submit(an)
    row, _ = await complaint(chat, code)
    assert row.phone is None and not row.contact_consent and not row.anonymous


def test_phone_numbers() -> None:
    for raw in ("0912345678", "0912 345 678", "0912.345.678", "+84912345678", "84912345678", "0084 912 345 678"):
        assert normalise_phone(raw) == "+84912345678", raw
    assert normalise_phone("0271 3879 123") == "+842713879123"  # landline with the area code
    for raw in ("091234567", "09123456789", "0112345678", "1900888655", "abc", ""):
        assert normalise_phone(raw) is None, raw
    assert format_phone("+84912345678") == "0912 345 678"
    assert mask_phone("+84912345678") == "09xx xxx 678"
    assert mask_phone("+842713879123") == "02xx xxx x123"
    assert mask_phone(None) == ""


def test_purchase_dates_and_areas() -> None:
    today = date(2024, 11, 27)
    assert parse_purchase_date("hôm nay", today) == today
    assert parse_purchase_date("hom qua", today) == date(2024, 11, 26)
    assert parse_purchase_date("3 ngày trước", today) == date(2024, 11, 24)
    assert parse_purchase_date("25-11-24", today) == date(2024, 11, 25)
    assert parse_purchase_date("28/12", date(2025, 1, 5)) == date(2024, 12, 28)
    assert parse_purchase_date("không nhớ", today) is None
    config = plan_2024()
    assert pick_area("Đồng Phú", config) == "dong-phu"
    assert pick_area("h. loc ninh", config) == "loc-ninh"
    assert pick_area("TP Đồng Xoài", config) == "dong-xoai"
    assert pick_area("11", config) == "phu-rieng"
    assert pick_area("bu", config) is None


# -- back, edit, cancel --------------------------------------------------------------------------------


async def test_going_back_a_step_and_editing_from_the_summary(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/phananh")
    assert "Quay lại" not in an.labels  # nothing before the first question
    await an.press("Hàng giả")
    await an.press("Lazada")
    await an.press("Quay lại")
    assert "mua hàng ở đâu" in an.text
    await an.say("quay lai")
    assert "vấn đề gì" in an.text
    await an.press("Hàng kém chất lượng")
    await an.press("Tiki")
    await an.say("Shop A")
    await an.say("tiki.vn/shop-a")
    await an.say("Máy sấy tóc")
    await an.press("Hôm nay")
    await an.say("Dùng hai ngày thì cháy dây điện, có mùi khét")
    await an.press("Bỏ qua")
    await an.press("Chơn Thành")
    await an.press("Gửi ẩn danh")
    assert "Hàng kém chất lượng" in an.text and "Tiki" in an.text
    await an.press("Sửa")
    assert "sửa mục nào" in an.text
    await an.press("Sản phẩm")
    assert "(Sửa)" in an.text
    await an.say("Máy sấy tóc Philips")
    assert "kiểm tra lại" in an.text and "Máy sấy tóc Philips" in an.text  # straight back to the summary
    await an.press("Sửa")
    await an.press("Liên hệ")
    await an.say("0387 111 222")
    await an.press("Đồng ý")
    assert "0387 111 222 (đồng ý" in an.text
    code = await submit(an)
    row, _ = await complaint(chat, code)
    assert row.product == "Máy sấy tóc Philips" and row.category == "kem-chat-luong"
    assert row.phone == "+84387111222" and not row.anonymous


async def test_cancel_asks_and_a_second_word_or_the_button_deletes(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("huy")
    await an.say("2")  # a number picks «Viết tiếp», as on Zalo
    await an.say("/huy")
    await an.say("/huy")  # asked twice: deleted
    assert "Đã xóa phản ánh" in an.text
    await to_photos(an)
    await an.press("Hủy")
    await an.say("Son môi Dior")  # any other answer: the question is off, the draft goes on
    await an.say("có")
    assert "Đã xóa" not in an.text
    await an.press("Hủy")
    await an.press("Xóa bản nháp")
    assert "Đã xóa phản ánh" in an.text
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None


async def test_cancelling_saves_nothing(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.send_photo(chat.serve("p", jpeg("p")))
    await an.press("Hủy")
    assert "muốn hủy phản ánh đang viết" in an.text and await count(chat, ComplaintPhoto) == 0
    await an.press("Viết tiếp")  # asked first: nothing deleted, the step comes back
    assert "ảnh" in an.text
    await an.say("hủy")  # the word asks too; «có» confirms
    assert "muốn hủy" in an.text
    await an.say("có")
    assert "Đã xóa phản ánh đang viết" in an.text
    await an.say("/phananh")
    await an.say("hủy")  # nothing written yet: no question
    assert "Đã xóa" in an.text
    assert await count(chat, Complaint) == 0 and await count(chat, ComplaintPhoto) == 0
    assert await outbox(chat, "complaint_submitted") == []
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None


# -- photos that are not accepted ----------------------------------------------------------------------


async def test_a_non_image_file_gets_a_clear_message_and_the_flow_goes_on(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    pdf = chat.serve("doc-1", PDF, file_name="hoa-don.pdf")
    await an.send_kind(MessageKind.DOCUMENT, document=pdf)
    assert "«hoa-don.pdf» không phải ảnh" in an.text and "JPEG, PNG, WebP, HEIC" in an.text
    await an.send_kind(MessageKind.DOCUMENT, document=None)  # e.g. the console's /photo with a wrong path
    assert "không nhận được tệp" in an.text
    await an.send_photo(chat.serve("ok", png()))
    assert "Đã nhận 1 ảnh" in an.text
    await an.send_photo(chat.serve("cut", jpeg("cut")[:-2]))
    assert "bị lỗi hoặc chưa tải trọn vẹn" in an.text
    await an.press("Xong")
    await to_summary(an)
    code = await submit(an)
    _, photos = await complaint(chat, code)
    assert [p.mime for p in photos] == ["image/png"]


async def test_a_file_over_the_size_limit(sqlite_url: str) -> None:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, media_max_bytes=50_000) as chat:
        an = chat.person()
        await to_photos(an)
        await an.send_photo(chat.serve("huge", jpeg("huge", 80_000)))
        assert "quá lớn" in an.text and "tối đa" in an.text
        assert chat.downloads == []  # the declared size was enough: nothing downloaded
        await an.send_photo(chat.serve("sneaky", jpeg("sneaky", 60_000), declare_size=False))
        assert "quá lớn" in an.text
        assert chat.downloads == ["sneaky"]
        assert not list(chat.app.media.tmp_dir.iterdir())
        await an.send_photo(chat.serve("fine", jpeg("fine", 40_000)))
        assert "Đã nhận 1 ảnh" in an.text


async def test_at_most_ten_photos(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    refs = [chat.serve(f"p{i}", jpeg(f"p{i}")) for i in range(12)]
    await an.send(an._msg(kind=MessageKind.PHOTO, photos=refs[:8], album_id="a"))
    assert "Đã nhận 8 ảnh" in an.text
    await an.send(an._msg(kind=MessageKind.PHOTO, photos=refs[8:], album_id="b"))
    assert "Đã nhận 2 ảnh" in an.text and "tối đa 10 ảnh" in an.text
    assert len(chat.downloads) == 10  # the two over the limit were never downloaded


def test_media_store_sniffs_types_and_stores_by_hash(tmp_path: Path) -> None:
    assert sniff(jpeg("x")) == "image/jpeg"
    assert sniff(png()) == "image/png"
    assert sniff(webp()) == "image/webp"
    assert sniff(heic()) == "image/heic"
    assert sniff(PDF) is None and sniff(b"GIF89a") is None
    store = MediaStore(tmp_path / "media", max_bytes=10_000)
    for data in (jpeg("a"), png(), webp(), heic()):
        source = tmp_path / "in"
        source.write_bytes(data)
        stored = store.save_file(source)
        assert stored.path == store.path(sha(data)) and stored.path.read_bytes() == data
        again = store.save_file(source)  # the same bytes are stored once
        assert again.path == stored.path
    (tmp_path / "in").write_bytes(PDF)
    with pytest.raises(NotAnImage):
        store.save_file(tmp_path / "in")
    (tmp_path / "in").write_bytes(jpeg("big", 20_000))
    with pytest.raises(MediaTooLarge):
        store.save_file(tmp_path / "in")
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        {sha(d)[:2] for d in (jpeg("a"), png(), webp(), heic())} | {"tmp"}
    )
    assert not list(store.tmp_dir.iterdir())
