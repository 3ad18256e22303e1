"""Across features, over both Zalo channels, with staff on Telegram: one process wired like ``python -m bot run``.

The rig starts the three messenger channels with the code ``run`` uses (``bot.cli.run.wire_channels``, one
webhook server, one rate limiter, the downloaders registered) against the loopback fakes of the Telegram Bot
API, the Zalo Bot API and the Zalo OA API. The leader's work is done explicitly, one round at a time, with the
objects the leader uses: :class:`handlers.cases.worker.CaseWorker` routes reports and links message ids, and the
outbox sender is the one :meth:`bot.leader.Leader.make_sender` builds. Time is the injected clock.

Each test runs over the Zalo Bot channel (long polling) and the Zalo OA channel (signed webhook), on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL: a reporter answers numbered choices by number; the staff of Cục QLTT press
buttons in their Telegram group. The last test also has a reporter on Telegram, who blocked the bot.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import App
from bot.leader import Leader
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.cases.worker import CaseWorker
from handlers.clock import FixedClock
from handlers.matching import fold_text
from handlers.reminders.countdown import reminder_slots
from handlers.reminders.firing import ReminderService
from storage.models import OutboxMessage
from tests.support.fakes.telegram_api import Call, FakeTelegramAPI, callback_update, chat_dict
from tests.support.fakes.telegram_api import text_update as tg_text_update
from tests.support.fakes.zalo_bot_api import FakeZaloBotAPI, image_update
from tests.support.fakes.zalo_bot_api import text_update as zb_text_update
from tests.support.fakes.zalo_oa_api import FakeZaloOA, image_event, text_event
from tests.support.images import jpeg
from tests.support.telegram import COORDINATOR, GROUP, STAFF
from tests.support.wired import fake_settings, wired

CODE = re.compile(r"PA-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}")
OPTION = re.compile(r"^(\d{1,2})\. (.+)$", re.MULTILINE)
LEAD = "Cục Quản lý thị trường tỉnh Bình Phước"
QUESTION = "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"
QUIET = 0.5  # photos this close together are one burst (generous: the two arrive within milliseconds)
TG_REPORTER = 4242  # a reporter on Telegram (the last test)


# ----------------------------------------------------------------------------------------------------------
# The process
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Rig:
    app: App
    clock: FixedClock
    telegram: FakeTelegramAPI
    zalo_bot: FakeZaloBotAPI
    oa: FakeZaloOA
    channels: dict
    server: WebhookServer
    leader: Leader
    worker: CaseWorker

    async def lead(self) -> None:
        """One round of the leader's work: route reports, deliver the outbox (through the leader's sender, with
        its hook for reporters who cannot be reached), and link the platform message ids."""
        await self.worker.tick()
        sender = self.leader.make_sender()
        await asyncio.wait_for(sender.run(until_empty=True), 30)
        await self.worker.tick()

    def group(self, chat: int = GROUP, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.telegram.calls_of(method) if c.params.get("chat_id") == chat and c.status == 200]

    async def outbox(self, kind: str) -> list[OutboxMessage]:
        async with self.app.db.unit_of_work() as uow:
            query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            return list((await uow.session.execute(query)).scalars())


def rig_settings(
    database_url: str, tmp_path: Path, telegram: FakeTelegramAPI, zalo_bot: FakeZaloBotAPI, oa: FakeZaloOA
) -> Settings:
    return fake_settings(database_url, tmp_path, quiet=QUIET, telegram=telegram, zalo_bot=zalo_bot, oa=oa)


@pytest.fixture
async def rig(db_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    """SQLite, and PostgreSQL too when TEST_DATABASE_URL is set."""
    async with (
        FakeTelegramAPI() as telegram,
        FakeZaloBotAPI() as zalo_bot,
        FakeZaloOA() as oa,
        wired(rig_settings(db_url, tmp_path, telegram, zalo_bot, oa)) as w,
    ):
        yield Rig(w.app, w.clock, telegram, zalo_bot, oa, w.channels, w.server, w.leader, w.worker)


# ----------------------------------------------------------------------------------------------------------
# People
# ----------------------------------------------------------------------------------------------------------


def option_number(texts: list[str], label: str) -> int:
    """The number of the option like ``label`` (without diacritics) among the options the chat shows now:
    those of the newest message that has any."""
    shown = next((OPTION.findall(text) for text in reversed(texts) if OPTION.search(text)), [])
    wanted = fold_text(label)
    for number, option in shown:
        if wanted in fold_text(option):
            return int(number)
    raise AssertionError(f"no option like {label!r} among {shown!r}")


@dataclass
class Reporter:
    """A person writing to the assistant on one channel; ``last`` holds the answers to their last message."""

    rig: Rig
    channel: str
    user: str
    last: list[str] = field(default_factory=list)

    # -- what each channel does differently ------------------------------------------------------------------

    def texts(self) -> list[str]:
        """Texts delivered to this person, in order."""
        raise NotImplementedError

    async def _send_text(self, text: str) -> None:
        raise NotImplementedError

    async def _send_images(self, urls: list[str]) -> None:
        raise NotImplementedError

    def add_image(self, name: str, data: bytes) -> str:
        raise NotImplementedError

    def cut_off(self) -> None:
        """From now on the platform refuses to deliver to this person."""
        raise NotImplementedError

    def refused(self) -> int:
        """Sends to this person the platform refused."""
        raise NotImplementedError

    async def _wait(self, count: int) -> None:
        raise NotImplementedError

    # -- conversation ----------------------------------------------------------------------------------------

    async def expect(self, before: int, replies: int = 1) -> str:
        await self._wait(before + replies)
        channel = self.rig.channels[self.channel]
        if hasattr(channel, "drain"):
            await channel.drain()
        self.last = self.texts()[before:]
        return "\n".join(self.last)

    async def say(self, text: str, replies: int = 1) -> str:
        before = len(self.texts())
        await self._send_text(text)
        return await self.expect(before, replies)

    async def choose(self, label: str, replies: int = 1) -> str:
        """Answer the numbered options the chat shows now by number."""
        return await self.say(str(option_number(self.texts(), label)), replies)

    async def send_images(self, images: list[bytes]) -> str:
        urls = [self.add_image(f"{self.user}-{i}.jpg", data) for i, data in enumerate(images)]
        before = len(self.texts())
        await self._send_images(urls)
        return await self.expect(before, 1)  # one answer for the burst


class ZaloBotReporter(Reporter):
    def texts(self) -> list[str]:
        return self.rig.zalo_bot.sent_texts(self.user)

    async def _send_text(self, text: str) -> None:
        self.rig.zalo_bot.push_update(zb_text_update(text, user_id=self.user, name="Lan"))

    async def _send_images(self, urls: list[str]) -> None:
        for url in urls:  # in quick succession, each its own message, as Zalo sends them
            self.rig.zalo_bot.push_update(image_update(url, user_id=self.user, name="Lan"))

    def add_image(self, name: str, data: bytes) -> str:
        return self.rig.zalo_bot.add_image(name, data)

    def cut_off(self) -> None:
        self.rig.zalo_bot.blocked_chats.add(self.user)  # 403: the user blocked the bot

    def refused(self) -> int:
        return sum(
            c.status == 403 and c.params.get("chat_id") == self.user for c in self.rig.zalo_bot.calls_of("sendMessage")
        )

    async def _wait(self, count: int) -> None:
        user = self.user
        await self.rig.zalo_bot.wait_for(
            "sendMessage",
            count,
            timeout=10,
            predicate=lambda c: c.params.get("chat_id") == user and c.status == 200 and c.error_code is None,
        )


class ZaloOAReporter(Reporter):
    def texts(self) -> list[str]:
        return self.rig.oa.texts(self.user)

    async def _post(self, event: dict) -> None:
        body, headers = self.rig.oa.signed(event)
        url = f"http://127.0.0.1:{self.rig.server.port}/zalo-oa"
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
            assert response.status == 200

    async def _send_text(self, text: str) -> None:
        await self._post(text_event(self.user, text))

    async def _send_images(self, urls: list[str]) -> None:
        for url in urls:
            await self._post(image_event(self.user, [url]))

    def add_image(self, name: str, data: bytes) -> str:
        return self.rig.oa.add_image(name, data)

    def cut_off(self) -> None:
        self.rig.oa.outside_window.add(self.user)  # -230: not interacted with the OA in 7 days

    def refused(self) -> int:
        return sum(
            c.error_code == -230 and c.params["recipient"]["user_id"] == self.user
            for c in self.rig.oa.calls_of("message")
        )

    async def _wait(self, count: int) -> None:
        user = self.user
        await self.rig.oa.wait_for(
            "message",
            count,
            timeout=10,
            predicate=lambda c: c.error_code == 0 and c.params["recipient"]["user_id"] == user
            and "text" in c.params["message"],
        )  # fmt: skip


class TelegramReporter(Reporter):
    """A reporter on Telegram: the same conversation, with inline buttons pressed instead of numbers."""

    def _sent(self) -> list[Call]:
        return [c for c in self.rig.telegram.calls_of("sendMessage") if c.params.get("chat_id") == int(self.user)]

    def texts(self) -> list[str]:
        return [c.params["text"] for c in self._sent() if c.status == 200]

    async def _send_text(self, text: str) -> None:
        self.rig.telegram.push_update(tg_text_update(text, user_id=int(self.user)))

    async def choose(self, label: str, replies: int = 1) -> str:
        last = next(c for c in reversed(self._sent()) if c.status == 200 and c.params.get("reply_markup"))
        data = data_for(last, label)
        before = len(self.texts())
        self.rig.telegram.push_update(
            callback_update(
                data,
                user_id=int(self.user),
                message_id=last.result["message_id"],
                message_text=last.params["text"],
                reply_markup=last.params["reply_markup"],
            )
        )
        return await self.expect(before, replies)

    def cut_off(self) -> None:
        self.rig.telegram.blocked_chats.add(int(self.user))  # 403: bot was blocked by the user

    def refused(self) -> int:
        return sum(c.params.get("chat_id") == int(self.user) for c in self.rig.telegram.rejected)

    async def _wait(self, count: int) -> None:
        user = int(self.user)
        await self.rig.telegram.wait_for(
            "sendMessage", count, timeout=10, predicate=lambda c: c.params.get("chat_id") == user and c.status == 200
        )


REPORTERS = {"zalo_bot": ZaloBotReporter, "zalo_oa": ZaloOAReporter, "telegram": TelegramReporter}
ZALO = pytest.mark.parametrize("channel", ["zalo_bot", "zalo_oa"])


def reporter(rig: Rig, channel: str) -> Reporter:
    user = str(TG_REPORTER) if channel == "telegram" else f"{channel}-lan"
    return REPORTERS[channel](rig, channel, user)


def data_for(call: Call, label: str) -> str:
    markup = call.params.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if fold_text(label) in fold_text(button["text"]):
                return button["callback_data"]
    raise AssertionError(f"no button like {label!r} on {call.params.get('text')!r}")


class Staff:
    """Trần Văn Sơn of Cục QLTT, in the agency's Telegram group."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    async def press(self, message: Call, label: str) -> Call:
        """Press a button of a message in the group; returns the answer to the press."""
        fake = self.rig.telegram
        before = len(fake.calls_of("answerCallbackQuery"))
        fake.push_update(
            callback_update(
                data_for(message, label),
                user_id=STAFF,
                chat_id=GROUP,
                chat_type="supergroup",
                first_name="Sơn",
                message_id=message.result["message_id"],
                message_text=message.params["text"],
                reply_markup=message.params["reply_markup"],
            )
        )
        return (await fake.wait_for("answerCallbackQuery", count=before + 1))[-1]

    async def reply_to(self, message: Call, text: str) -> Call:
        """Write ``text`` as a reply to a message of the bot in the group; returns the bot's answer."""
        fake = self.rig.telegram
        before = len(self.rig.group())
        update = tg_text_update(text, user_id=STAFF, chat_id=GROUP, first_name="Sơn")
        update["message"]["chat"] = chat_dict(GROUP, "supergroup")
        update["message"]["reply_to_message"] = {
            "message_id": message.result["message_id"],
            "date": int(time.time()),
            "chat": chat_dict(GROUP, "supergroup"),
            "from": fake.bot_user,
            "text": message.params["text"],
        }
        fake.push_update(update)
        calls = await fake.wait_for(
            "sendMessage", count=before + 1, predicate=lambda c: c.params.get("chat_id") == GROUP and c.status == 200
        )
        return calls[-1]


async def file_complaint(person: Reporter, photos: list[bytes] | None = None) -> str:
    """The guided report, every choice answered by its number; returns the tracking code."""
    assert "vấn đề gì" in await person.say("/phananh", replies=2)
    assert "mua hàng ở đâu" in await person.choose("Hàng giả")
    await person.choose("Shopee")
    assert "đường link" in await person.say("Shop Mỹ Phẩm Hoa Hồng")
    await person.say("https://shopee.vn/hoahong")
    assert "ngày nào" in await person.say("Son môi Dior")
    await person.choose("Hôm qua")
    assert "gửi ảnh" in await person.say("Son bị chảy, mùi lạ, vỏ hộp in sai chính tả")
    if photos:
        assert f"Đã nhận {len(photos)} ảnh" in await person.send_images(photos)
        assert "địa bàn nào" in await person.choose("Xong")
    else:
        assert "địa bàn nào" in await person.choose("Bỏ qua")
    assert "Số điện thoại" in await person.choose("Đồng Xoài")
    assert "đồng ý để cán bộ gọi" in await person.say("0912 345 678")
    assert "kiểm tra lại phản ánh" in await person.choose("Đồng ý")
    receipt = await person.choose("Gửi phản ánh")
    assert "Đã gửi phản ánh" in receipt, receipt
    match = CODE.search(receipt)
    assert match, receipt
    return match.group(0)


def card_of(rig: Rig, code: str) -> Call:
    return next(c for c in rig.group() if c.params["text"].startswith(f"🚨 PHẢN ÁNH {code}"))


# ----------------------------------------------------------------------------------------------------------
# 1. A question
# ----------------------------------------------------------------------------------------------------------


@ZALO
async def test_a_question_is_answered(rig: Rig, channel: str) -> None:
    lan = reporter(rig, channel)
    answer = await lan.say(QUESTION)
    assert "100%" in answer and "Căn cứ" in answer
    assert "1. 👍 Hữu ích" in answer and "Trả lời bằng số" in answer  # buttons as numbered options
    assert rig.group() == []  # a question never reaches the staff group


# ----------------------------------------------------------------------------------------------------------
# 2. A complaint with two photos, filed and routed
# ----------------------------------------------------------------------------------------------------------


@ZALO
async def test_a_complaint_with_two_photos_reaches_the_lead_agency_group(rig: Rig, channel: str) -> None:
    lan = reporter(rig, channel)
    photos = [jpeg(f"{channel}-evidence-{i}", 20_000 + i) for i in range(2)]
    code = await file_complaint(lan, photos)
    assert f"Mã tra cứu của bạn: {code}" in "\n".join(lan.last) and f"/tracuu {code}" in "\n".join(lan.last)
    await rig.lead()

    [album] = rig.group(GROUP, "sendMediaGroup")
    assert [item["media"].data for item in album.params["media"]] == photos  # the photos the reporter sent
    card = card_of(rig, code)
    text = card.params["text"]
    assert "Cục QLTT chủ trì" in text and "Ảnh: 2" in text and "Son môi Dior" in text
    assert {"zalo_bot": "· Zalo\n", "zalo_oa": "· Zalo OA\n"}[channel] in text  # the reporter's channel
    assert "09xx xxx 678" in text and "0912 345 678" not in text
    assert "📥 Tiếp nhận" in str(card.params["reply_markup"])
    [copy] = rig.group(COORDINATOR)
    assert copy.params["text"].startswith(f"📋 BẢN SAO — PHẢN ÁNH {code}")
    async with rig.app.db.unit_of_work() as uow:
        complaint = await uow.complaints.get(code)
        assert complaint is not None and complaint.channel == channel and complaint.chat_id == lan.user
        assert len(await uow.complaints.photos(complaint.id)) == 2


# ----------------------------------------------------------------------------------------------------------
# 3. Staff on Telegram answer a reporter on Zalo
# ----------------------------------------------------------------------------------------------------------


@ZALO
async def test_staff_acknowledge_and_reply_on_telegram_and_the_zalo_reporter_hears_the_agency(
    rig: Rig, channel: str
) -> None:
    lan = reporter(rig, channel)
    code = await file_complaint(lan)
    await rig.lead()
    card = card_of(rig, code)
    son = Staff(rig)

    answer = await son.press(card, "Tiếp nhận")
    assert answer.params.get("show_alert") is True and f"Đã tiếp nhận {code}" in answer.params["text"]
    await son.press(card, "Trả lời người phản ánh")
    [prompt] = await rig.telegram.wait_for(
        "sendMessage", predicate=lambda c: c.params["chat_id"] == GROUP and "nhập nội dung trả lời" in c.params["text"]
    )
    done = await son.reply_to(prompt, "Chúng tôi sẽ kiểm tra cửa hàng trong hôm nay và báo lại bạn.")
    assert "Đã gửi trả lời tới người phản ánh" in done.params["text"]
    before = len(lan.texts())
    await rig.lead()

    new = lan.texts()[before:]
    assert len(new) == 2
    [status] = [t for t in new if t.startswith("📬")]  # (the sender delivers concurrently: any order)
    [reply] = [t for t in new if t.startswith("💬")]
    assert f"📬 Phản ánh {code} của bạn đã được {LEAD} tiếp nhận" in status
    assert reply.startswith(f"💬 {LEAD} trả lời về phản ánh {code} của bạn:")
    assert "kiểm tra cửa hàng trong hôm nay" in reply
    assert "Sơn" not in status + reply  # in the agency's name, never the officer's
    assert "1. 🔎 Xem trạng thái" in reply
    edit = next(c for c in rig.telegram.calls_of("editMessageText") if c.params["chat_id"] == GROUP)
    assert (
        "Trạng thái: 📥 Đã tiếp nhận" in edit.params["text"] and edit.params["message_id"] == card.result["message_id"]
    )

    # The options of a message the outbox delivered answer by number too (signed by the sender).
    view = await lan.choose("Xem trạng thái")
    assert code in view and "Đã được Cục Quản lý thị trường tỉnh Bình Phước tiếp nhận" in view
    assert "đã trả lời" in view


# ----------------------------------------------------------------------------------------------------------
# 4. A countdown subscription and a reminder
# ----------------------------------------------------------------------------------------------------------


@ZALO
async def test_a_zalo_subscriber_gets_the_reminder_when_it_falls_due(rig: Rig, channel: str) -> None:
    lan = reporter(rig, channel)
    assert "với tư cách nào" in await lan.say("/nhacnho")
    assert "Đã bật nhắc lịch" in await lan.choose("Người tiêu dùng")
    slot = next(s for s in reminder_slots(rig.app.config) if s.at > rig.clock.now())
    await rig.lead()
    before = len(lan.texts())

    rig.clock.set(slot.at)  # the reminder's moment: the scheduler's job fires it
    fired = [r for r in await ReminderService(rig.app.db, rig.app.config, rig.clock).fire_due() if r.recipients]
    assert [(r.slot.id, r.status, r.recipients) for r in fired] == [(slot.id, "queued", 1)]
    await rig.lead()

    [reminder] = lan.texts()[before:]
    assert reminder.startswith(("⏰ Nhắc lịch", "🎉", "🔥", "⌛")) and "Online Friday" in reminder
    assert "1. 🔕 Tắt nhắc lịch" in reminder
    [row] = await rig.outbox("reminder")
    assert (row.channel, row.chat_id, row.status) == (channel, lan.user, "sent")
    assert "Đã tắt nhắc lịch" in await lan.choose("Tắt nhắc lịch")  # answered from the reminder itself


async def test_an_oa_subscriber_outside_the_7_day_window_stays_subscribed(rig: Rig) -> None:
    lan = reporter(rig, "zalo_oa")
    await lan.say("/nhacnho")
    assert "Đã bật nhắc lịch" in await lan.choose("Người tiêu dùng")
    await rig.lead()
    slot = next(s for s in reminder_slots(rig.app.config) if s.at > rig.clock.now())
    lan.cut_off()  # no message from the user for 7 days: the OA may not write (-230)
    rig.clock.set(slot.at)
    await ReminderService(rig.app.db, rig.app.config, rig.clock).fire_due()
    await rig.lead()
    assert lan.refused() == 1
    [row] = await rig.outbox("reminder")
    assert row.status == "failed" and row.last_error.startswith("unreachable")
    async with rig.app.db.unit_of_work() as uow:  # not a refusal: the next reminder is still due to them
        subscription = await uow.subscriptions.get("zalo_oa", lan.user)
        assert subscription is not None and subscription.active


# ----------------------------------------------------------------------------------------------------------
# 5. A reporter who cannot be reached: -230 on the OA, blocked on the Zalo Bot (and on Telegram)
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["zalo_oa", "zalo_bot", "telegram"])
async def test_a_reply_that_cannot_reach_the_reporter_is_told_to_the_staff_group_once(rig: Rig, channel: str) -> None:
    lan = reporter(rig, channel)
    code = await file_complaint(lan)
    await rig.lead()
    card = card_of(rig, code)
    son = Staff(rig)
    await son.press(card, "Tiếp nhận")
    await rig.lead()
    assert f"đã được {LEAD} tiếp nhận" in lan.texts()[-1]  # still reachable then

    lan.cut_off()
    done = await son.reply_to(card, "Bạn cho chúng tôi xin số đơn hàng trên Shopee nhé.")
    assert "Đã gửi trả lời tới người phản ánh" in done.params["text"]
    delivered = len(lan.texts())
    await rig.lead()
    await rig.lead()  # again: the failed row is never tried again, the group never told twice

    assert lan.refused() == 1 and len(lan.texts()) == delivered
    [failed] = [r for r in await rig.outbox("case_notice") if r.status == "failed"]
    assert failed.chat_id == lan.user and failed.last_error.startswith("unreachable: ")
    notices = [c for c in rig.group() if c.params["text"].startswith("⚠️ Không liên lạc được")]
    assert len(notices) == 1
    text = notices[0].params["text"]
    name = {"zalo_oa": "Zalo OA", "zalo_bot": "Zalo", "telegram": "Telegram"}[channel]
    assert f"Không liên lạc được với người phản ánh {code} qua {name}:" in text
    why = "trong 7 ngày qua" if channel == "zalo_oa" else "đã chặn trợ lý"
    assert why in text and "số đơn hàng trên Shopee" in text
    assert "liên hệ người phản ánh bằng cách khác" in text and "09xx xxx 678" in text and "0912" not in text
    assert notices[0].params["reply_parameters"]["message_id"] == card.result["message_id"]  # under the card
    assert rig.group(COORDINATOR)[-1].params["text"].startswith("📋 BẢN SAO")  # the copy agency is not told

    shown = await son.press(notices[0], "Xem liên hệ")
    assert shown.params["show_alert"] is True and "0912 345 678" in shown.params["text"]
