"""Two worker processes (``python -m bot run``) on one PostgreSQL inbox, over the fake Bot API.

Both serve the webhook and both handle the inbox: 200 users send 20 messages each, every one to either process
at random, each message once its predecessor was acknowledged (that is its arrival order). Every message is
handled exactly once, by one of the two, each user's replies come in the order of the messages, and no pool
timed out. A process SIGKILLed while it holds the claim on an update leaves it to the other once the lease has
run out: handled once, answered once. An update that kills every process handling it is parked at the third
death, the user told once, and the conversation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from handlers import texts
from storage.db import Database
from storage.inbox import InboxStatus, InboxUpdate
from tests.support.databases import PG_URL, reset_postgres
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.support.poison_worker import POISON
from tests.support.processes import PLAN_2024, checkout_env, read_until

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL"),
    pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL not set: several workers need PostgreSQL"),
]

SECRET = "workers-secret"
USERS, MESSAGES = int(os.environ.get("WORKERS_USERS", "200")), 20
HANDLED = re.compile(r"inbox: this process handled (\d+) stored update")


@pytest.fixture
def pg_url() -> str:
    reset_postgres(PG_URL)
    return PG_URL


class Worker:
    """One ``python -m bot run`` serving the Telegram webhook on a port of its own."""

    def __init__(
        self, fake: FakeTelegramAPI, db_url: str, tmp_path: Path, name: str, module: str = "bot", **extra: str
    ) -> None:
        self.module = module  # ``python -m <module> run``: the bot, or a support module wrapping it
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/tg"
        self.log = tmp_path / f"{name}.log"
        folder = tmp_path / name
        folder.mkdir()
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL", "BOT_"))}
        self.env = checkout_env(
            env,
            DATABASE_URL=db_url,
            BOT_CONFIG=str(PLAN_2024),
            MEDIA_DIR=str(tmp_path / "media"),
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE_URL=fake.api_base_url,
            TELEGRAM_FILE_BASE_URL=fake.file_base_url,
            TELEGRAM_OVERALL_RATE="0",
            TELEGRAM_PER_CHAT_RATE="0",
            TELEGRAM_WEBHOOK_URL="https://bot.example.invalid/tg",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_PATH="/tg",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(self.port),
            WEB_CONSOLE="false",
            LEADER_RETRY_SECONDS="0.2",
            LOG_LEVEL="INFO",
            **extra,
        )
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *, wait: bool = True) -> None:
        """Start the process; ``wait``: until it serves (else it may die before, on an update it claims)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, "run", cwd=self.folder, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stderr is not None
        self._seen = await read_until(self.process.stderr, "running (telegram)", timeout=90) if wait else ""
        self._reader = asyncio.create_task(self._read_rest())

    async def _read_rest(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with self.log.open("w") as out:
            out.write(self._seen)
            async for line in self.process.stderr:
                out.write(line.decode(errors="replace"))

    async def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop the process (SIGTERM: as an operator would); return its log."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
            await asyncio.wait_for(self._reader, 10)
        return self.log.read_text() if self.log.exists() else ""


@contextlib.asynccontextmanager
async def workers(*started: Worker) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for worker in started:
            await worker.stop(signal.SIGKILL)


async def post(http: aiohttp.ClientSession, url: str, update: dict) -> None:
    """As Telegram does: again until the webhook answers 200."""
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)


async def inbox_counts(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    try:
        async with db.unit_of_work() as uow:
            return await uow.inbox.counts("telegram")
    finally:
        await db.dispose()


def replies_to(fake: FakeTelegramAPI, user: int) -> list[str]:
    return [c.params["text"] for c in fake.calls_of("sendMessage") if c.params["chat_id"] == user]


async def test_two_workers_handle_every_message_once_and_keep_each_users_order(pg_url: str, tmp_path: Path) -> None:
    rng = random.Random(2026)
    async with FakeTelegramAPI() as fake:
        pair = [Worker(fake, pg_url, tmp_path, name) for name in ("a", "b")]
        await asyncio.gather(*(w.start() for w in pair))
        async with workers(*pair):
            update_ids = iter(range(1, USERS * MESSAGES + 1))

            async def user(http: aiohttp.ClientSession, uid: int) -> None:
                for i in range(MESSAGES):
                    body = {**text_update(f"/x{i}", user_id=uid, message_id=i + 1), "update_id": next(update_ids)}
                    await post(http, rng.choice(pair).url, body)

            connector = aiohttp.TCPConnector(limit=100)
            async with aiohttp.ClientSession(connector=connector) as http:
                await asyncio.gather(*(user(http, 10_000 + u) for u in range(USERS)))
            await fake.wait_for("sendMessage", count=USERS * MESSAGES, timeout=180)
            logs = [await w.stop() for w in pair]
    out_of_order = [
        u for u in range(USERS) if [t.split("lệnh ", 1)[1].split(".", 1)[0] for t in replies_to(fake, 10_000 + u)]
        != [f"/x{i}" for i in range(MESSAGES)]
    ]  # fmt: skip
    assert out_of_order == []  # each user got exactly one reply per message, in the order of the messages
    assert len(fake.calls_of("sendMessage")) == USERS * MESSAGES
    assert await inbox_counts(pg_url) == {InboxStatus.HANDLED.value: USERS * MESSAGES}
    handled = [sum(int(n) for n in HANDLED.findall(log)) for log in logs]
    print(f"\nhandled per process: {handled}")
    assert all(n > 0 for n in handled) and sum(handled) == USERS * MESSAGES  # both worked, none twice
    for log in logs:
        assert "QueuePool limit" not in log and "TimeoutError" not in log  # 0 pool time-outs
        assert "Traceback" not in log


class GatedFake(FakeTelegramAPI):
    """The fake Bot API, with ``editMessageText`` (the courtesy edit before a button press is handled) held at a
    gate: the worker that claimed the press waits there, its claim held, until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.held = 0

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"].lower() == "editmessagetext" and not self.gate.is_set():
            self.held += 1
            await self.gate.wait()
        return await super()._handle_api(request)


async def test_a_worker_killed_holding_a_claim_leaves_the_update_to_the_other_after_the_lease(
    pg_url: str, tmp_path: Path
) -> None:
    uid = 4711
    lease = {"INBOX_CLAIM_LEASE_SECONDS": "2", "INBOX_POLL_SECONDS": "0.2"}
    async with GatedFake() as fake:
        first = Worker(fake, pg_url, tmp_path, "first", **lease)
        second = Worker(fake, pg_url, tmp_path, "second", **lease)
        await first.start()
        async with workers(first, second), aiohttp.ClientSession() as http:
            await post(http, first.url, {**text_update("/phananh", user_id=uid), "update_id": 1})
            await fake.wait_for("sendMessage", count=2, timeout=30)
            menu = next(c for c in fake.calls_of("sendMessage") if c.params.get("reply_markup"))
            button = next(
                b for row in menu.params["reply_markup"]["inline_keyboard"] for b in row if "Hàng giả" in b["text"]
            )
            press = callback_update(
                button["callback_data"], user_id=uid, message_id=menu.result["message_id"],
                message_text=menu.params["text"], reply_markup=menu.params["reply_markup"],
            )  # fmt: skip
            fake.gate.clear()
            await post(http, first.url, {**press, "update_id": 2})
            while fake.held == 0:  # the first worker claimed the press and waits at the gate
                await asyncio.sleep(0.02)
            await second.start()
            await first.stop(signal.SIGKILL)  # dies holding the claim: nothing of the step was committed
            fake.gate.set()
            await fake.wait_for("sendMessage", count=3, timeout=60)  # the second took it over once the lease ran out
            await asyncio.sleep(1)  # a second answer, if the press were handled twice, would arrive now
            texts = replies_to(fake, uid)
            log = await second.stop()
    assert sum("(Bước 2/10)" in t for t in texts) == 1, texts  # the press answered once
    assert [int(n) for n in HANDLED.findall(log)] == [1]  # ... by the second worker
    assert await inbox_counts(pg_url) == {InboxStatus.HANDLED.value: 2}


async def parked_rows(db_url: str) -> list[InboxUpdate]:
    db = Database(db_url)
    try:
        async with db.unit_of_work() as uow:
            return await uow.inbox.parked()
    finally:
        await db.dispose()


async def test_an_update_that_kills_its_worker_every_time_is_parked_at_the_third_death(
    pg_url: str, tmp_path: Path
) -> None:
    uid = 4712
    lease = {"INBOX_CLAIM_LEASE_SECONDS": "2", "INBOX_POLL_SECONDS": "0.2"}
    async with FakeTelegramAPI() as fake:
        started = [
            Worker(fake, pg_url, tmp_path, name, module="tests.support.poison_worker", **lease)
            for name in ("first", "second", "third", "fourth")
        ]
        async with workers(*started), aiohttp.ClientSession() as http:
            await started[0].start()
            await post(http, started[0].url, {**text_update(POISON, user_id=uid), "update_id": 1})
            for worker in started[:3]:  # each claims it (the first at once, the others after the lease) and dies
                if worker is not started[0]:
                    await worker.start(wait=False)
                assert worker.process is not None
                assert await asyncio.wait_for(worker.process.wait(), 120) == -signal.SIGKILL
            await started[3].start(wait=False)  # claims it a fourth time: parked untried, the user told
            await fake.wait_for("sendMessage", count=1, timeout=120)
            await post(http, started[3].url, {**text_update("/x1", user_id=uid, message_id=2), "update_id": 2})
            await fake.wait_for("sendMessage", count=2, timeout=60)
            await asyncio.sleep(1)  # a second apology, if there were one, would arrive now
            sent = replies_to(fake, uid)
            log = await started[3].stop()
    assert sent[0] == texts.APOLOGY and len(sent) == 2 and "/x1" in sent[1], sent  # told once; then answered
    assert await inbox_counts(pg_url) == {InboxStatus.PARKED.value: 1, InboxStatus.HANDLED.value: 1}
    [parked] = await parked_rows(pg_url)
    assert (parked.update_id, parked.attempts) == ("1", 3)
    assert parked.error == "the worker stopped while handling it 3 times"
    assert "the worker stopped while handling it 3 times" in log and "Traceback" not in log
