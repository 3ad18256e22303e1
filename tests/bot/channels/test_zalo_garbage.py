"""1,000 malformed or garbage requests to each Zalo webhook, with and without a valid signature or secret:
never a 500, nothing stored, no traceback, refusals logged in counts."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.channels.zalo_bot import SECRET_HEADER as BOT_SECRET_HEADER
from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import SIGNATURE_HEADER, ZaloOAChannel, signature
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.clock import FixedClock
from storage.inbox import InboxUpdate
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.support.fakes.zalo_oa_api import FakeZaloOA

BOT_SECRET = "zalo-bot-garbage-secret"


def garbage(rng: random.Random, i: int, timestamp: str) -> bytes:
    """A body that is not a usable event: random bytes, deep nesting, not an object, wrong types, truncated."""
    head = f'{{"timestamp":"{timestamp}","event_name":'.encode()
    kind = i % 6
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:
        return head + b'"user_send_text","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    if kind == 2:
        return json.dumps([{"timestamp": timestamp}]).encode()
    if kind == 3:
        return head + json.dumps(rng.choice([5, None, [], {}])).encode() + b',"sender":{"id":7}}'
    if kind == 4:
        return head + b'"user_send_text","sender":"me","message":[1,2]}'
    return (head + b'"user_send_text","sender":{"id":"u1"},"message":{"text":"/start"}}')[: rng.randrange(10, 60)]


async def count_stored(app) -> int:
    async with app.db.unit_of_work() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one())


def check_log(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert len([r for r in caplog.records if "refused" in r.getMessage() or "ignored" in r.getMessage()]) <= 4


async def post_all(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        for body, headers in requests:
            async with http.post(url, data=body, headers=headers) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
    return statuses


async def test_zalo_oa_garbage_with_and_without_a_valid_signature(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(130)
    caplog.set_level(logging.INFO)
    async with FakeZaloOA() as fake:
        settings = Settings(
            _env_file=None, database_url=migrated_sqlite(tmp_path / "oa.db"), media_dir=tmp_path / "media",
            zalo_oa_app_id=fake.app_id, zalo_oa_secret_key=fake.oa_secret_key, zalo_oa_app_secret=fake.app_secret,
            zalo_oa_access_token=fake.initial_access, zalo_oa_refresh_token=fake.initial_refresh,
            zalo_oa_api_base_url=fake.base_url, zalo_oa_oauth_base_url=fake.base_url,
        )  # fmt: skip
        async with create_app(
            settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
        ) as app:
            channel = ZaloOAChannel(settings, app.dispatcher.handle, app.db, inbox=Inbox(app.db))
            server = WebhookServer("127.0.0.1", 0)
            channel.attach(server)
            await server.start()
            await channel.start()
            try:
                requests = []
                for i in range(1000):
                    timestamp = str(int(time.time() * 1000))
                    body = garbage(rng, i, timestamp)
                    mac = signature(fake.app_id, body, timestamp, fake.oa_secret_key) if i % 2 else "mac=" + "0" * 64
                    requests.append((body, {SIGNATURE_HEADER: mac}))
                statuses = await post_all(f"http://127.0.0.1:{server.port}{settings.zalo_oa_webhook_path}", requests)
                await channel.drain()
                assert 500 not in statuses and statuses.get(403, 0) >= 500, statuses
                assert await count_stored(app) == 0 and fake.texts() == []
            finally:
                await channel.stop()
                await server.stop()
    check_log(caplog)


async def test_zalo_bot_garbage_with_and_without_the_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(131)
    caplog.set_level(logging.INFO)
    async with FakeZaloBotAPI() as fake:
        settings = Settings(
            _env_file=None, database_url=migrated_sqlite(tmp_path / "bot.db"), media_dir=tmp_path / "media",
            zalo_bot_token=fake.token, zalo_bot_api_base_url=fake.api_base_url,
            zalo_bot_webhook_url="https://bot.example.invalid/zalo-bot", zalo_bot_webhook_secret=BOT_SECRET,
        )  # fmt: skip
        async with create_app(
            settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
        ) as app:
            channel = ZaloBotChannel(settings, app.dispatcher.handle, app.db, inbox=Inbox(app.db))
            server = WebhookServer("127.0.0.1", 0)
            channel.attach(server)
            await server.start()
            await channel.start()
            try:
                requests = [
                    (garbage(rng, i, "1"), {BOT_SECRET_HEADER: BOT_SECRET if i % 2 else rng.choice(["", "wrong"])})
                    for i in range(1000)
                ]
                statuses = await post_all(f"http://127.0.0.1:{server.port}{settings.zalo_bot_webhook_path}", requests)
                await channel.drain()
                assert 500 not in statuses and statuses.get(403, 0) == 500, statuses
                assert await count_stored(app) == 0
            finally:
                await channel.stop()
                await server.stop()
    check_log(caplog)
