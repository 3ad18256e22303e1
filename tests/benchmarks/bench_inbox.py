"""Benchmark: 2,500 messages at once on one channel (Telegram webhook, Zalo OA webhook) into the durable inbox on
PostgreSQL: how many were acknowledged, stored, answered; how long it took; pool time-outs in the log.

    TEST_DATABASE_URL=postgresql+psycopg://… python -m tests.benchmarks.bench_inbox [--users 2500] [--shared]

Not a test: it prints a table. The database is emptied first (use a scratch one).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.app import create_app
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.channels.zalo_oa import ZaloOAChannel
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import WebhookServer
from storage.inbox import InboxStatus, InboxUpdate
from tests.support.databases import reset_postgres
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI, text_update
from tests.support.fakes.zalo_oa_api import FakeZaloOA, text_event

SECRET = "bench-secret"


class PoolTimeouts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        if "QueuePool limit" in text or ("pool" in text.lower() and "timeout" in text.lower()):
            self.count += 1


async def post_all(url: str, bodies: list[tuple[bytes, dict[str, str]]]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=500)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except aiohttp.ClientError:
                statuses[0] = statuses.get(0, 0) + 1

        await asyncio.gather(*(one(b, h) for b, h in bodies))
    return statuses


async def wait_until(count, target: int, timeout: float) -> float:
    start = time.perf_counter()
    while count() < target and time.perf_counter() - start < timeout:
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


async def stored(app) -> dict[str, int]:
    async with app.db.unit_of_work() as uow:
        result = await uow.session.execute(select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status))
        return dict(result.all())


async def telegram(url: str, users: int, tmp: Path, shared: bool) -> dict:
    import json

    port = free_port()
    async with FakeTelegramAPI() as fake:
        settings = Settings(
            _env_file=None, database_url=url, telegram_bot_token=fake.token, telegram_api_base_url=fake.api_base_url,
            telegram_file_base_url=fake.file_base_url, telegram_overall_rate=0, telegram_per_chat_rate=0,
            telegram_webhook_url="https://bot.example.invalid/tg", telegram_webhook_secret=SECRET,
            telegram_webhook_path="/tg", webhook_listen="127.0.0.1", webhook_port=port, media_dir=tmp / "media",
        )  # fmt: skip
        async with create_app(settings) as app:
            channel = TelegramChannel(settings, app.dispatcher.handle, inbox=Inbox(app.db, shared=shared))
            await channel.start()
            try:
                bodies = []
                for i in range(users):
                    update = {"update_id": i + 1, **text_update("/start", user_id=10_000 + i, message_id=1)}
                    bodies.append(
                        (json.dumps(update).encode(), {SECRET_HEADER: SECRET, "Content-Type": "application/json"})
                    )
                start = time.perf_counter()
                statuses = await post_all(f"http://127.0.0.1:{port}/tg", bodies)
                acked = time.perf_counter() - start
                await wait_until(lambda: len(fake.calls_of("sendMessage")), users, 300)
                answered = time.perf_counter() - start
                return {
                    "statuses": statuses, "acked_s": acked, "answered_s": answered,
                    "replies": len({c.params["chat_id"] for c in fake.calls_of("sendMessage")}),
                    "inbox": await stored(app),
                }  # fmt: skip
            finally:
                await channel.stop()


async def zalo_oa(url: str, users: int, tmp: Path, shared: bool) -> dict:
    async with FakeZaloOA() as fake:
        settings = Settings(
            _env_file=None, database_url=url, media_dir=tmp / "media", zalo_oa_app_id=fake.app_id,
            zalo_oa_secret_key=fake.oa_secret_key, zalo_oa_app_secret=fake.app_secret,
            zalo_oa_access_token=fake.initial_access, zalo_oa_refresh_token=fake.initial_refresh,
            zalo_oa_api_base_url=fake.base_url, zalo_oa_oauth_base_url=fake.base_url,
        )  # fmt: skip
        async with create_app(settings) as app:
            channel = ZaloOAChannel(settings, app.dispatcher.handle, app.db, inbox=Inbox(app.db, shared=shared))
            server = WebhookServer("127.0.0.1", 0)
            channel.attach(server)
            await server.start()
            await channel.start()
            try:
                bodies = [fake.signed(text_event(f"oa-user-{i}", "/start", msg_id=f"m{i}")) for i in range(users)]
                start = time.perf_counter()
                statuses = await post_all(f"http://127.0.0.1:{server.port}{settings.zalo_oa_webhook_path}", bodies)
                acked = time.perf_counter() - start
                await channel.drain()
                answered = time.perf_counter() - start
                replied = {c.params["recipient"]["user_id"] for c in fake.calls_of("message")}
                return {
                    "statuses": statuses, "acked_s": acked, "answered_s": answered, "replies": len(replied),
                    "inbox": await stored(app),
                }  # fmt: skip
            finally:
                await channel.stop()
                await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2500)
    parser.add_argument("--shared", action="store_true", help="claims on the table, as `run` on PostgreSQL does")
    args = parser.parse_args()
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        raise SystemExit("set TEST_DATABASE_URL to a scratch PostgreSQL database")
    logging.basicConfig(level=logging.WARNING)
    timeouts = PoolTimeouts()
    logging.getLogger().addHandler(timeouts)
    mode = "shared claims" if args.shared else "one process"
    print(f"{args.users} messages at once, one per user, PostgreSQL, {mode}")
    print("| channel | HTTP answers | acknowledged in | all answered in | users answered | inbox rows |")
    print("|---|---|---|---|---|---|")
    for name, run in (("Telegram webhook", telegram), ("Zalo OA webhook", zalo_oa)):
        reset_postgres(url)
        with tempfile.TemporaryDirectory() as tmp:
            r = await run(url, args.users, Path(tmp), args.shared)
        handled = r["inbox"].get(InboxStatus.HANDLED.value, 0)
        print(
            f"| {name} | {r['statuses']} | {r['acked_s']:.1f} s | {r['answered_s']:.1f} s | "
            f"{r['replies']}/{args.users} | {handled} handled, {r['inbox']} |"
        )
    print(f"pool time-outs in the log: {timeouts.count}")


if __name__ == "__main__":
    asyncio.run(main())
