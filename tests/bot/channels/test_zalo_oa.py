"""The Zalo OA channel against a recording fake: signed webhook, de-duplication, tokens, errors, photos."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.app import App, create_app
from bot.channels.base import RateLimited, TemporaryFailure, Unreachable
from bot.channels.zalo_oa import (
    SIGNATURE_HEADER,
    OutsideMessagingWindow,
    ZaloOAChannel,
    ZaloOAError,
    event_id,
    signature,
    to_incoming,
)
from bot.channels.zalo_tokens_crypto import HKDF_INFO, PREFIX, TokenCipher, UndecryptableToken, derive_key
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.clock import FixedClock
from handlers.types import Button, MediaRef, MessageKind, Reply
from storage.db import Database
from storage.inbox import InboxUpdate
from storage.models import Conversation, User
from storage.zalo import ZaloChoices, ZaloSeenEvent, ZaloToken
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.telegram_api import text_update as tg_text_update
from tests.support.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.support.fakes.zalo_bot_api import text_update as zalo_text_update
from tests.support.fakes.zalo_oa_api import FakeZaloOA, image_event, now_ms, other_event, text_event
from tests.support.images import jpeg, png
from tests.support.processes import checkout_env
from tests.support.racers import race

QUESTION = "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"


@dataclass
class Rig:
    fake: FakeZaloOA
    app: App
    channel: ZaloOAChannel
    server: WebhookServer
    handled: list

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/zalo-oa"

    async def post(self, http: aiohttp.ClientSession, event: dict, headers: dict | None = None) -> int:
        body, signed = self.fake.signed(event)
        async with http.post(self.url, data=body, headers=signed if headers is None else headers) as response:
            return response.status

    async def deliver_event(self, event: dict) -> int:
        async with aiohttp.ClientSession() as http:
            status = await self.post(http, event)
        await self.channel.drain()
        return status


def make_settings(fake: FakeZaloOA, tmp_path: Path, **extra) -> Settings:
    values = {
        "database_url": migrated_sqlite(tmp_path / "oa.db"),
        "media_dir": tmp_path / "media",
        "zalo_oa_app_id": fake.app_id,
        "zalo_oa_secret_key": fake.oa_secret_key,
        "zalo_oa_app_secret": fake.app_secret,
        "zalo_oa_access_token": fake.initial_access,
        "zalo_oa_refresh_token": fake.initial_refresh,
        "zalo_oa_api_base_url": fake.base_url,
        "zalo_oa_oauth_base_url": fake.base_url,
        "album_quiet_seconds": 1.0,  # generous: the burst tests must not depend on timing
        "album_max_wait_seconds": 4.0,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)


async def make_rig(fake: FakeZaloOA, settings: Settings) -> Rig:
    app = create_app(settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge())
    await app.start()
    assert app.dispatcher is not None
    handled: list = []
    handle = app.dispatcher.handle

    async def counting(msg):
        handled.append(msg)
        return await handle(msg)

    channel = ZaloOAChannel(settings, counting, app.db, inbox=Inbox(app.db))
    app.register_downloader(channel.name, channel.download_to)
    server = WebhookServer("127.0.0.1", 0)
    channel.attach(server)
    await server.start()
    await channel.start()
    return Rig(fake, app, channel, server, handled)


async def close_rig(rig: Rig) -> None:
    await rig.channel.stop()
    await rig.server.stop()
    await rig.app.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeZaloOA, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        yield rig
    finally:
        await close_rig(rig)


async def stored_token(app: App) -> ZaloToken:
    async with app.db.unit_of_work() as uow:
        row = await uow.zalo.get_token("oa-app-1")
    assert row is not None
    return row


async def stored_pair(app: App, cipher: TokenCipher) -> tuple[str, str]:
    row = await stored_token(app)
    return cipher.decrypt(row.access_token).value, cipher.decrypt(row.refresh_token).value


async def set_expiry(app: App, expires_at: datetime) -> None:
    async with app.db.unit_of_work() as uow:
        row = await uow.zalo.get_token("oa-app-1")
        row.expires_at = expires_at
        await uow.commit()


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
# Tokens
# --------------------------------------------------------------------------------------------------------


async def test_concurrent_sends_near_expiry_cause_exactly_one_refresh(rig: Rig) -> None:
    await rig.channel.deliver("u-h", Reply("khởi động"))  # the pasted pair is refreshed at first use
    assert len(rig.fake.refreshes) == 1
    # The stored token now expires within the margin (60 minutes): 30 sends at once.
    await set_expiry(rig.app, datetime.now(UTC) + timedelta(minutes=10))
    rig.channel.tokens._expires = datetime.now(UTC) + timedelta(minutes=10)
    await asyncio.gather(*(rig.channel.deliver(f"u-{i}", Reply(f"tin {i}")) for i in range(30)))
    assert len(rig.fake.refreshes) == 2
    assert {c.params["_token"] for c in rig.fake.calls_of("message")[-30:]} == {"access-2"}
    row = await stored_token(rig.app)
    assert await stored_pair(rig.app, TokenCipher(rig.fake.app_secret)) == ("access-2", "refresh-2")
    assert row.expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(hours=24)


async def test_an_expired_token_error_causes_one_refresh_for_all_concurrent_sends(rig: Rig) -> None:
    await rig.channel.deliver("u-i", Reply("khởi động"))
    rig.fake.expire("access-1")  # Zalo says -220 to everything sent with it
    results = await asyncio.gather(*(rig.channel.deliver(f"u-{i}", Reply("tin")) for i in range(20)))
    assert all(results)
    assert len(rig.fake.refreshes) == 2
    expired = [c for c in rig.fake.calls_of("message") if c.error_code == -220]
    assert 1 <= len(expired) <= 20
    rig.fake.valid_access.discard("access-2")  # now -216 (invalid): refreshed again, once
    await rig.channel.deliver("u-j", Reply("tin"))
    assert len(rig.fake.refreshes) == 3 and rig.fake.calls_of("message")[-1].params["_token"] == "access-3"


async def test_a_restart_after_a_refresh_uses_the_stored_pair(fake: FakeZaloOA, tmp_path: Path) -> None:
    settings = make_settings(fake, tmp_path)  # the environment still holds the original pair
    first = await make_rig(fake, settings)
    try:
        await first.channel.deliver("u-k", Reply("trước khi khởi động lại"))
    finally:
        await close_rig(first)
    assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0"]
    assert "refresh-0" not in fake.valid_refresh  # spent: using it again would fail
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-k", Reply("sau khi khởi động lại"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1"
        assert len(fake.refreshes) == 1  # no refresh: the stored pair is still fresh
        fake.expire("access-1")
        await second.channel.deliver("u-k", Reply("lại"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0", "refresh-1"]
        assert not [c for c in fake.calls_of("refresh") if c.error_code]  # never tried a spent token
    finally:
        await close_rig(second)


async def test_a_new_pair_in_the_environment_replaces_the_stored_one(fake: FakeZaloOA, tmp_path: Path) -> None:
    first = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        await first.channel.deliver("u-l", Reply("một"))
    finally:
        await close_rig(first)
    fake.valid_refresh.add("refresh-pasted")
    fake.valid_access.add("access-pasted")
    settings = make_settings(
        fake, tmp_path, zalo_oa_access_token="access-pasted", zalo_oa_refresh_token="refresh-pasted"
    )
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-l", Reply("hai"))
        assert fake.refreshes[-1].params["refresh_token"] == "refresh-pasted"
    finally:
        await close_rig(second)


async def test_a_refused_refresh_token_is_reported(rig: Rig) -> None:
    rig.fake.valid_refresh.clear()
    with pytest.raises(ZaloOAError) as caught:
        await rig.channel.deliver("u-m", Reply("tin"))
    assert caught.value.code == -14014
    assert not rig.fake.calls_of("message")


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="subprocesses with stdin pipes")
async def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(db_url: str, tmp_path: Path) -> None:
    async with FakeZaloOA(refresh_delay=0.5) as fake:
        db = Database(db_url)
        await asyncio.to_thread(db.upgrade)
        cipher = TokenCipher(fake.app_secret)
        async with db.unit_of_work() as uow:  # a pair about to expire, as another process left it (encrypted)
            await uow.zalo.save_token(
                fake.app_id,
                access_token=cipher.encrypt("access-0"),
                refresh_token=cipher.encrypt("refresh-0"),
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
                now=datetime.now(UTC),
            )
            await uow.commit()
        await db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "DATABASE_URL"))}
        env.update(
            DATABASE_URL=db_url,
            ZALO_OA_APP_ID=fake.app_id,
            ZALO_OA_SECRET_KEY=fake.oa_secret_key,
            ZALO_OA_APP_SECRET=fake.app_secret,
            ZALO_OA_API_BASE_URL=fake.base_url,
            ZALO_OA_OAUTH_BASE_URL=fake.base_url,
        )
        reports = await race(["tests.support.zalo_oa_worker", "10"], env, tmp_path)
        assert [r["errors"] for r in reports] == [[], []]
        assert sum(r["delivered"] for r in reports) == 20
        assert sum(r["refreshes"] for r in reports) == 1
        assert len(fake.calls_of("refresh")) == 1 and len(fake.refreshes) == 1
        db = Database(db_url)
        try:
            async with db.unit_of_work() as uow:
                row = await uow.zalo.get_token(fake.app_id)
        finally:
            await db.dispose()
        assert row.access_token.startswith(PREFIX) and row.refresh_token.startswith(PREFIX)
        assert (cipher.decrypt(row.access_token).value, cipher.decrypt(row.refresh_token).value) == fake.issued[0]


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


# --------------------------------------------------------------------------------------------------------
# The token pair at rest: encrypted, so that a database dump gives no usable OA token
# --------------------------------------------------------------------------------------------------------


def seeded_from(token: str) -> str:
    """The ``seed_hash`` a start leaves for the environment's refresh token ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


async def raw_token_row(app: App) -> dict:
    """The ``zalo_tokens`` row as a dump would show it (plain SQL, no ORM)."""
    async with app.db.unit_of_work() as uow:
        rows = (await uow.session.execute(text("SELECT * FROM zalo_tokens"))).mappings().all()
    [row] = rows
    return dict(row)


def assert_encrypted(row: dict, *tokens: str) -> None:
    assert row["access_token"].startswith(PREFIX) and row["refresh_token"].startswith(PREFIX)
    dump = " ".join(str(value) for value in row.values())
    for token in tokens:
        assert token not in dump


def opened(row: dict, cipher: TokenCipher) -> tuple[str, str]:
    return cipher.decrypt(row["access_token"]).value, cipher.decrypt(row["refresh_token"]).value


async def prime_token_row(url: str, app_id: str, access: str, refresh: str, *, seed_hash: str | None) -> None:
    """A row left by an earlier run (the values are stored as given), valid for 10 more hours."""
    db = Database(url)
    try:
        await asyncio.to_thread(db.upgrade)
        async with db.unit_of_work() as uow:
            await uow.zalo.save_token(
                app_id,
                access_token=access,
                refresh_token=refresh,
                expires_at=datetime.now(UTC) + timedelta(hours=10),
                now=datetime.now(UTC),
                seed_hash=seed_hash,
            )
            await uow.commit()
    finally:
        await db.dispose()


def test_the_key_is_hkdf_sha256_of_the_secret_with_a_fixed_label() -> None:
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    # Changing the label (or the KDF) would make every stored pair unreadable: it is part of the format.
    assert HKDF_INFO == b"sct-assistant/zalo-oa/token-pair/fernet-v1" and PREFIX == "fernet:v1:"
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(b"app-secret-KEY")
    assert derive_key("app-secret-KEY") == base64.urlsafe_b64encode(raw)
    cipher = TokenCipher("app-secret-KEY")
    long_token = "Ab0_-" * 300  # OA tokens are long: the Text columns take any length
    stored = cipher.encrypt(long_token)
    assert stored.startswith(PREFIX) and long_token not in stored
    assert cipher.decrypt(stored) == (long_token, False)
    assert cipher.encrypt(stored) != stored and cipher.encrypt("") == "" and cipher.decrypt("") == ("", False)
    assert cipher.decrypt("plain-legacy") == ("plain-legacy", True)
    for wrong in (TokenCipher("another-secret"), TokenCipher("app-secret-KEY ")):
        with pytest.raises(UndecryptableToken):
            wrong.decrypt(stored)
    tampered = stored[:-6] + ("AAAAA=" if not stored.endswith("AAAAA=") else "BBBBB=")
    for bad in (tampered, PREFIX + "not-a-fernet-token", PREFIX + "ünïcode"):
        with pytest.raises(UndecryptableToken) as caught:
            cipher.decrypt(bad)
        assert bad not in str(caught.value)
    # Decrypted under a previous secret: readable, and reported stale so that it is saved again.
    assert TokenCipher("new-key", "app-secret-KEY").decrypt(stored) == (long_token, True)


async def test_the_stored_pair_is_encrypted_after_seeding_and_after_a_refresh(
    fake: FakeZaloOA, tmp_path: Path, db_url: str
) -> None:
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        cipher = TokenCipher(fake.app_secret)
        seeded = await raw_token_row(rig.app)
        assert_encrypted(seeded, "access-0", "refresh-0")
        assert opened(seeded, cipher) == ("access-0", "refresh-0")
        assert seeded["seed_hash"] == seeded_from("refresh-0")
        with pytest.raises(UndecryptableToken):
            TokenCipher(fake.oa_secret_key).decrypt(seeded["refresh_token"])  # only the app secret's key
        await rig.channel.deliver("u-p", Reply("tin"))
        assert len(fake.refreshes) == 1 and fake.calls_of("message")[-1].params["_token"] == "access-1"
        refreshed = await raw_token_row(rig.app)
        assert_encrypted(refreshed, "access-0", "refresh-0", "access-1", "refresh-1")
        assert opened(refreshed, cipher) == ("access-1", "refresh-1") and refreshed["refreshes"] == 1
    finally:
        await close_rig(rig)


async def test_a_restart_reads_the_encrypted_pair(fake: FakeZaloOA, tmp_path: Path, db_url: str) -> None:
    settings = make_settings(fake, tmp_path, database_url=db_url)  # the environment still holds the spent pair
    first = await make_rig(fake, settings)
    try:
        await first.channel.deliver("u-r", Reply("trước"))
        before = await raw_token_row(first.app)
    finally:
        await close_rig(first)
    assert_encrypted(before, "access-1", "refresh-1")
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-r", Reply("sau"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1" and len(fake.refreshes) == 1
        assert await raw_token_row(second.app) == before  # read as it was, not written again
    finally:
        await close_rig(second)


async def test_a_plain_text_pair_of_an_earlier_version_is_read_and_saved_again_encrypted(
    fake: FakeZaloOA, tmp_path: Path, db_url: str
) -> None:
    fake.valid_access.add("access-old")
    fake.valid_refresh.add("refresh-old")
    # What the previous version left: the environment's pair seeded, refreshed since, stored in plain text.
    await prime_token_row(db_url, fake.app_id, "access-old", "refresh-old", seed_hash=seeded_from("refresh-0"))
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        cipher = TokenCipher(fake.app_secret)
        row = await raw_token_row(rig.app)  # the start saved it again, encrypted, and changed nothing else
        assert_encrypted(row, "access-old", "refresh-old")
        assert opened(row, cipher) == ("access-old", "refresh-old")
        assert row["seed_hash"] == seeded_from("refresh-0") and row["refreshes"] == 0
        await rig.channel.deliver("u-s", Reply("tin"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-old" and not fake.refreshes
        # A plain pair written after the start (an old-version process still running) is read by the refresh.
        fake.valid_refresh.add("refresh-older")
        async with rig.app.db.unit_of_work() as uow:
            await uow.zalo.save_token(
                fake.app_id,
                access_token="access-old",
                refresh_token="refresh-older",
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
                now=datetime.now(UTC),
            )
            await uow.commit()
        assert (await raw_token_row(rig.app))["refresh_token"] == "refresh-older"
        rig.channel.tokens._expires = datetime.now(UTC) + timedelta(minutes=5)
        await rig.channel.deliver("u-s", Reply("tin"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-older"]
        row = await raw_token_row(rig.app)
        assert_encrypted(row, "access-old", "refresh-older", "access-1", "refresh-1")
        assert opened(row, cipher) == ("access-1", "refresh-1")
    finally:
        await close_rig(rig)


async def test_a_pair_encrypted_under_another_secret_falls_back_to_the_environment(
    fake: FakeZaloOA, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    previous = TokenCipher("the-previous-app-secret")  # the app secret was reset since this row was written
    await prime_token_row(
        db_url,
        fake.app_id,
        previous.encrypt("access-lost"),
        previous.encrypt("refresh-lost"),
        seed_hash=seeded_from("refresh-0"),  # seeded from the same environment: the stored pair would win
    )
    caplog.set_level(logging.INFO, logger="bot.channels.zalo_oa")
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        [warning] = [r for r in caplog.records if "cannot be decrypted" in r.getMessage()]
        assert warning.levelno == logging.WARNING
        assert "ZALO_OA_APP_SECRET" in warning.getMessage() and "ZALO_OA_REFRESH_TOKEN" in warning.getMessage()
        for secret in (fake.app_secret, "the-previous-app-secret", "access-lost", "refresh-lost", "refresh-0"):
            assert secret not in caplog.text
        # As on a first start: the environment's pair, stored encrypted, refreshed at first use.
        row = await raw_token_row(rig.app)
        assert_encrypted(row, "access-0", "refresh-0")
        assert opened(row, TokenCipher(fake.app_secret)) == ("access-0", "refresh-0")
        await rig.channel.deliver("u-t", Reply("tin"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0"]
        assert fake.calls_of("message")[-1].params["_token"] == "access-1"
    finally:
        await close_rig(rig)


async def test_an_undecryptable_pair_without_an_environment_pair_is_reported(
    fake: FakeZaloOA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(fake, tmp_path, zalo_oa_access_token=None, zalo_oa_refresh_token=None)
    previous = TokenCipher("the-previous-app-secret")
    await prime_token_row(
        settings.database_url, fake.app_id, previous.encrypt("a"), previous.encrypt("r"), seed_hash=None
    )
    rig = await make_rig(fake, settings)
    try:
        before = await raw_token_row(rig.app)
        assert "cannot be decrypted" in caplog.text and "no usable token pair" in caplog.text
        with pytest.raises(ZaloOAError, match="cannot be decrypted"):
            await rig.channel.deliver("u-u", Reply("tin"))
        assert not fake.calls_of("refresh") and not fake.calls_of("message")
        assert await raw_token_row(rig.app) == before  # left for the right key to read
    finally:
        await close_rig(rig)


async def test_an_explicit_token_key_takes_over_a_pair_under_the_app_secret(fake: FakeZaloOA, tmp_path: Path) -> None:
    first = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        await first.channel.deliver("u-v", Reply("một"))  # access-1/refresh-1, under the app secret's key
    finally:
        await close_rig(first)
    key = "an-explicit-token-key-0123456789abcdef"
    second = await make_rig(fake, make_settings(fake, tmp_path, zalo_oa_token_key=key))
    try:
        row = await raw_token_row(second.app)  # saved again under the explicit key at start
        assert_encrypted(row, "access-1", "refresh-1")
        assert TokenCipher(key).decrypt(row["access_token"]) == ("access-1", False)
        with pytest.raises(UndecryptableToken):
            TokenCipher(fake.app_secret).decrypt(row["refresh_token"])
        await second.channel.deliver("u-v", Reply("hai"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1" and len(fake.refreshes) == 1
    finally:
        await close_rig(second)


async def test_without_the_app_secret_the_pair_is_not_stored(fake: FakeZaloOA, tmp_path: Path) -> None:
    rig = await make_rig(fake, make_settings(fake, tmp_path, zalo_oa_app_secret=None))
    try:
        await rig.channel.deliver("u-w", Reply("tin"))  # the pasted access token, used as it is
        assert fake.calls_of("message")[-1].params["_token"] == "access-0"
        async with rig.app.db.unit_of_work() as uow:
            assert await uow.zalo.get_token(fake.app_id) is None  # nothing to encrypt it with: not stored
        fake.expire("access-0")
        with pytest.raises(ZaloOAError, match="ZALO_OA_APP_SECRET"):
            await rig.channel.deliver("u-w", Reply("tin"))
        assert not fake.calls_of("refresh")
    finally:
        await close_rig(rig)
