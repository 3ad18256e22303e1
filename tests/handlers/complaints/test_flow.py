"""Consumer complaints with photos, driven through the test channel like a chat."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import signal
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers.complaints.answers import parse_purchase_date, pick_area
from handlers.complaints.drafts import close_stale_drafts
from handlers.complaints.flow import FLOW
from handlers.complaints.records import EXPORT_COLUMNS, EXPORT_HEADERS
from handlers.phone import format_phone, mask_phone, normalise_phone
from handlers.types import ChatKind, MessageKind
from storage.complaints import Complaint, ComplaintPhoto, ComplaintStatus, normalise_code
from storage.media import MediaStore, MediaTooLarge, NotAnImage, sniff
from storage.models import OutboxMessage
from tests.support.chat import DEFAULT_NOW, ChatHarness, Person
from tests.support.complaints import CODE, file_report, submit, to_photos, to_summary
from tests.support.configs import PLAN_2024, plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.images import PDF, heic, jpeg, png, webp
from tests.support.processes import cli_env, read_until


def read_export(text: str) -> list[dict[str, str]]:
    """The export's rows by column key, after checking the header row is the Vietnamese one."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == [EXPORT_HEADERS[key] for key in EXPORT_COLUMNS]
    return [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]


async def complaint(chat: ChatHarness, code: str) -> tuple[Complaint, list[ComplaintPhoto]]:
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        assert row is not None and row.id is not None
        return row, await uow.complaints.photos(row.id)


async def count(chat: ChatHarness, model) -> int:
    async with chat.app.db.unit_of_work() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


async def outbox(chat: ChatHarness, kind: str) -> list[OutboxMessage]:
    async with chat.app.db.unit_of_work() as uow:
        result = await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind))
        return list(result.scalars())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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

    [event] = await _events(chat, row.id)
    assert event.note == "Đã gửi phản ánh" and event.public
    [staff] = await outbox(chat, "complaint_submitted")
    assert staff.ref == code and staff.status == "pending" and staff.channel == "staff"
    card = staff.payload["complaint"]
    assert card["phone_masked"] == "09xx xxx 678" and "+84912345678" not in str(staff.payload)
    assert "09xx xxx 678" in staff.payload["text"] and len(card["photos"]) == 3
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None  # the draft is gone


async def _events(chat: ChatHarness, complaint_id: int):
    async with chat.app.db.unit_of_work() as uow:
        return await uow.complaints.events(complaint_id)


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


# -- drafts --------------------------------------------------------------------------------------------


async def test_a_draft_survives_a_restart_and_is_offered_again(sqlite_url: str) -> None:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as first:
        an = first.person()
        await to_photos(an)
        await an.send_photo(first.serve("kept", jpeg("kept")))
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW + timedelta(hours=2)) as second:
        an = second.person()
        await an.say("/phananh")
        assert "phản ánh soạn dở về «Son môi Dior»" in an.text
        await an.press("Tiếp tục")
        assert "gửi ảnh" in an.text and "Xong (1 ảnh)" in an.labels[0]
        await an.press("Xong")
        assert "vẫn giữ phản ánh" not in an.text
        await to_summary(an)
        assert "• Ảnh: 1 ảnh" in an.text
        second.clock.advance(timedelta(hours=1))
        await an.press("Gửi phản ánh")
        assert "vẫn giữ phản ánh bạn đang soạn dở" in an.text and "Đã gửi phản ánh" in an.text


async def test_starting_over_replaces_the_draft(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("/phananh")
    await an.press("Bắt đầu lại")
    assert "vấn đề gì" in an.text
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.conversations.get("console", an.chat_id, an.user_id)
    assert row.step == "category" and "product" not in row.data


async def test_an_expired_draft_is_closed_when_the_reporter_writes(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    chat.clock.advance(timedelta(hours=24, minutes=1))
    await an.say("Xong")
    assert "Bản nháp phản ánh chưa gửi của bạn đã quá thời hạn" in an.text


async def test_stale_drafts_are_closed_proactively(chat: ChatHarness) -> None:
    an, binh, chi = chat.person("u1"), chat.person("u2"), chat.person("u3")
    await to_photos(an)
    chat.clock.advance(timedelta(hours=20))
    await binh.say("/phananh")  # a younger draft
    await chi.say("/vaitro")  # another flow, expired too by then
    chat.clock.advance(timedelta(hours=5))
    closed = await close_stale_drafts(chat.app.db, chat.clock.now(), config=chat.app.config)
    assert closed == 1
    [row] = await outbox(chat, "complaint_draft_closed")
    assert row.chat_id == "u1" and row.channel == "console" and row.status == "pending"
    assert "quá 24 giờ chưa được gửi" in row.payload["text"] and row.payload["buttons"]
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", "u1", "u1") is None
        assert (await uow.conversations.get("console", "u2", "u2")).flow == FLOW
        assert (await uow.conversations.get("console", "u3", "u3")).flow == "profile"
    assert await close_stale_drafts(chat.app.db, chat.clock.now()) == 0  # nothing twice
    await an.say("xin chào")
    assert "quá thời hạn" not in an.text


# -- limits and duplicates -----------------------------------------------------------------------------


async def test_the_daily_limit(chat: ChatHarness) -> None:
    an = chat.person()
    for i in range(5):
        await file_report(an, seller=f"Shop {i}", product=f"Sản phẩm {i}")
    await an.say("/phananh")
    assert "đã gửi 5 phản ánh" in an.text and "tối đa mỗi ngày là 5" in an.text and "1800 6838" in an.text
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None
    other = chat.person("u2")  # someone else is not limited by it
    await other.say("/phananh")
    assert "vấn đề gì" in other.text
    chat.clock.set(datetime(2024, 11, 27, 17, 1, tzinfo=UTC))  # 00:01 on 28/11 in Vietnam: a new day
    await an.say("/phananh")
    assert "vấn đề gì" in an.text


async def test_a_repeated_report_points_to_the_existing_one(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    chat.clock.advance(timedelta(hours=3))
    await to_photos_until_product(an, seller="shop my pham hoa hong", product="SON MÔI DIOR")
    assert f"Bạn đã gửi phản ánh {code}" in an.text
    assert any(code in label for label in an.labels)
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None
    chat.clock.advance(timedelta(hours=22))  # more than 24 hours later: a new report is fine
    await to_photos_until_product(an, seller="Shop Mỹ Phẩm Hoa Hồng", product="Son môi Dior")
    assert "ngày nào" in an.text


async def to_photos_until_product(an: Person, seller: str, product: str) -> None:
    await an.say("/phananh")
    await an.press("Hàng giả")
    await an.press("Shopee")
    await an.say(seller)
    await an.press("Không nhớ")
    await an.say(product)


async def test_reports_are_taken_in_private_chats_only(chat: ChatHarness) -> None:
    an = chat.person("u1", chat_id="-100")
    await an.send_kind(MessageKind.TEXT, text="/phananh", chat_kind=ChatKind.GROUP)
    assert "tin nhắn riêng" in an.text
    await an.send_kind(MessageKind.TEXT, text="/tracuu PA-7K3Q-9M", chat_kind=ChatKind.GROUP)
    assert "tin nhắn riêng" in an.text


async def test_an_anonymous_report_keeps_no_contact(chat: ChatHarness) -> None:
    an = chat.person(name="Nguyễn Văn An")
    await to_photos(an)
    await an.press("Bỏ qua")
    await an.press("Đồng Xoài")
    await an.press("Gửi ẩn danh")
    assert "• Liên hệ: Ẩn danh" in an.text
    code = await submit(an)
    row, _ = await complaint(chat, code)
    assert row.anonymous and row.phone is None and row.reporter_name is None and not row.contact_consent
    [staff] = await outbox(chat, "complaint_submitted")
    assert "Nguyễn Văn An" not in str(staff.payload) and an.user_id not in str(staff.payload)
    assert "Liên hệ: Ẩn danh" in staff.payload["text"]


async def test_a_code_collision_is_retried(chat: ChatHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await file_report(chat.person("u1"))
    codes = iter([first, first, "PA-2345-67"])
    monkeypatch.setattr("storage.complaints.make_code", lambda: next(codes))
    second = await file_report(chat.person("u2"))
    assert second == "PA-2345-67"


def test_codes_are_normalised() -> None:
    assert normalise_code("pa 7k3q 9m") == "PA-7K3Q-9M"
    assert normalise_code("7K3Q9M") == "PA-7K3Q-9M"
    assert normalise_code("PA-7K3Q-9M") == "PA-7K3Q-9M"
    assert normalise_code("PA-7K3O-9M") is None  # O is not in the alphabet
    assert normalise_code("hello") is None


# -- status lookup -------------------------------------------------------------------------------------


async def test_status_lookup_by_the_reporter(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    await an.press("Xem trạng thái")
    assert f"Phản ánh {code}" in an.text and "Đã gửi, chờ cơ quan chức năng tiếp nhận" in an.text
    assert "Son môi Dior" in an.text and "— Đã gửi phản ánh" in an.text
    await an.say(f"/tracuu {code.lower().replace('-', ' ')}")
    assert f"Phản ánh {code}" in an.text
    await an.say("/start")
    await an.press("Tra cứu phản ánh")
    assert "Các phản ánh gần đây của bạn" in an.text and code in an.text
    await an.say(f"mã của tôi là {code}")
    assert "Trạng thái:" in an.text
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        await uow.complaints.set_status(row, ComplaintStatus.IN_PROGRESS, "Cục QLTT đang xác minh", chat.clock.now())
        await uow.commit()
    await an.say(f"/tracuu {code}")
    assert "Đang xác minh, xử lý" in an.text and "Cục QLTT đang xác minh" in an.text


async def test_a_lookup_by_someone_else_is_refused_and_reveals_nothing(chat: ChatHarness) -> None:
    an, binh = chat.person("u1"), chat.person("u2")
    code = await file_report(an)
    await binh.say(f"/tracuu {code}")
    refused = binh.text
    assert "không tìm thấy phản ánh" in refused and "chỉ người gửi" in refused
    assert "Son môi" not in refused and "Hoa Hồng" not in refused and "Trạng thái" not in refused
    await binh.say("/tracuu PA-2345-67")  # a code that does not exist gets the very same answer
    assert binh.text == refused.replace(code, "PA-2345-67")
    await binh.say("/tracuu")
    assert "chưa gửi phản ánh nào" in binh.text
    await binh.say(code)
    assert "không tìm thấy phản ánh" in binh.text


async def test_the_reporter_adds_information_and_photos_to_an_open_report(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    await an.say(f"/tracuu {code}")
    await an.press("Bổ sung")
    assert f"phản ánh {code}" in an.text
    await an.say("Người bán đã chặn tôi sau khi tôi hỏi về hàng giả")
    assert "Đã thêm thông tin" in an.text
    refs = [chat.serve(f"add-{i}", jpeg(f"add-{i}")) for i in range(2)]
    out = [await an.send_photo(ref, album="more") for ref in refs]
    assert sum(len(batch) for batch in out) == 1 and "Đã thêm 1 ảnh" in out[0][0].text
    await an.press("Xong")
    assert "Cảm ơn bạn" in an.text
    row, photos = await complaint(chat, code)
    assert [p.source for p in photos] == ["addition", "addition"]
    events = await _events(chat, row.id)
    assert [e.kind for e in events] == ["submitted", "info_added", "photos_added", "photos_added"]
    assert len(await outbox(chat, "complaint_updated")) == 3
    await an.say(f"/tracuu {code}")
    assert "Người phản ánh bổ sung thông tin" in an.text and "Ảnh: 2" in an.text

    add_button = an.buttons[0].payload
    binh = chat.person("u2")
    await binh.press_raw(add_button)  # forwarded button data does not open someone else's report
    assert "không tìm thấy" in binh.text

    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        await uow.complaints.set_status(row, ComplaintStatus.RESOLVED, "Đã xử lý xong", chat.clock.now())
        await uow.commit()
    await an.say(f"/tracuu {code}")
    assert "Đã xử lý xong" in an.text and "Bổ sung" not in " ".join(an.labels)
    await an.press_raw(add_button)
    assert "đã đóng" in an.text and "không nhận bổ sung" in an.text


# -- the console, as a person runs it ------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_a_report_through_the_console_resumes_after_sigkill(tmp_path: Path) -> None:
    photo = tmp_path / "hop-son.jpg"
    photo.write_bytes(jpeg("console-photo"))
    env = cli_env(tmp_path, MEDIA_DIR=str(tmp_path / "media"))

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--user", "u1", "--name", "Lan",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path, env=env,
        )  # fmt: skip

    first = await spawn()
    for line, marker in [
        ("/phananh", "vấn đề gì"),
        ("1", "mua hàng ở đâu"),
        ("Shopee", "Tên người bán"),
        ("Shop Hoa Hồng", "đường link"),
        ("shopee.vn/hoahong", "Sản phẩm bạn mua"),
        ("Son môi", "ngày nào"),
        ("hôm qua", "chuyện gì đã xảy ra"),
        ("Son chảy, mùi lạ, vỏ hộp in sai", "gửi ảnh"),
        (f"/photo {photo}", "Đã nhận 1 ảnh"),
    ]:
        first.stdin.write(f"{line}\n".encode())
        await read_until(first.stdout, marker)
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    second = await spawn()
    second.stdin.write(b"xong\n")
    await read_until(second.stdout, "địa bàn nào")
    for line, marker in [("Đồng Xoài", "Số điện thoại"), ("0912345678", "đồng ý"), ("1", "Gửi phản ánh")]:
        second.stdin.write(f"{line}\n".encode())
        seen = await read_until(second.stdout, marker)
    assert "• Ảnh: 1 ảnh" in seen
    second.stdin.write("Gửi phản ánh\n".encode())
    seen = await read_until(second.stdout, "Mã tra cứu")
    second.stdin.close()
    assert await second.wait() == 0
    code = CODE.search(seen + (await second.stdout.read()).decode())
    assert code
    stored = tmp_path / "media" / sha(photo.read_bytes())[:2] / sha(photo.read_bytes())
    assert stored.read_bytes() == photo.read_bytes()
    assert os.listdir(tmp_path / "media" / "tmp") == []


# -- the staff CLI -------------------------------------------------------------------------------------


def test_cli_lists_shows_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from bot.cli import main

    url = migrated_sqlite(tmp_path / "cli.db")
    media = tmp_path / "media"

    async def make() -> list[str]:
        async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media) as chat:
            an, binh = chat.person("u1", name="An"), chat.person("u2", name="Bình")
            await to_photos(an)
            await an.send_photo(chat.serve("cli-1", jpeg("cli-1")))
            await an.press("Xong")
            await to_summary(an)
            first = await submit(an)
            chat.clock.advance(timedelta(days=2))
            await to_photos(binh, seller="Tiệm Bảy", product="Bột giặt")
            await binh.press("Bỏ qua")
            await binh.press("Đồng Xoài")
            await binh.press("Gửi ẩn danh")
            second = await submit(binh)
            async with chat.app.db.unit_of_work() as uow:
                row = await uow.complaints.get(second)
                await uow.complaints.set_status(row, ComplaintStatus.RESOLVED, "Đã xử lý", chat.clock.now())
                await uow.commit()
            return [first, second]

    first, second = asyncio.run(make())
    for key in ("TELEGRAM_BOT_TOKEN", "BOT_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CONFIG", str(PLAN_2024))  # the expectations follow the 2024 plan
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MEDIA_DIR", str(media))

    assert main(["complaints", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == [second, first]  # newest first
    assert "09xx xxx 678" in out[1] and "0912" not in out[1] and "ẩn danh" in out[0]
    assert main(["complaints", "list", "--status", "resolved", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["code"] == second and json.loads(line)["status"] == "resolved"

    assert main(["complaints", "show", first.lower()]) == 0
    shown = capsys.readouterr().out
    assert "09xx xxx 678" in shown and "0912 345 678" not in shown  # masked unless --reveal
    assert "Son môi Dior" in shown and "Người phản ánh: An" in shown
    assert str(media) in shown and "KHÔNG CÓ TỆP" not in shown and "Đã gửi phản ánh" in shown
    assert main(["complaints", "show", "PA-2345-67"]) == 1
    assert main(["complaints", "show", first, "--reveal"]) == 1  # not routed yet: no audit trail to record on
    assert "0912 345 678" not in capsys.readouterr().out

    assert main(["complaints", "export", "--format", "csv", "--from", "2024-11-27", "--to", "2024-11-27"]) == 0
    rows = read_export(capsys.readouterr().out)
    assert [r["code"] for r in rows] == [first] and rows[0]["status"] == "Đã gửi, chờ cơ quan chức năng tiếp nhận"
    assert rows[0]["contact_consent"] == "có"
    assert (
        rows[0]["contact"] == "09xx xxx 678" and rows[0]["photos"] == "1" and rows[0]["area"] == "Thành phố Đồng Xoài"
    )
    target = tmp_path / "out.csv"
    assert main(["complaints", "export", "--format", "csv", "--with-phone", "--output", str(target)]) == 0
    data = target.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600  # full numbers: readable by the owner only
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Vietnamese text right
    rows = read_export(data.decode("utf-8-sig"))
    assert [r["code"] for r in rows] == [first, second] and rows[0]["contact"] == "0912 345 678"
    assert main(["complaints", "export", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
