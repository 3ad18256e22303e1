"""The Zalo OA channel against a recording fake: signed webhook, de-duplication, tokens, errors, photos."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.base import RateLimited, TemporaryFailure, Unreachable
from bot.channels.zalo_oa import (
    SIGNATURE_HEADER,
    OutsideMessagingWindow,
    event_id,
    signature,
    to_incoming,
)
from bot.settings import Settings
from handlers.types import Button, MediaRef, MessageKind, Reply
from storage.inbox import InboxUpdate
from storage.models import Conversation, User
from storage.zalo import ZaloChoices, ZaloSeenEvent
from tests.support.databases import migrated_sqlite
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.telegram_api import text_update as tg_text_update
from tests.support.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.support.fakes.zalo_bot_api import text_update as zalo_text_update
from tests.support.fakes.zalo_oa_api import FakeZaloOA, image_event, now_ms, other_event, text_event
from tests.support.images import jpeg, png
from tests.support.processes import checkout_env
from tests.support.zalo_oa import Rig, close_rig, make_rig, make_settings

QUESTION = "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"


# --------------------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------------------


async def test_a_question_is_answered_over_the_oa(rig: Rig) -> None:
    assert await rig.deliver_event(text_event("u-lan", QUESTION)) == 200
    [answer] = rig.fake.texts("u-lan")
    assert "100%" in answer and "Căn cứ" in answer and "1. 👍 Hữu ích" in answer
    [call] = rig.fake.calls_of("message")
    assert call.params["recipient"] == {"user_id": "u-lan"}
    # The pasted pair's age is unknown: it was refreshed at first use, and the new token sent the message.
    assert len(rig.fake.refreshes) == 1 and call.params["_token"] == "access-1"
    assert rig.handled[0].channel == "zalo_oa" and rig.handled[0].user_id == "u-lan"


async def test_numbered_choices_by_number_and_label(rig: Rig) -> None:
    await rig.deliver_event(text_event("u-an", "/start"))
    assert "5. ☎️ Liên hệ" in rig.fake.texts("u-an")[-1]
    await rig.deliver_event(text_event("u-an", "5"))
    assert "1800 6838" in rig.fake.texts("u-an")[-1]
    await rig.deliver_event(text_event("u-an", "/start"))
    await rig.deliver_event(text_event("u-an", "Liên hệ"))
    assert "1800 6838" in rig.fake.texts("u-an")[-1]
    assert [m.kind for m in rig.handled].count(MessageKind.BUTTON) == 2


async def test_other_events_are_answered_politely_or_ignored(rig: Rig) -> None:
    await rig.deliver_event(other_event("u-b", "user_send_sticker", message={"msg_id": "s1", "attachments": []}))
    assert "nhãn dán" in rig.fake.texts("u-b")[-1]
    await rig.deliver_event(other_event("u-b", "user_send_location", message={"msg_id": "l1"}))
    assert "loại tin nhắn này" in rig.fake.texts("u-b")[-1]
    await rig.deliver_event(other_event("u-new", "follow", follower={"id": "u-new"}))
    assert "Xin chào" in rig.fake.texts("u-new")[-1]
    sent = len(rig.fake.calls_of("message"))
    for name in ("oa_send_text", "user_seen_message", "unfollow", "user_received_message"):
        assert await rig.deliver_event(other_event("u-b", name, message={"msg_id": f"x-{name}"})) == 200
    assert len(rig.fake.calls_of("message")) == sent


async def test_images_arrive_as_photos_and_are_downloaded(rig: Rig) -> None:
    first, second = jpeg("oa-1", 6000), png()
    urls = [rig.fake.add_image("a.jpg", first), rig.fake.add_image("b.png", second, "image/png")]
    msg = to_incoming(image_event("u-c", urls, text="hàng giả"))
    assert msg is not None and msg.kind is MessageKind.PHOTO and msg.text == "hàng giả"
    assert [p.url for p in msg.photos] == urls
    assert await rig.channel.download(msg.photos[0]) == first
    stored = await rig.app.media.save(msg.photos[1], rig.app.downloaders["zalo_oa"])
    assert stored.mime == "image/png"
    async with aiohttp.ClientSession() as http:
        for event in (image_event("u-c", urls), image_event("u-c", urls[:1]), text_event("u-c", "/help")):
            assert await rig.post(http, event) == 200
    await rig.channel.drain()
    assert [m.kind for m in rig.handled] == [MessageKind.PHOTO, MessageKind.TEXT]  # one burst, then the text
    assert len(rig.handled[0].photos) == 3
    assert len(rig.fake.texts("u-c")) >= 2 and "/phananh" in rig.fake.texts("u-c")[-1]


async def test_photos_are_sent_by_url_or_uploaded(rig: Rig, tmp_path: Path) -> None:
    local = tmp_path / "evidence.jpg"
    local.write_bytes(jpeg("evidence", 20_000))
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(jpeg("huge", 1_200_000))
    reply = Reply(
        "Ảnh hiện trường:",
        [[Button("Xong", "done")]],
        photos=["https://cdn.example.invalid/x.jpg", str(local), str(huge), str(tmp_path / "missing.jpg")],
    )
    await rig.channel.deliver("u-d", reply)
    [upload] = rig.fake.calls_of("upload")
    assert upload.params["size"] == 20_000 and upload.params["content_type"] == "image/jpeg"
    sent = [c.params["message"] for c in rig.fake.calls_of("message") if c.error_code == 0]
    media = [m["attachment"]["payload"] for m in sent if "attachment" in m]
    assert [p["template_type"] for p in media] == ["media", "media"]
    assert media[0]["elements"] == [{"media_type": "image", "url": "https://cdn.example.invalid/x.jpg"}]
    [attachment_id] = rig.fake.uploads
    assert media[1]["elements"] == [{"media_type": "image", "attachment_id": attachment_id}]
    [text] = rig.fake.texts("u-d")
    assert "Kèm 2 ảnh chưa gửi được qua Zalo" in text and "1. Xong" in text


async def test_long_texts_are_split_to_2000_characters(rig: Rig) -> None:
    text = " ".join(f"Điều {i}: thương nhân phải thông báo khuyến mại." for i in range(120))
    await rig.channel.deliver("u-e", Reply(text))
    parts = rig.fake.texts("u-e")
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert " ".join(parts).split() == text.split()


# --------------------------------------------------------------------------------------------------------
# Webhook security and de-duplication
# --------------------------------------------------------------------------------------------------------


async def count_rows(app: App) -> tuple[int, ...]:
    async with app.db.unit_of_work() as uow:
        counts = []
        for table in (User, Conversation, ZaloSeenEvent, ZaloChoices, InboxUpdate):
            counts.append((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())
    return tuple(counts)


def test_the_signature_is_plain_sha256_of_the_four_parts() -> None:
    body = b'{"event_name":"user_send_text","timestamp":"1700000000000"}'
    expected = hashlib.sha256(b"app" + body + b"1700000000000" + b"key").hexdigest()
    assert signature("app", body, "1700000000000", "key") == f"mac={expected}"


async def test_1000_forged_or_stale_deliveries_are_refused_and_change_nothing(rig: Rig) -> None:
    fake = rig.fake
    before = await count_rows(rig.app)
    messages_before = len(fake.calls_of("message"))

    def forged(i: int) -> tuple[bytes, dict[str, str]]:
        event = text_event(f"intruder-{i}", f"/start {i}")
        body, headers = fake.signed(event)
        kind = i % 5
        if kind == 0:
            headers = {}  # no signature
        elif kind == 1:
            headers[SIGNATURE_HEADER] = "mac=" + "0" * 64
        elif kind == 2:  # signed with another secret
            headers[SIGNATURE_HEADER] = fake.sign(body, event["timestamp"], secret="not-the-secret")
        elif kind == 3:  # the body changed after signing
            body = body.replace(b"/start", b"/help!")
        else:  # correctly signed, but an hour old
            event["timestamp"] = str(int((time.time() - 3600) * 1000))
            body, headers = fake.signed(event)
        return body, headers

    async with aiohttp.ClientSession() as http:

        async def post(i: int) -> int:
            body, headers = forged(i)
            async with http.post(rig.url, data=body, headers=headers) as response:
                return response.status

        statuses = []
        for start in range(0, 1000, 100):
            statuses += await asyncio.gather(*(post(i) for i in range(start, start + 100)))
        async with http.post(rig.url, data=b"not json", headers={SIGNATURE_HEADER: "mac=x"}) as response:
            statuses.append(response.status)
    await rig.channel.drain()
    assert statuses == [403] * 1001
    assert rig.channel.refusals.total == 1001
    assert rig.handled == [] and await count_rows(rig.app) == before
    assert len(fake.calls_of("message")) == messages_before


async def test_a_replayed_delivery_is_processed_once_also_after_a_restart(fake: FakeZaloOA, tmp_path: Path) -> None:
    settings = make_settings(fake, tmp_path)
    event = text_event("u-f", "/help", msg_id="retried-1")
    first = await make_rig(fake, settings)
    try:
        async with aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(*(first.post(http, event) for _ in range(3)))  # Zalo's retries
        await first.channel.drain()
        assert statuses == [200, 200, 200]
        assert len(first.handled) == 1 and len(fake.texts("u-f")) == 1
    finally:
        await close_rig(first)
    second = await make_rig(fake, settings)  # a new process on the same database
    try:
        assert await second.deliver_event(event) == 200
        assert second.handled == [] and len(fake.texts("u-f")) == 1
        assert await second.deliver_event(text_event("u-f", "/help", msg_id="fresh-2")) == 200
        assert len(second.handled) == 1 and len(fake.texts("u-f")) == 2
    finally:
        await close_rig(second)
    assert event_id(event) == "msg:retried-1"


async def test_the_stale_window_is_configurable(fake: FakeZaloOA, tmp_path: Path) -> None:
    rig = await make_rig(fake, make_settings(fake, tmp_path, zalo_oa_webhook_max_age_seconds=7200))
    try:
        old = text_event("u-g", "/help", timestamp=str(int((time.time() - 3600) * 1000)))
        assert await rig.deliver_event(old) == 200
        future = text_event("u-g", "/help", timestamp=str(int((time.time() + 3 * 3600) * 1000)))
        assert await rig.deliver_event(future) == 403
        assert len(rig.handled) == 1
    finally:
        await close_rig(rig)


# --------------------------------------------------------------------------------------------------------
# Delivery errors
# --------------------------------------------------------------------------------------------------------


async def test_delivery_errors_in_common_terms(rig: Rig) -> None:
    fake, channel = rig.fake, rig.channel
    await channel.deliver("u-n", Reply("khởi động"))
    fake.outside_window.add("u-old")
    sent = len(fake.calls_of("message"))
    with pytest.raises(OutsideMessagingWindow) as outside:
        await channel.deliver("u-old", Reply("Phản ánh của bạn đã được xử lý."))
    assert isinstance(outside.value, Unreachable)
    assert len(fake.calls_of("message")) == sent + 1  # tried once, never retried
    fake.fail_next("message", error=-232)
    with pytest.raises(OutsideMessagingWindow):
        await channel.deliver("u-n", Reply("tin"))
    fake.fail_next("message", error=-32)
    with pytest.raises(RateLimited) as limited:
        await channel.deliver("u-n", Reply("tin"))
    assert limited.value.retry_after > 0
    fake.fail_next("message", status=429)
    with pytest.raises(RateLimited):
        await channel.deliver("u-n", Reply("tin"))
    fake.fail_next("message", status=503)
    with pytest.raises(TemporaryFailure):
        await channel.deliver("u-n", Reply("tin"))
    fake.fail_next("message", status="network")
    with pytest.raises(TemporaryFailure):
        await channel.deliver("u-n", Reply("tin"))
    fake.fail_next("message", error=-216)  # an invalid token: refreshed once, then delivered
    assert await channel.deliver("u-n", Reply("tin"))
    assert len(fake.refreshes) == 2


async def test_the_refresh_uses_the_app_secret_and_form(rig: Rig) -> None:
    await rig.channel.deliver("u-o", Reply("tin"))
    [refresh] = rig.fake.refreshes
    assert refresh.params["_secret_key"] == rig.fake.app_secret
    assert refresh.params["app_id"] == rig.fake.app_id and refresh.params["grant_type"] == "refresh_token"


def test_settings_mask_every_zalo_secret() -> None:
    settings = Settings(
        _env_file=None,
        zalo_bot_token="bot-token-123",
        zalo_bot_webhook_secret="bot-hook-secret",
        zalo_oa_app_id="app",
        zalo_oa_secret_key="oa-secret",
        zalo_oa_app_secret="app-secret",
        zalo_oa_access_token="acc",
        zalo_oa_refresh_token="ref",
        zalo_oa_token_key="token-key",
    )
    assert set(settings.secrets()) == {
        "bot-token-123",
        "bot-hook-secret",
        "oa-secret",
        "app-secret",
        "acc",
        "ref",
        "token-key",
    }
    assert settings.zalo_bot_enabled and settings.zalo_oa_enabled
    assert "oa-secret" not in repr(settings) and "token-key" not in repr(settings)


def test_events_become_neutral_messages() -> None:
    msg = to_incoming(text_event("u1", "xin chào", msg_id="m1", timestamp="1700000000000"))
    assert msg is not None
    assert (msg.channel, msg.chat_id, msg.user_id, msg.text) == ("zalo_oa", "u1", "u1", "xin chào")
    assert msg.message_id == "m1"
    assert msg.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)
    file_event = other_event(
        "u1",
        "user_send_file",
        message={"msg_id": "f1", "attachments": [{"type": "file", "payload": {"url": "https://x/f", "size": "12"}}]},
    )
    document = to_incoming(file_event)
    assert document is not None and document.kind is MessageKind.DOCUMENT and document.document.size == 12
    assert to_incoming(other_event("u1", "oa_send_text", message={"msg_id": "o1", "text": "echo"})) is None
    assert to_incoming({"event_name": "user_send_text", "message": {"text": "no sender"}}) is None
    assert MediaRef("x").url is None and now_ms().isdigit()


# --------------------------------------------------------------------------------------------------------
# One process, one webhook server, every channel
# --------------------------------------------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
async def test_run_serves_telegram_zalo_bot_and_zalo_oa_webhooks_in_one_process(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegramAPI() as telegram, FakeZaloBotAPI() as zalo_bot, FakeZaloOA() as oa:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "DATABASE_URL"))}
        env.update(
            PYTHONUNBUFFERED="1",
            DATABASE_URL=migrated_sqlite(tmp_path / "run.db"),
            MEDIA_DIR=str(tmp_path / "media"),
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.api_base_url,
            TELEGRAM_FILE_BASE_URL=telegram.file_base_url,
            TELEGRAM_WEBHOOK_URL="https://bot.example.invalid/telegram",
            TELEGRAM_WEBHOOK_SECRET="tg-secret-value",
            ZALO_BOT_TOKEN=zalo_bot.token,
            ZALO_BOT_API_BASE_URL=zalo_bot.api_base_url,
            ZALO_BOT_WEBHOOK_URL="https://bot.example.invalid/zalo-bot",
            ZALO_BOT_WEBHOOK_SECRET="zalo-bot-secret-value",
            ZALO_OA_APP_ID=oa.app_id,
            ZALO_OA_SECRET_KEY=oa.oa_secret_key,
            ZALO_OA_APP_SECRET=oa.app_secret,
            ZALO_OA_ACCESS_TOKEN=oa.initial_access,
            ZALO_OA_REFRESH_TOKEN=oa.initial_refresh,
            ZALO_OA_API_BASE_URL=oa.base_url,
            ZALO_OA_OAUTH_BASE_URL=oa.base_url,
        )
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp_path, env=checkout_env(env),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        try:
            await telegram.wait_for("setWebhook", timeout=60)
            await zalo_bot.wait_for("setWebhook", timeout=60)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
                update = {"update_id": 1, **tg_text_update("/start", user_id=1001)}
                update["message"]["message_id"] = 1
                headers = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret-value"}
                async with http.post(f"{base}/telegram", json=update, headers=headers) as response:
                    assert response.status == 200
                body = {"ok": True, "result": zalo_text_update("/start", user_id="zb-1")}
                headers = {"X-Bot-Api-Secret-Token": "zalo-bot-secret-value"}
                async with http.post(f"{base}/zalo-bot", json=body, headers=headers) as response:
                    assert response.status == 200
                raw, headers = oa.signed(text_event("oa-u1", "/start"))
                async with http.post(f"{base}/zalo-oa", data=raw, headers=headers) as response:
                    assert response.status == 200
                async with http.post(f"{base}/zalo-oa", data=raw, headers={SIGNATURE_HEADER: "mac=0"}) as response:
                    assert response.status == 403
            [tg_call] = await telegram.wait_for("sendMessage", timeout=30)
            assert "Xin chào" in tg_call.params["text"]
            await zalo_bot.wait_for("sendMessage", timeout=30)
            assert "Xin chào" in zalo_bot.sent_texts("zb-1")[0]
            await oa.wait_for("message", timeout=30, predicate=lambda c: c.error_code == 0)
            assert "Xin chào" in oa.texts("oa-u1")[0]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                code = await process.wait()
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        assert code == 0, log_text[-3000:]
        assert "Traceback" not in log_text, log_text[-3000:]
        for secret in (zalo_bot.token, "zalo-bot-secret-value", oa.oa_secret_key, oa.app_secret, telegram.token):
            assert secret not in log_text
