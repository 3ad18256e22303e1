"""The Zalo Bot API channel against a recording fake on loopback: polling, webhook, choices, delivery."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App, create_app
from bot.channels.base import RateLimited, TemporaryFailure, Unreachable
from bot.channels.texts import split_text
from bot.channels.zalo_bot import SECRET_HEADER, ZaloBotChannel, to_incoming
from bot.channels.zalo_common import MAX_TEXT, with_choices
from bot.inbox import Inbox
from bot.logs import setup_logging
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.clock import FixedClock
from handlers.types import Button, MediaRef, MessageKind, Reply
from storage.inbox import InboxUpdate
from storage.media import MediaTooLarge, NotAnImage
from storage.models import Conversation, User
from storage.zalo import ZaloChoices, ZaloSeenEvent
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.fakes.zalo_bot_api import (
    FakeZaloBotAPI,
    image_update,
    sticker_update,
    text_update,
    unsupported_update,
)
from tests.support.images import jpeg

QUESTION = "online friday giam gia toi da bao nhieu %"


@dataclass
class Rig:
    fake: FakeZaloBotAPI
    app: App
    channel: ZaloBotChannel
    handled: list


def make_settings(fake: FakeZaloBotAPI, tmp_path: Path, **extra) -> Settings:
    return Settings(
        _env_file=None,
        database_url=migrated_sqlite(tmp_path / "zalo.db"),
        media_dir=tmp_path / "media",
        zalo_bot_token=fake.token,
        zalo_bot_api_base_url=fake.api_base_url,
        album_quiet_seconds=1.0,  # generous: the burst tests must not depend on timing
        album_max_wait_seconds=4.0,
        **extra,
    )


def counting(app: App, handled: list):
    assert app.dispatcher is not None
    handle = app.dispatcher.handle

    async def wrapped(msg):
        handled.append(msg)
        return await handle(msg)

    return wrapped


async def make_rig(fake: FakeZaloBotAPI, settings: Settings, server: WebhookServer | None = None):
    app = create_app(settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge())
    await app.start()
    handled: list = []
    channel = ZaloBotChannel(settings, counting(app, handled), app.db, backoff=(0.01, 0.05), inbox=Inbox(app.db))
    app.register_downloader(channel.name, channel.download_to)
    if server is not None:
        channel.attach(server)
        await server.start()
    await channel.start()
    return Rig(fake, app, channel, handled)


async def close_rig(rig: Rig) -> None:
    await rig.channel.stop()
    await rig.app.stop()


@pytest.fixture
async def polling(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeZaloBotAPI() as fake:
        rig = await make_rig(fake, make_settings(fake, tmp_path))
        try:
            yield rig
        finally:
            await close_rig(rig)


async def answered(rig: Rig, update: dict, count: int = 1) -> list[str]:
    """Push an update and return the texts sent back to its chat once ``count`` more messages went out."""
    chat = update["message"]["chat"]["id"]
    before = len(rig.fake.sent_texts(chat))
    rig.fake.push_update(update)
    await rig.fake.wait_for(
        "sendMessage", count=before + count, predicate=lambda c: c.params.get("chat_id") == chat and c.status == 200
    )
    await rig.channel.drain()
    return rig.fake.sent_texts(chat)[before:]


async def test_a_question_is_answered_over_polling_after_idle_408s(polling: Rig) -> None:
    fake = polling.fake
    await fake.wait_for("getUpdates", predicate=lambda c: c.status == 408)  # idle polls end with 408: normal
    [text] = await answered(polling, text_update(QUESTION, name="Lan"))
    assert "100%" in text and "Căn cứ" in text
    assert "\n1. 👍 Hữu ích" in text and "Trả lời bằng số" in text  # buttons rendered as numbered options
    assert len(text) <= MAX_TEXT
    assert fake.calls_of("deleteWebhook")  # polling mode clears any webhook first
    assert all("offset" not in c.params for c in fake.calls_of("getUpdates"))
    async with polling.app.db.unit_of_work() as uow:
        user = await uow.users.get("zalo_bot", "zu1")
    assert user is not None and user.display_name == "Lan"


async def test_numbered_choices_are_answered_by_number_and_by_label(polling: Rig) -> None:
    [menu] = await answered(polling, text_update("/start"))
    assert "5. ☎️ Liên hệ" in menu
    [contact] = await answered(polling, text_update("5"))
    assert "1800 6838" in contact
    await answered(polling, text_update("/start"))
    [by_label] = await answered(polling, text_update("lien he"))  # the label, typed without diacritics
    assert "1800 6838" in by_label
    kinds = [m.kind for m in polling.handled]
    assert kinds.count(MessageKind.BUTTON) == 2
    # A number with no such option is just text (here: not understood as a question, answered anyway).
    await answered(polling, text_update("/start"))
    await answered(polling, text_update("42"))
    assert polling.handled[-1].kind is MessageKind.TEXT and polling.handled[-1].text == "42"


async def test_choices_survive_a_restart_because_they_live_in_the_database(tmp_path: Path) -> None:
    async with FakeZaloBotAPI() as fake:
        settings = make_settings(fake, tmp_path)
        first = await make_rig(fake, settings)
        try:
            await answered(first, text_update("/start"))
        finally:
            await close_rig(first)
        second = await make_rig(fake, settings)  # a new process on the same database
        try:
            [contact] = await answered(second, text_update("5"))
            assert "1800 6838" in contact
        finally:
            await close_rig(second)


async def test_images_stickers_and_unsupported_messages(polling: Rig) -> None:
    fake = polling.fake
    photo = jpeg("zalo-photo", 4096)
    url = fake.add_image("p1.jpg", photo)
    for key in ("photo_url", "photo"):
        msg = to_incoming(image_update(url, key=key, caption="tem giả"))
        assert msg is not None and msg.kind is MessageKind.PHOTO
        assert msg.photos == [MediaRef(url, url=url)] and msg.text == "tem giả"
    replies = await answered(polling, image_update(url))
    assert replies  # a photo outside a report is still answered
    assert polling.handled[-1].kind is MessageKind.PHOTO
    [sticker] = await answered(polling, sticker_update())
    assert "nhãn dán" in sticker
    [other] = await answered(polling, unsupported_update())
    assert "loại tin nhắn này" in other
    assert await polling.channel.download(MediaRef(url, url=url)) == photo


async def test_photos_in_quick_succession_are_one_message_answered_before_what_follows(polling: Rig) -> None:
    fake = polling.fake
    urls = [fake.add_image(f"b{i}.jpg", jpeg(f"burst-{i}")) for i in range(3)]
    fake.push_update(image_update(urls[0], caption="tem giả"))
    fake.push_update(image_update(urls[1], key="photo"))
    fake.push_update(image_update(urls[2]))
    texts = await answered(polling, text_update("/help"), count=2)
    photos = [m for m in polling.handled if m.kind is MessageKind.PHOTO]
    assert len(photos) == 1 and [p.url for p in photos[0].photos] == urls and photos[0].text == "tem giả"
    assert [m.kind for m in polling.handled] == [MessageKind.PHOTO, MessageKind.TEXT]  # in the order sent
    assert "/phananh" in texts[-1]
    # Alone, a burst is answered once the quiet time has passed.
    [answer] = await answered(polling, image_update(urls[0]))
    assert answer and polling.handled[-1].kind is MessageKind.PHOTO and len(polling.handled[-1].photos) == 1


async def test_downloads_check_size_and_type(polling: Rig, tmp_path: Path) -> None:
    fake = polling.fake
    big = fake.add_image("big.jpg", jpeg("big", 50_000))
    page = fake.add_image("page.html", b"<html>expired</html>", content_type="text/html")
    with pytest.raises(MediaTooLarge):
        await polling.channel.download(MediaRef(big, url=big), max_bytes=10_000)
    with pytest.raises(NotAnImage):
        await polling.channel.download(MediaRef(page, url=page))
    target = tmp_path / "photo.part"
    await polling.channel.download_to(MediaRef(big, url=big), target, 60_000)
    assert target.read_bytes() == jpeg("big", 50_000)
    stored = await polling.app.media.save(MediaRef(big, url=big), polling.app.downloaders["zalo_bot"])
    assert stored.size == 50_000 and stored.mime == "image/jpeg"


async def test_polling_backs_off_on_errors_and_keeps_going(tmp_path: Path) -> None:
    async with FakeZaloBotAPI() as fake:
        fake.fail_next("getUpdates", 500, times=2)
        fake.fail_next("getUpdates", "network")
        fake.fail_next("getUpdates", 200, error_code=-1, description="temporarily unavailable")
        rig = await make_rig(fake, make_settings(fake, tmp_path))
        try:
            [text] = await answered(rig, text_update("/help"))
            assert "/phananh" in text
            statuses = [c.status for c in fake.calls_of("getUpdates")[:4]]
            assert statuses == [500, 500, 0, 200]
        finally:
            await close_rig(rig)


async def test_a_repeated_message_id_is_handled_once(polling: Rig) -> None:
    update = text_update("/help", message_id="dup-1")
    await answered(polling, update)
    polling.fake.push_update(update)  # the same delivery again
    await answered(polling, text_update("/start"))  # handled after the repeat (same chat, in order)
    assert len(polling.handled) == 2


async def test_deliver_maps_failures_and_renders_the_reply(polling: Rig, tmp_path: Path) -> None:
    fake, channel = polling.fake, polling.channel
    long_text = " ".join(f"Câu số {i} nói về quy định khuyến mại." for i in range(150))
    reply = Reply(long_text, [[Button("Có", "yes"), Button("Không", "no")]])
    message_id = await channel.deliver("zu9", reply)
    parts = fake.sent_texts("zu9")
    assert message_id and len(parts) >= 3 and all(len(p) <= MAX_TEXT for p in parts)
    assert all(p.endswith(".") for p in parts[:-1])  # cut at sentence ends
    assert parts[-1].endswith("1. Có\n2. Không\n👉 Trả lời bằng số thứ tự (ví dụ: 1) hoặc gõ đúng tên lựa chọn.")
    async with polling.app.db.unit_of_work() as uow:
        choices = await uow.zalo.get_choices("zalo_bot", "zu9")
    assert [o["payload"] for o in choices.options] == ["yes", "no"]

    local = tmp_path / "evidence.jpg"
    local.write_bytes(jpeg("local"))
    await channel.deliver("zu9", Reply("Ảnh:", photos=["https://cdn.example.invalid/a.jpg", str(local)]))
    [photo] = fake.calls_of("sendPhoto")
    assert photo.params == {"chat_id": "zu9", "photo": "https://cdn.example.invalid/a.jpg"}
    assert "Kèm 1 ảnh chưa gửi được qua Zalo" in fake.sent_texts("zu9")[-1]

    fake.blocked_chats.add("zu-blocked")
    with pytest.raises(Unreachable):
        await channel.deliver("zu-blocked", Reply("xin chào"))
    fake.fail_next("sendMessage", 429)
    with pytest.raises(RateLimited):
        await channel.deliver("zu9", Reply("xin chào"))
    fake.fail_next("sendMessage", 502)
    with pytest.raises(TemporaryFailure):
        await channel.deliver("zu9", Reply("xin chào"))
    fake.fail_next("sendMessage", "network")
    with pytest.raises(TemporaryFailure):
        await channel.deliver("zu9", Reply("xin chào"))


async def count_rows(app: App) -> tuple[int, ...]:
    async with app.db.unit_of_work() as uow:
        counts = []
        for table in (User, Conversation, ZaloSeenEvent, ZaloChoices, InboxUpdate):
            counts.append((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())
    return tuple(counts)


async def test_webhook_refuses_wrong_secrets_and_answers_the_right_one(tmp_path: Path) -> None:
    async with FakeZaloBotAPI() as fake:
        settings = make_settings(
            fake,
            tmp_path,
            zalo_bot_webhook_url="https://bot.example.invalid/zalo-bot",
            zalo_bot_webhook_secret="zalo-webhook-secret",
        )
        server = WebhookServer("127.0.0.1", 0)
        rig = await make_rig(fake, settings, server)
        try:
            [hook] = fake.calls_of("setWebhook")
            assert hook.params == {"url": "https://bot.example.invalid/zalo-bot", "secret_token": "zalo-webhook-secret"}
            assert not fake.calls_of("getUpdates")
            url = f"http://127.0.0.1:{server.port}/zalo-bot"
            before = await count_rows(rig.app)
            async with aiohttp.ClientSession() as http:

                async def post(i: int) -> int:
                    wrong = ("", "zalo-webhook-secreX", "zalo-webhook-secret-", "Zalo-webhook-secret")[i % 4]
                    headers = {SECRET_HEADER: wrong} if wrong else {}
                    update = {"ok": True, "result": text_update(f"/start {i}", user_id=f"intruder{i}")}
                    async with http.post(url, json=update, headers=headers) as response:
                        return response.status

                statuses = []
                for start in range(0, 1000, 100):
                    statuses += await asyncio.gather(*(post(i) for i in range(start, start + 100)))
                assert statuses == [403] * 1000
                await rig.channel.drain()
                assert rig.handled == [] and await count_rows(rig.app) == before
                assert not fake.calls_of("sendMessage")

                body = {"ok": True, "result": text_update(QUESTION, user_id="zu7")}
                async with http.post(url, json=body, headers={SECRET_HEADER: "zalo-webhook-secret"}) as response:
                    assert response.status == 200
                async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
                    assert response.status == 200
            await fake.wait_for("sendMessage")
            await rig.channel.drain()
            assert "100%" in fake.sent_texts("zu7")[0]
        finally:
            await close_rig(rig)
            await server.stop()


async def test_secrets_never_reach_the_log(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    async with FakeZaloBotAPI() as fake:
        settings = make_settings(fake, tmp_path, zalo_bot_webhook_secret="another-secret-value")
        assert fake.token in settings.secrets() and "another-secret-value" in settings.secrets()
        setup_logging("DEBUG", settings.secrets(), stream=stream)
        try:
            fake.fail_next("getUpdates", 500)
            rig = await make_rig(fake, settings)
            try:
                await answered(rig, text_update("/start"))
                logging.getLogger("test").error("url: %s/bot%s/sendMessage", fake.api_base_url, fake.token)
            finally:
                await close_rig(rig)
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
    log = stream.getvalue()
    assert "getUpdates failed" in log
    assert fake.token not in log and "bot***/sendMessage" in log


def test_long_texts_split_at_sentence_boundaries() -> None:
    text = "Đoạn đầu ngắn.\n\n" + " ".join(f"Câu thứ {i} kết thúc ở đây." for i in range(200))
    parts = split_text(text, MAX_TEXT)
    assert all(0 < len(p) <= MAX_TEXT for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost
    assert all(p.endswith(".") for p in parts)
    word = "x" * 4500  # no boundary at all: hard cuts
    assert [len(p) for p in split_text(word, MAX_TEXT)] == [2000, 2000, 500]
    assert split_text("ngắn", MAX_TEXT) == ["ngắn"]
    assert with_choices("", [Button("A", "a")]).startswith("1. A\n")
