"""Issue 16 over the real channels: a reporter on Telegram (inline buttons) and on the Zalo Bot API (numbered
options answered by number), staff of Cục QLTT in their Telegram group; one process wired like ``run``.

Drafts kept across a command, cancel asked before it deletes, a kind of problem named in a sentence, digits of
other scripts and NUL as answers, and the card in the staff group with every phone number masked (the contact
and one typed inside the description)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from handlers import texts
from handlers.matching import fold_text
from storage.models import Conversation
from tests.support.fakes.telegram_api import Call, FakeTelegramAPI, callback_update
from tests.support.fakes.telegram_api import text_update as tg_update
from tests.support.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.support.fakes.zalo_bot_api import text_update as zb_update
from tests.support.telegram import GROUP
from tests.support.wired import Wired, fake_settings, wired

TG_USER = 4343
ZB_USER = "zb-safety"
CODE = re.compile(r"PA-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}")
NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$", re.MULTILINE)


@dataclass
class Person:
    """One reporter: ``say`` types, ``choose`` picks an option (a button press on Telegram, its number on Zalo)."""

    w: Wired
    telegram: FakeTelegramAPI
    zalo: FakeZaloBotAPI
    channel: str

    def _calls(self) -> list[Call]:
        if self.channel == "telegram":
            calls = self.telegram.calls_of("sendMessage")
            return [c for c in calls if c.params.get("chat_id") == TG_USER and c.status == 200]
        return [c for c in self.zalo.calls_of("sendMessage") if c.params.get("chat_id") == ZB_USER and c.status == 200]

    def texts(self) -> list[str]:
        return [c.params["text"] for c in self._calls()]

    async def _answers(self, before: int, replies: int) -> str:
        fake = self.telegram if self.channel == "telegram" else self.zalo
        user = TG_USER if self.channel == "telegram" else ZB_USER
        await fake.wait_for(
            "sendMessage",
            before + replies,
            timeout=10,
            predicate=lambda c: c.params.get("chat_id") == user and c.status == 200,
        )
        channel = self.w.channels[self.channel]
        if hasattr(channel, "drain"):  # the Zalo channels: the step's transaction is over
            await channel.drain()
        return "\n".join(self.texts()[before:])

    async def say(self, text: str, replies: int = 1) -> str:
        before = len(self.texts())
        if self.channel == "telegram":
            self.telegram.push_update(tg_update(text, user_id=TG_USER))
        else:
            self.zalo.push_update(zb_update(text, user_id=ZB_USER, name="Lan"))
        return await self._answers(before, replies)

    async def choose(self, label: str, replies: int = 1) -> str:
        if self.channel != "telegram":
            shown = next(NUMBERED.findall(t) for t in reversed(self.texts()) if NUMBERED.search(t))
            number = next(n for n, option in shown if fold_text(label) in fold_text(option))
            return await self.say(number, replies)
        last = next(c for c in reversed(self._calls()) if c.params.get("reply_markup"))
        rows = last.params["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if fold_text(label) in fold_text(b["text"]))
        before = len(self.texts())
        update = callback_update(
            data,
            user_id=TG_USER,
            message_id=last.result["message_id"],
            message_text=last.params["text"],
            reply_markup=last.params["reply_markup"],
        )
        self.telegram.push_update(update)
        return await self._answers(before, replies)

    async def lead(self) -> None:
        """One round of the leader's work: route the reports, deliver the outbox."""
        await self.w.worker.tick()
        await asyncio.wait_for(self.w.leader.make_sender().run(until_empty=True), 30)
        await self.w.worker.tick()

    def group(self) -> list[str]:
        calls = self.telegram.calls_of("sendMessage")
        return [c.params["text"] for c in calls if c.params.get("chat_id") == GROUP and c.status == 200]


CHANNELS = pytest.mark.parametrize("channel", ["telegram", "zalo_bot"])


@pytest.fixture
async def rigs(db_url: str, tmp_path: Path) -> AsyncIterator[tuple]:
    async with FakeTelegramAPI() as telegram, FakeZaloBotAPI() as zalo:
        settings = fake_settings(db_url, tmp_path, quiet=0.3, telegram=telegram, zalo_bot=zalo)
        async with wired(settings) as w:
            yield w, telegram, zalo


def person(rigs: tuple, channel: str) -> Person:
    w, telegram, zalo = rigs
    return Person(w, telegram, zalo, channel)


async def to_seller(lan: Person) -> None:
    assert "vấn đề gì" in await lan.say("/phananh", replies=2)
    await lan.choose("Hàng giả")
    assert "Tên người bán" in await lan.choose("Shopee")


@CHANNELS
async def test_a_command_keeps_the_draft_and_its_way_back_works(rigs: tuple, channel: str) -> None:
    lan = person(rigs, channel)
    await to_seller(lan)
    await lan.say("Shop Hoa Hồng")
    kept = await lan.say("/start", replies=2)
    assert "vẫn được giữ đến" in kept and "Tiếp tục phản ánh đang viết" in kept + str(lan._calls()[-1].params)
    assert "soạn dở" in await lan.say("/phananh")
    assert "đường link" in await lan.choose("Tiếp tục")


@CHANNELS
async def test_cancel_asks_first_and_the_draft_goes_only_when_confirmed(rigs: tuple, channel: str) -> None:
    lan = person(rigs, channel)
    await to_seller(lan)
    assert "muốn hủy phản ánh đang viết" in await lan.say("hủy")
    assert "Tên người bán" in await lan.choose("Viết tiếp")
    await lan.say("hủy")
    assert "Đã xóa phản ánh đang viết" in await lan.choose("Xóa bản nháp")
    async with lan.w.app.db.unit_of_work() as uow:
        user = TG_USER if channel == "telegram" else ZB_USER
        assert await uow.conversations.get(channel, str(user), str(user)) is None


@CHANNELS
async def test_a_named_kind_starts_the_report_with_it(rigs: tuple, channel: str) -> None:
    lan = person(rigs, channel)
    started = await lan.say("tôi muốn phản ánh hàng kém chất lượng", replies=2)
    assert "ghi nhận vấn đề: Hàng kém chất lượng" in started and "mua hàng ở đâu" in started


@CHANNELS
async def test_odd_digits_and_nul_then_the_staff_card_masks_every_phone(rigs: tuple, channel: str) -> None:
    lan = person(rigs, channel)
    assert "vấn đề gì" in await lan.say("/phananh", replies=2)
    for odd in ("²", "①", "٣", "\x00"):
        answer = await lan.say(odd, replies=2)
        assert texts.APOLOGY not in answer and "vấn đề gì" in answer, (odd, answer)  # told, and asked again
        assert "chưa rõ" in answer or "chưa nhận được nội dung" in answer, (odd, answer)
    await lan.choose("Hàng giả")
    await lan.choose("Shopee")
    assert "đường link" in await lan.say("Shop\x00 Hoa Hồng")
    await lan.say("https://shopee.vn/hoahong")
    await lan.say("Son môi Dior")
    await lan.choose("Hôm qua")
    assert "gửi ảnh" in await lan.say("Son bị chảy. Gọi tôi 0987654321 hoặc lan@example.com nhé")
    await lan.choose("Bỏ qua")
    await lan.choose("Đồng Xoài")
    await lan.say("0912 345 678")
    await lan.choose("Đồng ý")
    receipt = await lan.choose("Gửi phản ánh")
    code = CODE.search(receipt)
    assert code, receipt
    await lan.lead()
    [card] = [t for t in lan.group() if t.startswith(f"🚨 PHẢN ÁNH {code.group(0)}")]
    assert "Shop Hoa Hồng" in card and "\x00" not in card
    assert "0987654321" not in card and "0912 345 678" not in card and "lan@example.com" not in card
    assert "09xx xxx 678" in card
    async with lan.w.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code.group(0))
        assert row is not None and row.seller == "Shop Hoa Hồng" and "0987654321" in row.description
        stuck = await uow.session.get(Conversation, (channel, row.chat_id, row.chat_id))
    assert stuck is None  # nothing left half-way


@CHANNELS
async def test_the_link_step_wants_a_link_and_a_long_description_is_cut_and_said(rigs: tuple, channel: str) -> None:
    lan = person(rigs, channel)
    await to_seller(lan)
    assert "đường link" in await lan.say("🌸🌸")  # two emoji are a name
    assert "chưa thấy đường link" in await lan.say("link đây nè", replies=2)
    assert "Sản phẩm" in await lan.say("không có")
    await lan.say("Son môi Dior")
    await lan.choose("Hôm qua")
    told = await lan.say("Son bị chảy. " * 250, replies=2)  # 3,250 characters: the first 2,000 are kept
    assert "quá giới hạn 2.000" in told and "gửi ảnh" in told
