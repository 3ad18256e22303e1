"""Tests of the Telegram Bot API fake, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

try:  # run from the repository root with it on sys.path ...
    from tests.support.fakes.telegram_api import (
        FakeTelegramAPI,
        UploadedFile,
        callback_update,
        document_update,
        photo_update,
        sticker_update,
        text_update,
    )
except ModuleNotFoundError:  # ... or with pytest's default rootdir-less import of tests/
    from fakes.telegram_api import (
        FakeTelegramAPI,
        UploadedFile,
        callback_update,
        document_update,
        photo_update,
        sticker_update,
        text_update,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


def make_bot(fake: FakeTelegramAPI, token: str | None = None) -> Bot:
    return Bot(token or fake.token, base_url=fake.api_base_url, base_file_url=fake.file_base_url)


@contextlib.asynccontextmanager
async def running_app(fake: FakeTelegramAPI, *handlers) -> AsyncIterator[Application]:
    app = ApplicationBuilder().token(fake.token).base_url(fake.api_base_url).base_file_url(fake.file_base_url).build()
    for handler in handlers:
        app.add_handler(handler)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_get_me(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        me = await bot.get_me()
    assert me.username == "sct_test_bot"
    assert me.is_bot and me.id == 123456
    assert fake.calls_of("getMe")


async def test_wrong_token_and_unknown_method(fake: FakeTelegramAPI) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(fake, token="999:wrong"):  # initialize() calls getMe
            pass
    assert fake.count_401 == 1 and not fake.calls

    async with make_bot(fake) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.api_base_url}{fake.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{fake.api_base_url}bad:token/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_text_update_reaches_handler_and_reply_is_recorded(fake: FakeTelegramAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user.language_code == "vi"
        await update.message.reply_text(f"echo: {update.message.text}")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"welcome {' '.join(context.args)}".strip())

    async with running_app(fake, CommandHandler("start", start), MessageHandler(filters.TEXT & ~filters.COMMAND, echo)):
        update_id = fake.push_update(text_update("Xin chào", user_id=42))
        assert update_id == 1
        fake.push_update(text_update("/start abc", user_id=43, first_name="Bình"))
        await fake.wait_for("sendMessage", count=2, timeout=5)

    assert fake.sent_texts(chat_id=42) == ["echo: Xin chào"]
    assert fake.sent_texts(43) == ["welcome abc"]
    call = fake.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == 42 and isinstance(call.params["chat_id"], int)
    # Updates were confirmed through the getUpdates offset.
    assert fake.pending_updates == []
    assert any(c.params.get("offset") == 3 for c in fake.calls_of("getUpdates"))
    assert fake.calls_of("deleteWebhook")


async def test_inline_keyboard_is_recorded_decoded(fake: FakeTelegramAPI) -> None:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Có", callback_data="yes"), InlineKeyboardButton("Không", callback_data="no")]]
    )
    async with make_bot(fake) as bot:
        message = await bot.send_message(chat_id=7, text="Bạn có muốn?", reply_markup=markup)
        second = await bot.send_message(chat_id=7, text="123")
    params = fake.calls_of("sendMessage")[0].params
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Có", "callback_data": "yes"}, {"text": "Không", "callback_data": "no"}]]
    }
    assert message.reply_markup == markup
    assert message.chat.id == 7 and message.text == "Bạn có muốn?"
    assert (message.message_id, second.message_id) == (1, 2)
    # A numeric-looking text stays a string.
    assert fake.calls_of("sendMessage")[1].params["text"] == "123"


async def test_callback_query_answer_and_edit(fake: FakeTelegramAPI) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("OK")
        await query.edit_message_text(f"Bạn chọn: {query.data}")

    async with running_app(fake, CallbackQueryHandler(on_button)):
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "pick:a"}]]}
        update = callback_update("pick:a", user_id=55, message_id=9, message_text="Chọn", reply_markup=markup)
        fake.push_update(update)
        [answer] = await fake.wait_for("answerCallbackQuery")
        [edit] = await fake.wait_for("editMessageText")

    assert answer.params["callback_query_id"] == update["callback_query"]["id"]
    assert answer.params["text"] == "OK"
    assert edit.params["chat_id"] == 55
    assert edit.params["message_id"] == 9
    assert edit.params["text"] == "Bạn chọn: pick:a"


async def test_get_file_and_download(fake: FakeTelegramAPI) -> None:
    payload = bytes(range(256)) * 10
    fake.add_file("PHOTO-BIG", payload, file_path="photos/file_1.jpg")

    got: list[bytes] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        photo = update.message.photo[-1]
        file = await photo.get_file()
        got.append(bytes(await file.download_as_bytearray()))
        await update.message.reply_text(f"{photo.width}x{photo.height}")

    async with running_app(fake, MessageHandler(filters.PHOTO, on_photo)):
        fake.push_update(
            photo_update(
                [("PHOTO-BIG", 1280, 960, len(payload)), ("PHOTO-SMALL", 90, 67, 1200)],
                user_id=5,
                caption="ảnh",
            )
        )
        await fake.wait_for("sendMessage")

    assert got == [payload]
    assert fake.sent_texts(5) == ["1280x960"]
    assert fake.downloads == ["photos/file_1.jpg"]

    async with make_bot(fake) as bot:
        file = await bot.get_file("PHOTO-BIG")
        assert file.file_size == len(payload)
        assert file.file_path == f"{fake.file_base_url}{fake.token}/photos/file_1.jpg"
        assert bytes(await file.download_as_bytearray()) == payload
        with pytest.raises(BadRequest, match=r"(?i)wrong file_id"):
            await bot.get_file("UNKNOWN")


async def test_update_factories_parse_in_ptb(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        await bot.send_message(chat_id=1001, text="hello")  # message 1 in the chat
        photo = photo_update([("B", 800, 600, 5000), ("A", 90, 90, 300)], media_group_id="g1")
        doc = document_update("D1", "danh_sach.xlsx", "application/vnd.ms-excel", 2048, caption="file")
        sticker = sticker_update()
        group = text_update("/help@sct_test_bot", user_id=9, chat_type="group")
        for raw in (photo, doc, sticker, group):
            fake.push_update(raw)
        updates = await bot.get_updates(timeout=0)

    assert [u.update_id for u in updates] == [1, 2, 3, 4]
    p, d, s, g = (u.message for u in updates)
    assert [x.file_id for x in p.photo] == ["A", "B"] and p.media_group_id == "g1"
    assert p.message_id == 2 and d.message_id == 3  # continues after the bot's own message
    assert d.document.file_name == "danh_sach.xlsx" and d.caption == "file"
    assert s.sticker.emoji == "👍"
    assert g.chat.type == "group" and g.chat.id < 0
    assert g.entities[0].type == "bot_command" and g.entities[0].length == len("/help@sct_test_bot")
    assert p.from_user.to_dict() == s.from_user.to_dict()


async def test_global_rate_limit_gives_429(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with FakeTelegramAPI(global_rate=5, retry_after=3) as fake, make_bot(fake) as bot:
        for i in range(5):
            await bot.send_message(chat_id=100 + i, text="ok")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(chat_id=200, text="too many")
        assert info.value.retry_after == dtm.timedelta(seconds=3)
        # Chat actions do not count toward the message limits.
        await bot.send_chat_action(chat_id=200, action="typing")

        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{fake.api_base_url}{fake.token}/sendMessage", data={"chat_id": "1", "text": "x"}) as resp,
        ):
            assert resp.status == 429
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
    assert fake.count_429 == 2
    assert len(fake.calls_of("sendMessage")) == 5
    assert [c.params["text"] for c in fake.rejected] == ["too many", "x"]


async def test_per_chat_and_group_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with FakeTelegramAPI(per_chat_rate=1, group_per_minute=3) as fake, make_bot(fake) as bot:
        await bot.send_message(chat_id=1, text="a")
        with pytest.raises(RetryAfter):
            await bot.send_message(chat_id=1, text="b")
        await bot.send_message(chat_id=2, text="c")  # another chat has its own window

        for i in range(3):
            await bot.send_message(chat_id=-100, text=f"g{i}")
            fake._chat_windows.clear()  # isolate the per-minute group limit from the per-second one
        with pytest.raises(RetryAfter):
            await bot.send_message(chat_id=-100, text="g3")
    assert fake.count_429 == 2
    assert fake.sent_texts(-100) == ["g0", "g1", "g2"]


async def test_blocked_chat_gives_403() -> None:
    async with FakeTelegramAPI(blocked_chats={666}) as fake, make_bot(fake) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(chat_id=666, text="hi")
        await bot.send_message(chat_id=667, text="hi")
    assert fake.count_403 == 1
    assert [(c.method, c.status) for c in fake.rejected] == [("sendMessage", 403)]
    assert fake.sent_texts() == ["hi"]


async def test_failure_injection(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        fake.fail_next("sendMessage", 500)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(chat_id=1, text="one")
        fake.fail_next("sendMessage", "network")
        with pytest.raises(NetworkError):
            await bot.send_message(chat_id=1, text="two")
        message = await bot.send_message(chat_id=1, text="three")
    assert message.text == "three"
    assert [(c.params["text"], c.status) for c in fake.failed] == [("one", 500), ("two", 0)]
    assert fake.sent_texts(1) == ["three"]


async def test_long_poll_wakes_on_push_and_times_out(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await bot.get_updates(timeout=0.3) == ()
        assert loop.time() - started >= 0.25

        loop.call_later(0.1, fake.push_update, text_update("late"))
        started = loop.time()
        updates = await bot.get_updates(timeout=5)
        assert loop.time() - started < 2
        assert [u.message.text for u in updates] == ["late"]

        fake.push_update(text_update("a"))
        fake.push_update(text_update("b"))
        assert [u.update_id for u in await bot.get_updates(offset=2, limit=1)] == [2]
        assert [u.update_id for u in await bot.get_updates(offset=3)] == [3]
        assert await bot.get_updates(offset=4) == ()
        assert fake.pending_updates == []


async def test_webhook_recording(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        fake.push_update(text_update("old"))
        await bot.set_webhook("https://example.invalid/hook", secret_token="s3", allowed_updates=["message"])
        info = await bot.get_webhook_info()
        assert info.url == "https://example.invalid/hook" and info.pending_update_count == 1
        assert fake.webhook["allowed_updates"] == ["message"] and fake.webhook["secret_token"] == "s3"
        await bot.delete_webhook(drop_pending_updates=True)
        assert fake.webhook is None and fake.pending_updates == []
        await bot.set_my_commands([("start", "Bắt đầu"), ("help", "Trợ giúp")])
    assert fake.commands == [
        {"command": "start", "description": "Bắt đầu"},
        {"command": "help", "description": "Trợ giúp"},
    ]


async def test_uploads_media_group_and_json_bodies(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        sent = await bot.send_photo(chat_id=3, photo=b"\x89PNG-bytes", caption="<b>Poster</b>", parse_mode="HTML")
        assert sent.caption == "Poster" and sent.photo[-1].file_size == len(b"\x89PNG-bytes")
        group = await bot.send_media_group(
            chat_id=3,
            media=[InputMediaPhoto(b"one", caption="1"), InputMediaPhoto("AgAC-existing")],
        )
        assert len(group) == 2 and group[0].media_group_id == group[1].media_group_id
        await bot.send_document(chat_id=3, document=b"%PDF", filename="ke_hoach.pdf")
        await bot.edit_message_caption(chat_id=3, message_id=sent.message_id, caption="new")
        await bot.edit_message_reply_markup(chat_id=3, message_id=sent.message_id)
        await bot.delete_message(chat_id=3, message_id=sent.message_id)
        chat = await bot.get_chat(3)
        assert chat.id == 3 and chat.type == "private"

    photo = fake.calls_of("sendPhoto")[0].params["photo"]
    assert isinstance(photo, UploadedFile) and photo.data == b"\x89PNG-bytes"
    media = fake.calls_of("sendMediaGroup")[0].params["media"]
    assert media[0]["media"].data == b"one" and media[0]["caption"] == "1"
    assert media[1] == {"type": "photo", "media": "AgAC-existing"}
    assert fake.calls_of("sendDocument")[0].params["document"].filename == "ke_hoach.pdf"
    # Uploaded photos can be fetched back like any Telegram file.
    assert fake.files[sent.photo[-1].file_id].data == b"\x89PNG-bytes"

    async with aiohttp.ClientSession() as http:
        body = {"chat_id": "-100123", "text": "json", "reply_markup": {"inline_keyboard": []}}
        async with http.post(f"{fake.api_base_url}{fake.token}/SENDMESSAGE", json=body) as resp:
            result = await resp.json()
        assert result["ok"] and result["result"]["chat"]["type"] == "supergroup"
        form = {"chat_id": "5", "text": "true", "reply_markup": json.dumps({"force_reply": True})}
        async with http.post(f"{fake.api_base_url}{fake.token}/sendMessage", data=form) as resp:
            assert "reply_markup" not in (await resp.json())["result"]  # only inline keyboards echo
    last = fake.calls_of("sendMessage")
    assert last[0].params == {"chat_id": -100123, "text": "json", "reply_markup": {"inline_keyboard": []}}
    assert last[1].params == {"chat_id": 5, "text": "true", "reply_markup": {"force_reply": True}}


async def test_wait_for_timeout_reports_what_arrived(fake: FakeTelegramAPI) -> None:
    async with make_bot(fake) as bot:
        await bot.send_message(chat_id=1, text="only one")
    with pytest.raises(AssertionError, match=r"(?s)waiting for 2 sendMessage.*got 1.*only one"):
        await fake.wait_for("sendMessage", count=2, timeout=0.2)
    assert await fake.wait_for("sendMessage", predicate=lambda c: c.params["text"] == "only one")
    fake.reset()
    assert fake.calls == [] and fake.sent_texts() == []
