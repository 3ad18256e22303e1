"""The durable inbox over the fake Bot API: replays handled once (also across a restart), a burst answered in
order, garbage refused without a 500 and without storing anything."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App, create_app
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.core import REPLY_KIND
from storage.inbox import InboxStatus, InboxUpdate
from storage.models import OutboxMessage
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI, text_update
from tests.support.telegram import inbox_channel

SECRET = "inbox-secret-value"


@asynccontextmanager
async def running(fake: FakeTelegramAPI, url: str, tmp_path: Path, *, webhook: bool) -> AsyncIterator[Rig]:
    port = free_port()
    extra = (
        {"telegram_webhook_url": "https://bot.example.invalid/tg", "telegram_webhook_secret": SECRET} if webhook else {}
    )
    settings = Settings(
        _env_file=None,
        database_url=url,
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.api_base_url,
        telegram_file_base_url=fake.file_base_url,
        telegram_overall_rate=0,
        telegram_per_chat_rate=0,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        telegram_webhook_path="/tg",
        media_dir=tmp_path / "media",
        **extra,
    )
    async with create_app(
        settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
    ) as app:
        channel = inbox_channel(settings, app)
        await channel.start()
        try:
            yield Rig(fake, app, channel, f"http://127.0.0.1:{port}/tg")
        finally:
            await channel.stop()


class Rig:
    def __init__(self, fake: FakeTelegramAPI, app: App, channel: TelegramChannel, url: str) -> None:
        self.fake, self.app, self.channel, self.url = fake, app, channel, url

    async def post(self, http: aiohttp.ClientSession, body: bytes | dict, secret: str | None = SECRET) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        async with http.post(self.url, data=data, headers=headers) as response:
            return response.status

    async def count(self, model, *where) -> int:
        async with self.app.db.unit_of_work() as uow:
            return int((await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def update(update_id: int, text: str, user_id: int, message_id: int) -> dict:
    return {"update_id": update_id, **text_update(text, user_id=user_id, message_id=message_id)}


def replies_to(fake: FakeTelegramAPI, user_id: int) -> list[str]:
    return [c.params["text"] for c in fake.calls_of("sendMessage") if c.params["chat_id"] == user_id]


@pytest.mark.parametrize("times", [1, 2, 10])
async def test_a_redelivered_update_is_handled_once_also_after_a_restart(
    db_url: str, tmp_path: Path, times: int
) -> None:
    async with FakeTelegramAPI() as fake:
        start = update(1, "/phananh", 501, 1)
        async with running(fake, db_url, tmp_path, webhook=True) as rig, aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(*(rig.post(http, start) for _ in range(times)))
            assert statuses == [200] * times
            await fake.wait_for("sendMessage", count=2)  # the report's opening: two messages
            await rig.channel.inbox.drain(5)
        async with running(fake, db_url, tmp_path, webhook=True) as rig, aiohttp.ClientSession() as http:
            assert await rig.post(http, start) == 200  # Telegram delivers it once more after the restart
            await rig.channel.inbox.drain(5)
            await asyncio.sleep(0.2)
            assert len(replies_to(fake, 501)) == 2  # one answer, not one per delivery
            assert await rig.count(InboxUpdate) == 1
            assert await rig.count(InboxUpdate, InboxUpdate.status == InboxStatus.HANDLED.value) == 1
            sent = await rig.count(OutboxMessage, OutboxMessage.kind == REPLY_KIND, OutboxMessage.sent_at.is_not(None))
            assert sent == 2  # the replies were written in the step's transaction and marked delivered
            async with rig.app.db.unit_of_work() as uow:
                row = await uow.conversations.get("telegram", "501", "501")
            assert row is not None and row.flow == "complaint"  # one step taken, not several


async def _burst(rig: Rig, users: int, per_user: int, *, webhook: bool) -> None:
    async def one_user(http: aiohttp.ClientSession, user: int) -> None:
        for i in range(per_user):
            body = update(user * 100 + i, f"/x{i}", user, i + 1)
            if webhook:
                assert await rig.post(http, body) == 200
            else:
                rig.fake.push_update({k: v for k, v in body.items() if k != "update_id"})

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one_user(http, 1000 + u) for u in range(users)))
    await rig.fake.wait_for("sendMessage", count=users * per_user, timeout=120)


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_a_burst_of_ten_messages_is_answered_in_order_for_a_hundred_users(
    db_url: str, tmp_path: Path, webhook: bool
) -> None:
    users, per_user = 100, 10
    async with FakeTelegramAPI() as fake, running(fake, db_url, tmp_path, webhook=webhook) as rig:
        await _burst(rig, users, per_user, webhook=webhook)
        out_of_order = 0
        for u in range(users):
            texts = replies_to(fake, 1000 + u)
            assert len(texts) == per_user
            expected = [f"/x{i}" for i in range(per_user)]
            out_of_order += [t.split("lệnh ", 1)[1].split(".", 1)[0] for t in texts] != expected
        assert out_of_order == 0
        assert await rig.count(InboxUpdate, InboxUpdate.status == InboxStatus.HANDLED.value) == users * per_user


def garbage(rng: random.Random, i: int) -> bytes:
    """A malformed or hostile request body: broken JSON, wrong shapes, wrong types, deep nesting."""
    good = update(900_000 + i, "/start", 777, 1)
    kind = i % 10
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:
        return b"[" * 50_000 + b"]" * 50_000
    if kind == 2:
        return json.dumps(rng.choice([[], [good], "text", 42, None, True])).encode()
    if kind == 3:
        return json.dumps({**good, "update_id": str(i)}).encode()
    if kind == 4:
        return json.dumps({**good, "message": rng.choice([1, "x", [], None, {"text": "/start"}])}).encode()
    message = dict(good["message"])
    if kind == 5:
        message["chat"] = rng.choice([None, "chat", 5, {"type": "private"}])
    elif kind == 6:
        message["text"] = rng.choice([5, [], {"a": 1}, None])
        message.pop("entities", None)
    elif kind == 7:
        message["from"] = rng.choice(["me", 3, {"first_name": "x"}])
    elif kind == 8:
        message["date"] = rng.choice(["today", [], -1e30])
    else:
        return json.dumps({**good, "message": message, "callback_query": {"id": 5}}).encode()[: rng.randrange(5, 300)]
    return json.dumps({**good, "message": message}).encode()


async def test_a_thousand_garbage_requests_get_no_500_and_store_nothing(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(13)
    caplog.set_level(logging.INFO)
    async with FakeTelegramAPI() as fake, running(fake, db_url, tmp_path, webhook=True) as rig:
        async with aiohttp.ClientSession() as http:
            statuses: dict[int, int] = {}
            for i in range(1000):
                status = await rig.post(http, garbage(rng, i), secret=SECRET if i % 2 else rng.choice([None, "wrong"]))
                statuses[status] = statuses.get(status, 0) + 1
        await rig.channel.inbox.drain(5)
        assert 500 not in statuses, statuses
        assert statuses.get(403, 0) == 500  # every request without the right secret
        assert await rig.count(InboxUpdate) == 0
        assert fake.calls_of("sendMessage") == []
    assert "Traceback" not in caplog.text
    refusal_lines = [r for r in caplog.records if "refused" in r.getMessage() or "ignored" in r.getMessage()]
    assert len(refusal_lines) <= 4  # counted, not one line each
