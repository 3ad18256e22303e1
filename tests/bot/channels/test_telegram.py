"""The real python-telegram-bot Application against a fake Bot API on loopback."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from telegram.constants import MessageLimit

from bot.app import App, create_app
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.channels.texts import split_text
from bot.logs import setup_logging
from handlers.clock import FixedClock
from handlers.types import MediaRef
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI, callback_update, photo_update, text_update
from tests.support.telegram import inbox_channel, make_settings

USER = 1001


@dataclass
class Rig:
    fake: FakeTelegramAPI
    app: App
    channel: TelegramChannel


@pytest.fixture
async def polling(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeTelegramAPI() as fake:
        settings = make_settings(fake, tmp_path)
        async with create_app(
            settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
        ) as app:
            channel = inbox_channel(settings, app)
            await channel.start()
            try:
                yield Rig(fake, app, channel)
            finally:
                await channel.stop()


def button_data(call, label: str) -> str:
    for row in call.params["reply_markup"]["inline_keyboard"]:
        for button in row:
            if label in button["text"]:
                return button["callback_data"]
    raise AssertionError(f"no button {label!r}")


async def test_start_and_help_are_answered_over_polling(polling: Rig) -> None:
    fake = polling.fake
    fake.push_update(text_update("/start", user_id=USER, first_name="Lan"))
    [call] = await fake.wait_for("sendMessage", predicate=lambda c: c.params["chat_id"] == USER)
    assert "Xin chào Lan!" in call.params["text"]
    rows = call.params["reply_markup"]["inline_keyboard"]
    labels = [b["text"] for row in rows for b in row]
    assert any("Hỏi đáp về khuyến mại" in label for label in labels) and len(labels) == 6
    assert all(len(b["callback_data"].encode()) <= 64 for row in rows for b in row)

    fake.push_update(text_update("/help", user_id=USER))
    calls = await fake.wait_for("sendMessage", count=2)
    assert "/phananh" in calls[1].params["text"]
    assert fake.calls_of("deleteWebhook")  # polling mode clears any webhook first


async def test_button_press_answers_edits_and_replies(polling: Rig) -> None:
    fake = polling.fake
    fake.push_update(text_update("/start", user_id=USER))
    [menu] = await fake.wait_for("sendMessage")
    data = button_data(menu, "Liên hệ")
    fake.push_update(
        callback_update(
            data,
            user_id=USER,
            message_id=1,  # the fake numbers each chat's messages from 1
            message_text=menu.params["text"],
            reply_markup=menu.params["reply_markup"],
        )
    )
    await fake.wait_for("answerCallbackQuery")
    [edit] = await fake.wait_for("editMessageText")
    assert edit.params["text"].endswith("➡️ ☎️ Liên hệ")
    assert "reply_markup" not in edit.params or not edit.params["reply_markup"]
    calls = await fake.wait_for("sendMessage", count=2)
    assert "1800 6838" in calls[1].params["text"]


async def test_forged_callback_data_is_refused(polling: Rig) -> None:
    fake = polling.fake
    fake.push_update(callback_update("menu:contact~forged00", user_id=USER, message_text="x"))
    [call] = await fake.wait_for("sendMessage")
    assert "không hợp lệ" in call.params["text"]


async def test_photo_is_fetched_with_getfile(polling: Rig) -> None:
    fake = polling.fake
    payload = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    fake.add_file("big-photo", payload, file_path="photos/file_1.jpg")
    assert await polling.channel.download(MediaRef("big-photo")) == payload
    assert fake.calls_of("getFile")[0].params["file_id"] == "big-photo"

    fake.push_update(photo_update([("small", 90, 90, 1000), ("big-photo", 1280, 960, len(payload))], user_id=USER))
    [call] = await fake.wait_for("sendMessage")
    assert "ảnh" in call.params["text"]


async def test_webhook_checks_the_secret_and_answers(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegramAPI() as fake:
        settings = make_settings(
            fake,
            tmp_path,
            telegram_webhook_url="https://bot.example.invalid/telegram",
            telegram_webhook_secret="s3cret-value",
            webhook_listen="127.0.0.1",
            webhook_port=port,
        )
        async with create_app(
            settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
        ) as app:
            channel = inbox_channel(settings, app)
            await channel.start()
            try:
                [hook] = fake.calls_of("setWebhook")
                assert hook.params["secret_token"] == "s3cret-value"
                url = f"http://127.0.0.1:{port}/telegram"
                update = {"update_id": 1, **text_update("/start", user_id=USER)}
                update["message"]["message_id"] = 1
                async with aiohttp.ClientSession() as http:
                    for headers in ({}, {SECRET_HEADER: "wrong"}):
                        async with http.post(url, json=update, headers=headers) as response:
                            assert response.status == 403
                    async with http.post(url, json=update, headers={SECRET_HEADER: "s3cret-value"}) as response:
                        assert response.status == 200
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                [call] = await fake.wait_for("sendMessage")
                assert "Xin chào" in call.params["text"]
                assert len(fake.calls_of("sendMessage")) == 1  # the refused requests changed nothing
            finally:
                await channel.stop()


async def test_the_token_never_reaches_the_log(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    async with FakeTelegramAPI() as fake:
        settings = make_settings(fake, tmp_path)
        setup_logging("DEBUG", settings.secrets(), stream=stream)
        logging.getLogger("httpx").setLevel(logging.DEBUG)
        try:
            async with create_app(
                settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
            ) as app:
                channel = inbox_channel(settings, app)
                await channel.start()
                fake.push_update(text_update("/start", user_id=USER))
                await fake.wait_for("sendMessage")
                logging.getLogger("test").error("token in a message: %s", fake.token)
                await channel.stop()
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            logging.getLogger("httpx").setLevel(logging.WARNING)
    log = stream.getvalue()
    assert "sendMessage" in log  # the request backend logged the request URLs...
    assert fake.token not in log  # ...with the token masked
    assert "bot***/sendMessage" in log


async def test_a_typed_question_gets_its_answer_with_buttons(polling: Rig) -> None:
    fake = polling.fake
    fake.push_update(text_update("online friday giam gia toi da bao nhieu %", user_id=USER))
    [call] = await fake.wait_for("sendMessage")
    assert "100%" in call.params["text"] and "Căn cứ" in call.params["text"]
    labels = [b["text"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "👍 Hữu ích" in labels and "👎 Chưa đúng" in labels
    fake.push_update(
        callback_update(
            button_data(call, "Chưa đúng"),
            user_id=USER,
            message_id=1,
            message_text=call.params["text"],
            reply_markup=call.params["reply_markup"],
        )
    )
    calls = await fake.wait_for("sendMessage", count=2)
    assert "Cảm ơn góp ý" in calls[1].params["text"]


def test_long_texts_are_split_to_fit_telegram() -> None:
    text = "\n".join(f"dòng {i} " + "x" * 100 for i in range(100))
    parts = split_text(text, MessageLimit.MAX_TEXT_LENGTH)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text  # cut at line breaks, nothing lost
