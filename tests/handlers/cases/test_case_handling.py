"""Closing with a reason, canned replies, the reporter's verdict and reopening — over the test channel rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.channels.base import OutsideMessagingWindow
from bot.channels.zalo_oa import ZaloOAChannel
from bot.settings import Settings
from handlers.cases.actions import ACTIONS
from handlers.cases.chat import perform
from handlers.cases.reporter import ask_verdict
from handlers.config import AppConfig
from handlers.types import MessageKind, Reply
from storage.cases import CaseStatus
from tests.support.cases import (
    QLTT,
    FlakyInbox,
    Inbox,
    Member,
    Sent,
    audit,
    cases_config,
    deliver,
    deliver_as_leader,
    member,
    outbox_rows,
    the_case,
)
from tests.support.chat import DEFAULT_NOW, ChatHarness, Person
from tests.support.complaints import file_report
from tests.support.fakes.zalo_oa_api import FakeZaloOA
from tests.support.images import jpeg

CANNED = {
    "title": "Đã chuyển kiểm tra",
    "text": "{agency} đã nhận phản ánh {code} (gửi ngày {submitted}) và sẽ trả lời trước {due}.",
    "actions": ["reply", "more"],
}


def handling_config() -> AppConfig:
    base = cases_config().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["canned_replies"] = [CANNED]
            agency["close_reasons"] = {"done": ["Đã xử phạt người bán"], "rej": ["Không thuộc thẩm quyền"]}
    return AppConfig.model_validate(base)


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=handling_config()) as harness:
        yield harness


async def reported(chat: ChatHarness, user: str = "u1") -> tuple[str, Inbox, Sent, Member, Person]:
    inbox = Inbox()
    an = chat.person(user, name="An")
    code = await file_report(an)
    await deliver(chat, inbox)
    return code, inbox, inbox.last(QLTT), member(chat, "qltt-1", QLTT, "Sơn"), an


async def resolve(son: Member, card: Sent) -> None:
    await son.press_on(card, "Hoàn tất")
    await son.press("Đã xử phạt người bán")
    await son.say("Cửa hàng đã bị xử phạt và gỡ sản phẩm.")


# -- closing requires a reason ----------------------------------------------------------------------------


async def test_resolve_without_a_reason_is_refused(chat: ChatHarness) -> None:
    code, _inbox, card, son, _ = await reported(chat)
    await son.press_on(card, "Hoàn tất")
    assert "chọn lý do «Hoàn tất»" in son.text and "Đã xử phạt người bán" in son.labels
    await son.say("ok")  # too short to be a reason
    assert f"Cần lý do để đóng {code}" in son.text
    assert (await the_case(chat, code)).open
    await son.say("Đã bàn giao cho công an")  # a reason of its own
    assert "nhập kết quả xử lý" in son.text
    await son.say("Hồ sơ đã chuyển cơ quan công an điều tra.")
    assert f"Đã hoàn tất {code}" in son.text
    case = await the_case(chat, code)
    assert case.state is CaseStatus.RESOLVED and case.close_reason == "Đã bàn giao cho công an"


async def test_the_closing_action_itself_refuses_a_missing_reason(chat: ChatHarness) -> None:
    code2, *_ = await reported(chat)  # called without a reason (as the web console would): refused too
    async with chat.app.db.unit_of_work() as uow:
        case2 = await uow.cases.by_code(code2)
        staff = await uow.staff.active("console", "qltt-1")
        ctx = SimpleNamespace(uow=uow, config=chat.app.config, now=chat.clock.now())  # what a closing reads
        said = await perform(ctx, ACTIONS["done"], case2, staff, text="Xong rồi")
        assert said == f"Cần chọn hoặc nhập lý do để đóng phản ánh {code2}." and case2.open


async def test_reject_with_a_listed_reason(chat: ChatHarness) -> None:
    code, inbox, card, son, _ = await reported(chat)
    await son.press_on(card, "Từ chối")
    await son.press("Không thuộc thẩm quyền")
    await son.say("Người bán ở nước ngoài, bạn liên hệ sàn để được hỗ trợ.")
    await deliver(chat, inbox)
    notice = next(s for s in inbox.to("u1") if "xem xét và đóng lại" in s.text)
    assert "Lý do: Không thuộc thẩm quyền. Người bán ở nước ngoài" in notice.text
    assert [a.note for a in await audit(chat, code)][-1].startswith("Lý do: Không thuộc thẩm quyền.")


# -- canned replies ---------------------------------------------------------------------------------------


async def test_a_canned_reply_is_chosen_filled_and_sent(chat: ChatHarness) -> None:
    code, inbox, card, son, _ = await reported(chat)
    await son.press_on(card, "Trả lời người phản ánh")
    assert "📄 Đã chuyển kiểm tra" in son.labels
    await son.press("Đã chuyển kiểm tra")
    assert "Đã gửi trả lời" in son.text
    await deliver(chat, inbox)
    answer = inbox.last("u1").text
    assert f"Cục Quản lý thị trường tỉnh Bình Phước đã nhận phản ánh {code} (gửi ngày 27/11/2024)" in answer
    assert "{" not in answer and "trả lời trước" in answer
    await son.press_on(card, "Hoàn tất")
    await son.press("Đã xử phạt người bán")
    assert "Đã chuyển kiểm tra" not in " ".join(son.labels)  # configured for reply and more only


async def test_supervisors_manage_canned_replies_in_chat(chat: ChatHarness) -> None:
    code, inbox, card, son, _ = await reported(chat)
    cuc = member(chat, "qltt-2", QLTT, "Cúc")  # a supervisor
    await son.say("/mautraloi them Cảm ơn | Cảm ơn bạn đã phản ánh {code}")
    assert "Chỉ lãnh đạo" in son.text
    await cuc.say("/mautraloi them Sai | Ngày {ngay}")
    assert "chỗ điền không hợp lệ: ngay" in cuc.text
    await cuc.say("/mautraloi them Cảm ơn | Cảm ơn bạn đã phản ánh {code}, {agency} ghi nhận.")
    assert "Đã thêm mẫu" in cuc.text
    await son.say("/mautraloi")
    assert "Đã chuyển kiểm tra (cấu hình)" in son.text and "Cảm ơn bạn đã phản ánh" in son.text
    await son.press_on(card, "Từ chối")
    await son.press("Không thuộc thẩm quyền")
    await son.press("Cảm ơn")
    await deliver(chat, inbox)
    assert f"Cảm ơn bạn đã phản ánh {code}, Cục Quản lý thị trường" in inbox.to("u1")[-2].text
    async with chat.app.db.unit_of_work() as uow:
        [row] = await uow.canned.list("qltt")
    for odd in ("①", "²", "99999999999999999999999"):  # not a number it knows: said so, never a crash
        await cuc.say(f"/mautraloi xoa {odd}")
        assert "Không có mẫu số này" in cuc.text
    await cuc.say(f"/mautraloi xoa {row.id}")
    assert "Đã xóa mẫu" in cuc.text
    await son.say("/mautraloi")
    assert "Cảm ơn bạn đã phản ánh" not in son.text


# -- the reporter's verdict -------------------------------------------------------------------------------


async def test_the_verdict_is_asked_once_and_unsolved_reopens_the_case(chat: ChatHarness) -> None:
    code, inbox, card, son, an = await reported(chat)
    await resolve(son, card)
    await deliver(chat, inbox)
    question = inbox.last("u1")
    assert question.labels == ["Đã được giải quyết", "Giải quyết một phần", "Chưa được giải quyết"]
    case = await the_case(chat, code)
    async with chat.app.db.unit_of_work() as uow:  # asked again (a restart, another worker): nothing new
        complaint = await uow.complaints.get(code)
        await ask_verdict(uow, case, complaint, chat.clock.now())
    assert len(await outbox_rows(chat, "case_verdict")) == 1

    chat.clock.advance(timedelta(days=3))
    stranger = chat.person("u9", name="Lạ")
    await stranger.press_raw(question.button("Chưa").payload)
    assert "dành cho người đã gửi phản ánh" in stranger.text
    await an.press_raw(question.button("Chưa").payload)
    assert f"Phản ánh {code} đã được mở lại" in an.text
    case = await the_case(chat, code)
    assert case.state is CaseStatus.IN_PROGRESS and case.reopens == 1 and case.closed_at is None
    assert case.resolve_due is not None and case.resolve_due.replace(tzinfo=None) > chat.clock.now().replace(
        tzinfo=None
    )  # new deadlines from now
    await an.press_raw(question.button("Đã được").payload)  # the old question is answered once
    assert "đã trả lời câu hỏi" in an.text
    await deliver(chat, inbox)
    told = [s for s in inbox.to(QLTT) if "CHƯA được giải quyết" in s.text]
    assert len(told) == 1 and told[0].reply.reply_to == card.message_id
    assert "Trạng thái: 🔎 Đang xử lý" in card.text and "mở lại" in card.text
    await son.reply_to(told[0], "Chúng tôi sẽ làm việc lại với người bán trong tuần này.")
    assert "Đã gửi trả lời" in son.text

    await resolve(son, card)  # closed again: asked again, once
    await deliver(chat, inbox)
    assert len(await outbox_rows(chat, "case_verdict")) == 2
    await an.press_raw(inbox.last("u1").button("Đã được").payload)
    assert "Cảm ơn bạn đã cho biết ý kiến" in an.text
    assert [a.action for a in await audit(chat, code)].count("verdict") == 2

    await son.say("/thongke 27/11 27/11")
    assert "Tỷ lệ hài lòng (đã được giải quyết): 100% (1/1)" in son.text
    assert "Tỷ lệ mở lại: 100% (1/1)" in son.text


async def test_unsolved_after_seven_days_does_not_reopen(chat: ChatHarness) -> None:
    code, inbox, card, son, an = await reported(chat)
    await resolve(son, card)
    await deliver(chat, inbox)
    chat.clock.advance(timedelta(days=7, minutes=1))
    await an.press_raw(inbox.last("u1").button("Chưa").payload)
    assert "đã đóng quá 7 ngày nên không mở lại được" in an.text and "/phananh" in an.text
    case = await the_case(chat, code)
    assert case.state is CaseStatus.RESOLVED and case.verdict == "no" and case.reopens == 0


async def test_a_verdict_that_cannot_be_asked_is_told_to_the_lead_agency(chat: ChatHarness) -> None:
    inbox = FlakyInbox()
    code = await file_report(chat.person("u1", name="An"))
    await deliver_as_leader(chat, inbox)
    card = inbox.last(QLTT)
    inbox.failing["u1"] = OutsideMessagingWindow("Zalo OA: error -230: the user is outside the OA's 7-day window")
    await resolve(member(chat, "qltt-1", QLTT, "Sơn"), card)
    await deliver_as_leader(chat, inbox)
    await deliver_as_leader(chat, inbox)
    [verdict] = await outbox_rows(chat, "case_verdict")
    assert verdict.status == "failed" and inbox.tries["u1"] == 2  # the closing notice and the question, once
    told = [s for s in inbox.to(QLTT) if s.text.startswith(f"⚠️ Không hỏi được người phản ánh {code}")]
    assert len(told) == 1 and "đã được giải quyết chưa" in told[0].text


# -- duplicates -------------------------------------------------------------------------------------------


async def test_twenty_reports_on_one_seller_are_suggested_merged_and_all_told_once(chat: ChatHarness) -> None:
    inbox = Inbox()
    codes = []
    for i in range(20):
        codes.append(await file_report(chat.person(f"r{i}", name=f"Người {i}")))
        await deliver(chat, inbox)  # one at a time: each card goes out (no digest)
    cards = {code: next(s for s in inbox.to(QLTT) if f"PHẢN ÁNH {code}" in s.text) for code in codes}
    first = codes[0]
    assert "Có thể trùng" not in cards[first].text  # nothing open before it
    for code in codes[1:]:
        assert f"⚠️ Có thể trùng: {first} (cùng người bán; cùng đường link; nội dung gần giống)" in cards[code].text
        assert f"🔗 Gộp vào {first}" in cards[code].labels and "✖️ Không trùng" in cards[code].labels

    son = member(chat, "qltt-1", QLTT, "Sơn")
    await son.press_on(cards[codes[1]], "Không trùng")
    await deliver(chat, inbox)
    assert "Có thể trùng" not in cards[codes[1]].text and "Không trùng —" in cards[codes[1]].text
    for code in codes[2:]:
        await son.press_on(cards[code], f"Gộp vào {first}")
        assert f"Đã gộp {code} vào {first}" in son.text
    await son.press_on(cards[codes[2]], "Gộp vào")  # a second press: the card has no merge button any more
    await deliver(chat, inbox)
    assert f"Đã gộp vào {first}" in cards[codes[2]].text and "Gộp vào" not in " ".join(cards[codes[2]].labels)
    assert f"Gộp cùng 18 phản ánh trùng: {codes[2]}" in cards[first].text
    merged_notices = [s for s in inbox.to("r5") if "được gộp với phản ánh" in s.text]
    assert len(merged_notices) == 1 and codes[5] in merged_notices[0].text

    await resolve(son, cards[first])
    await deliver(chat, inbox)
    told = {f"r{i}": [s for s in inbox.to(f"r{i}") if "xử lý xong" in s.text] for i in range(20)}
    assert all(len(told[f"r{i}"]) == (0 if i == 1 else 1) for i in range(20))  # the dismissed one is not merged
    assert all(codes[i] in told[f"r{i}"][0].text for i in range(20) if i != 1)  # each under their own code
    assert len(await outbox_rows(chat, "case_verdict")) == 19  # each reporter asked once

    r7 = chat.person("r7", name="Người 7")  # a merged reporter's verdict reopens the case they follow
    await r7.press_raw(inbox.last("r7").button("Chưa").payload)
    assert f"Phản ánh {codes[7]} đã được mở lại" in r7.text
    assert (await the_case(chat, first)).state is CaseStatus.IN_PROGRESS
    await r7.say(f"/tracuu {codes[7]}")
    assert "mở lại" in r7.text
    trail = [a.action for a in await audit(chat, codes[7])]
    assert trail[:1] == ["routed"] and "merge" in trail and "verdict" in trail  # its own trail is kept
    assert [a.action for a in await audit(chat, first)].count("merged_in") == 18


# -- photos from staff ------------------------------------------------------------------------------------


async def test_a_staff_photo_reaches_the_reporter_and_stays_with_the_report(chat: ChatHarness) -> None:
    code, inbox, card, son, _ = await reported(chat)
    await son.press_on(card, "Trả lời người phản ánh")
    assert "gửi kèm ảnh" in son.text
    await son.send_kind(MessageKind.DOCUMENT, document=chat.serve("bien-ban.pdf", b"%PDF-1.4 not an image"))
    assert "không phải ảnh" in son.text and "nhập nội dung trả lời" in son.text  # refused, asked again
    photo = jpeg("seized")
    await son.send_photo(chat.serve("seized", photo), caption="Biên bản thu giữ hàng giả tại cửa hàng")
    assert "Đã gửi trả lời" in son.text
    await deliver(chat, inbox)
    answer = inbox.last("u1")
    assert "Biên bản thu giữ hàng giả" in answer.text
    assert [Path(p).read_bytes() for p in answer.reply.photos] == [photo]
    async with chat.app.db.unit_of_work() as uow:
        complaint = await uow.complaints.get(code)
        assert [p.source for p in await uow.complaints.photos(complaint.id)] == ["staff"]


async def test_a_staff_photo_reaches_a_zalo_oa_reporter(chat: ChatHarness) -> None:
    """The notice with the staff photo, as the outbox sender hands it to the Zalo OA channel: the photo is
    uploaded to the OA and sent as a media message with the text."""
    _, _inbox, card, son, _ = await reported(chat)
    await son.press_on(card, "Yêu cầu bổ sung")
    photo = jpeg("sample", 20_000)
    await son.send_photo(chat.serve("sample", photo), caption="Bạn chụp giúp mặt sau hộp giống ảnh mẫu này")
    [row] = [r for r in await outbox_rows(chat, "case_notice") if r.payload.get("photos")]
    async with FakeZaloOA() as fake:
        settings = Settings(
            _env_file=None,
            **chat.app.settings.model_dump()
            | {
                "zalo_oa_app_id": fake.app_id, "zalo_oa_secret_key": fake.oa_secret_key,
                "zalo_oa_app_secret": fake.app_secret, "zalo_oa_access_token": fake.initial_access,
                "zalo_oa_refresh_token": fake.initial_refresh, "zalo_oa_api_base_url": fake.base_url,
                "zalo_oa_oauth_base_url": fake.base_url, "webhook_port": 0,  # any free port: 8080 may be taken
            },
        )  # fmt: skip
        channel = ZaloOAChannel(settings, chat.app.dispatcher.handle, chat.app.db)
        await channel.start()
        try:
            await channel.deliver("oa-user-1", Reply.from_dict(row.payload))
        finally:
            await channel.stop()
        [upload] = fake.calls_of("upload")
        assert upload.params["size"] == len(photo) and upload.params["content_type"] == "image/jpeg"
        [attachment_id] = fake.uploads
        sent = [c.params["message"] for c in fake.calls_of("message") if c.error_code == 0]
        media = [m["attachment"]["payload"] for m in sent if "attachment" in m]
        assert media[0]["elements"] == [{"media_type": "image", "attachment_id": attachment_id}]
        assert any("mặt sau hộp" in text for text in fake.texts("oa-user-1"))


async def test_a_press_on_a_card_not_yet_redrawn_after_someone_else_acted_does_nothing(chat: ChatHarness) -> None:
    """The buttons carry the case's version they were shown at: «Nhận xử lý» pressed after a colleague took the
    case, on the card as it was, is not a take-over; a member's own second press on their card is not refused."""
    inbox = Inbox()
    code = await file_report(chat.person("r1", name="Người A"))
    await deliver(chat, inbox)
    card = next(s for s in inbox.to(QLTT) if f"PHẢN ÁNH {code}" in s.text)
    son, cuc = member(chat, "qltt-1", QLTT, "Sơn"), member(chat, "qltt-2", QLTT, "Cúc")
    await son.press_on(card, "Tiếp nhận")
    await son.press_on(card, "Nhận xử lý")  # his own change came first: done
    assert (await the_case(chat, code)).assignee_user_id == "qltt-1"
    said = " ".join(r.text for r in await cuc.press_on(card, "Nhận xử lý"))  # the card not redrawn yet
    assert "vừa được cán bộ khác cập nhật" in said and "Đang xử lý" in said
    assert (await the_case(chat, code)).assignee_user_id == "qltt-1"
    assert [a.action for a in await audit(chat, code)].count("take") == 1
    await deliver(chat, inbox)  # the card redrawn: her press now takes the case over, as she asked
    await cuc.press_on(card, "Nhận xử lý")
    assert (await the_case(chat, code)).assignee_user_id == "qltt-2"
