"""Telegram rigs: settings for the fake Bot API, a staffed configuration with Telegram groups, and a reporter
who talks to the real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.app import App, create_app
from bot.channels.telegram import TelegramChannel
from bot.inbox import Inbox
from bot.sender import OutboxSender
from bot.settings import Settings
from handlers.cases.intake import route_pending
from handlers.cases.posting import link_sent
from handlers.clock import FixedClock
from handlers.config import AppConfig
from tests.support.cases import FAST
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.fakes.telegram_api import Call, FakeTelegramAPI, callback_update, photo_update, text_update


def make_settings(fake: FakeTelegramAPI, tmp_path: Path, **extra) -> Settings:
    """Settings for the fake Bot API; a migrated SQLite file in ``tmp_path`` unless ``database_url`` is given."""
    if "database_url" not in extra:
        extra["database_url"] = migrated_sqlite(tmp_path / "tg.db")
    return Settings(
        _env_file=None,
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.api_base_url,
        telegram_file_base_url=fake.file_base_url,
        **extra,
    )


def inbox_channel(settings: Settings, app: App, **extra) -> TelegramChannel:
    """A Telegram channel as ``run`` makes it: every update stored in the inbox before it is acknowledged."""
    assert app.dispatcher is not None
    return TelegramChannel(settings, app.dispatcher.handle, inbox=Inbox(app.db), **extra)


GROUP = -1001234567890  # Cục QLTT's staff group
COORDINATOR = -1005550000000  # Phòng QLTM's group (a copy)
STAFF = 9001


def telegram_config() -> AppConfig:
    base = plan_2024().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["chats"] = {"telegram": [str(GROUP)]}
        if agency["id"] == "qltm":
            agency["chats"] = {"telegram": [str(COORDINATOR)]}
    base["staff"] = [{"channel": "telegram", "user_id": str(STAFF), "name": "Trần Văn Sơn", "agency": "qltt"}]
    return AppConfig.model_validate(base)


def tg_topics_config() -> AppConfig:
    """:func:`telegram_config` with Cục QLTT's group a forum that has a topic per case (``topics: true``)."""
    base = telegram_config().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["topics"] = True
    return AppConfig.model_validate(base)


USER = 4242
QUIET = 0.3  # album quiet time in these tests


@dataclass
class ReporterRig:
    """A reporter (user ``USER``) talking to the app through the fake Bot API."""

    fake: FakeTelegramAPI
    app: App
    channel: TelegramChannel
    replies: int = 0
    user: int = USER

    def sent(self) -> list[Call]:
        return [c for c in self.fake.calls_of("sendMessage") if c.params["chat_id"] == self.user]

    async def expect(self, count: int = 1) -> list[Call]:
        """Wait for ``count`` more replies to the user; return them."""
        self.replies += count
        calls = await self.fake.wait_for(
            "sendMessage", count=self.replies, predicate=lambda c: c.params["chat_id"] == self.user
        )
        return calls[self.replies - count : self.replies]

    async def say(self, text: str, replies: int = 1) -> str:
        self.fake.push_update(text_update(text, user_id=self.user))
        return "\n".join(c.params["text"] for c in await self.expect(replies))

    async def press(self, label: str, replies: int = 1) -> str:
        last = self.sent()[-1]
        data = next(
            b["callback_data"]
            for row in last.params["reply_markup"]["inline_keyboard"]
            for b in row
            if label in b["text"]
        )
        self.fake.push_update(
            callback_update(
                data, user_id=self.user, message_text=last.params["text"], reply_markup=last.params["reply_markup"]
            )
        )
        return "\n".join(c.params["text"] for c in await self.expect(replies))


async def to_photos(rig: ReporterRig) -> None:
    assert "vấn đề gì" in await rig.say("/phananh", replies=2)
    assert "mua hàng ở đâu" in await rig.press("Hàng giả")
    await rig.say("Shopee")
    await rig.say("Shop Mỹ Phẩm Hoa Hồng")
    await rig.say("https://shopee.vn/hoahong")
    await rig.say("Son môi Dior")
    await rig.say("hôm qua")
    assert "gửi ảnh" in await rig.say("Son bị chảy, mùi lạ, vỏ hộp in sai chính tả")


def push_album(rig: ReporterRig, served: list[bytes], group: str, caption_on: int = 1) -> None:
    for i, data in enumerate(served):
        big = f"{group}-big-{i}"
        rig.fake.add_file(big, data, file_path=f"photos/{group}_{i}.jpg")
        sizes = [(f"{group}-thumb-{i}", 90, 90, 1_000), (big, 1280, 960, len(data))]
        caption = "Vỏ hộp in sai" if i == caption_on else None
        rig.fake.push_update(photo_update(sizes, user_id=rig.user, media_group_id=group, caption=caption))


@dataclass
class CaseRig:
    fake: FakeTelegramAPI
    app: App
    channel: TelegramChannel
    clock: FixedClock

    async def deliver(self, timeout: float = 30) -> None:
        """The leader's work: route the staff rows, deliver the outbox through the Bot API, link ids."""
        app = self.app
        await route_pending(app.db, app.config, self.clock.now(), media=app.media)
        sender = OutboxSender(
            app.db,
            {"telegram": self.channel.deliver},
            edits={"telegram": self.channel.edit},
            clock=self.clock,
            codec=app.codec,
            limiter=self.channel.limiter,
            options=FAST,
        )
        await asyncio.wait_for(sender.run(until_empty=True), timeout)
        await link_sent(app.db)

    def to(self, chat: int, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.fake.calls_of(method) if c.params.get("chat_id") == chat and c.status == 200]


@asynccontextmanager
async def case_rig(
    tmp_path: Path, config: AppConfig, *, database_url: str | None = None, **limits: float
) -> AsyncIterator[CaseRig]:
    """The app under ``config`` with its Telegram channel on the fake Bot API (``limits``: the fake's, e.g.
    ``group_per_minute``), and the leader's delivery; on ``database_url`` if given (else SQLite in ``tmp_path``)."""
    async with FakeTelegramAPI(**limits) as fake:
        url = {"database_url": database_url} if database_url else {}
        settings = make_settings(
            fake, tmp_path, media_dir=tmp_path / "media", album_quiet_seconds=QUIET, album_max_wait_seconds=3, **url
        )
        clock = FixedClock(DEFAULT_NOW)
        app = create_app(settings, clock=clock, config=config, knowledge=shared_knowledge())
        async with app:
            channel = inbox_channel(settings, app)
            app.register_downloader(channel.name, channel.download_to)
            await channel.start()
            try:
                yield CaseRig(fake, app, channel, clock)
            finally:
                await channel.stop()


async def file_with_album(reporter: ReporterRig, photos: list[bytes], album: str = "case-album") -> str:
    """The reporter files the usual report with ``photos`` as one album; returns its code."""
    await to_photos(reporter)
    push_album(reporter, photos, album)
    await reporter.expect(1)
    await reporter.press("Xong")
    await reporter.say("Đồng Xoài")
    await reporter.say("0912 345 678")
    await reporter.press("Đồng ý")
    receipt = await reporter.press("Gửi phản ánh")
    return receipt.split("Mã tra cứu của bạn: ")[1].split()[0]
