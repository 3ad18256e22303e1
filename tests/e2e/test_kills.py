"""SIGKILL at random moments of a complaint with photos and a Q&A exchange, over the fake Bot API: polling and
webhook, SQLite and PostgreSQL. After every restart the conversation goes on at the exact step: every message
the user sent is handled once, every reply owed is delivered (the in-flight ones at most twice), and the stored
complaint is whole. ``KILL_TRIALS`` sets the kills per configuration (11 by default: 44 in the four)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from storage.db import Database
from storage.inbox import InboxStatus
from tests.support.fakes.loopback import free_port
from tests.support.fakes.telegram_api import FakeTelegramAPI, callback_update, photo_update, text_update
from tests.support.images import jpeg
from tests.support.processes import PLAN_2024, checkout_env

pytestmark = [pytest.mark.processes, pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL")]

KILLS = int(os.environ.get("KILL_TRIALS", "11"))
USER = 5150
SECRET = "kill-test-secret"
PHOTOS = {name: jpeg(f"kill-{name}", 20_000) for name in ("a", "b")}
# (what the user does, its argument, a text in each reply it is owed, the last one last)
SCRIPT: list[tuple[str, str, list[str]]] = [
    ("say", "/phananh", ["Phản ánh hàng giả, hàng kém chất lượng", "(Bước 1/10)"]),
    ("press", "Hàng giả", ["(Bước 2/10)"]),
    ("say", "Shopee", ["(Bước 3/10)"]),
    ("say", "Shop Mỹ Phẩm Hoa Hồng", ["(Bước 4/10)"]),
    ("say", "https://shopee.vn/hoahong", ["(Bước 5/10)"]),
    ("say", "Son môi Dior", ["(Bước 6/10)"]),
    ("say", "hôm qua", ["(Bước 7/10)"]),
    ("say", "Son bị chảy, mùi lạ, vỏ hộp in sai chính tả", ["(Bước 8/10)"]),
    ("photo", "a", ["tổng cộng 1/10 ảnh"]),
    ("photo", "b", ["tổng cộng 2/10 ảnh"]),
    ("press", "Xong", ["(Bước 9/10)"]),
    ("say", "Đồng Xoài", ["Số điện thoại để cán bộ liên hệ"]),
    ("say", "0912 345 678", ["Bạn đồng ý để cán bộ gọi"]),
    ("press", "Đồng ý", ["Bạn kiểm tra lại phản ánh"]),
    ("press", "Gửi phản ánh", ["Mã tra cứu của bạn: PA-"]),
    ("say", "online friday giam gia toi da bao nhieu %", ["Mức giảm giá tối đa"]),
    ("press", "Hữu ích", ["Cảm ơn bạn đã đánh giá"]),
]


class Bot:
    """The bot as forked children of one zygote (tests/support/kill_worker.py): start, SIGKILL, start again."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid: int | None = None
        self.kills = 0

    async def start(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"start\n")
        await self.process.stdin.drain()
        line = (await asyncio.wait_for(self.process.stdout.readline(), 30)).decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])

    async def kill_and_restart(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        self.kills += 1
        await self.start()


@contextlib.asynccontextmanager
async def zygote(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Bot]:
    log = (tmp_path / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.kill_worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
        bot = Bot(process)
        await bot.start()
        yield bot
    finally:
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.write(b"quit\n")
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
        log.close()


class User:
    """The reporter, talking to the bot the way Telegram delivers: a queued update (polling) or a POST that
    Telegram repeats until it is answered 200 (webhook)."""

    def __init__(self, fake: FakeTelegramAPI, webhook_url: str | None) -> None:
        self.fake = fake
        self.webhook_url = webhook_url
        self.update_ids = itertools.count(1)
        self.sent_updates = 0

    def replies(self) -> list[str]:
        return [c.params.get("text", "") for c in self.fake.calls_of("sendMessage") if c.params["chat_id"] == USER]

    def update_for(self, kind: str, arg: str) -> dict:
        if kind == "say":
            return text_update(arg, user_id=USER, message_id=1000 + self.sent_updates)
        if kind == "photo":
            file_id = f"kill-{arg}"
            self.fake.add_file(file_id, PHOTOS[arg], file_path=f"photos/{file_id}.jpg")
            return photo_update(
                [(file_id, 1280, 960, len(PHOTOS[arg]))], user_id=USER, message_id=1000 + self.sent_updates
            )
        calls = [
            c for c in self.fake.calls_of("sendMessage") if c.params["chat_id"] == USER and c.params.get("reply_markup")
        ]
        for call in reversed(calls):
            for row in call.params["reply_markup"]["inline_keyboard"]:
                for button in row:
                    if arg in button["text"]:
                        message_id = (call.result or {}).get("message_id", 1)
                        return callback_update(
                            button["callback_data"], user_id=USER, message_id=message_id,
                            message_text=call.params["text"], reply_markup=call.params["reply_markup"],
                        )  # fmt: skip
        raise AssertionError(f"no button {arg!r} was shown")

    async def send(self, update: dict) -> None:
        self.sent_updates += 1
        if self.webhook_url is None:
            self.fake.push_update(update)
            return
        update["update_id"] = next(self.update_ids)
        async with aiohttp.ClientSession() as http:
            while True:  # as Telegram does: again until the webhook answers 200
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.post(
                        self.webhook_url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        timeout=aiohttp.ClientTimeout(total=5),
                    ) as response:  # fmt: skip
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)

    async def expect(self, before: int, markers: list[str], timeout: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            new = self.replies()[before:]
            if all(any(m in text for text in new) for m in markers):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"owed {markers}, got {[t[:60] for t in new]}")
            await asyncio.sleep(0.02)


def bot_env(fake: FakeTelegramAPI, db_url: str, tmp_path: Path, webhook_port: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL", "BOT_"))}
    settings = {
        "DATABASE_URL": db_url,
        "BOT_CONFIG": str(PLAN_2024),
        "MEDIA_DIR": str(tmp_path / "media"),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "TELEGRAM_OVERALL_RATE": "0",
        "TELEGRAM_PER_CHAT_RATE": "0",
        "INBOX_REPLY_LEASE_SECONDS": "1",
        "INBOX_CLAIM_LEASE_SECONDS": "2",  # PostgreSQL: an update claimed by a killed process is taken over then
        "INBOX_POLL_SECONDS": "0.2",
        "LEADER_RETRY_SECONDS": "0.2",
    }
    if webhook_port is not None:
        settings |= {
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.invalid/tg",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_WEBHOOK_PATH": "/tg",
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(webhook_port),
        }
    return checkout_env(env, **settings)


async def check_stored(db_url: str, messages: int) -> None:
    db = Database(db_url)
    try:
        async with db.unit_of_work() as uow:
            [complaint] = await uow.complaints.search()
            photos = await uow.complaints.photos(complaint.id)
            counts = await uow.inbox.counts("telegram")
            conversation = await uow.conversations.get("telegram", str(USER), str(USER))
    finally:
        await db.dispose()
    assert complaint.seller == "Shop Mỹ Phẩm Hoa Hồng" and complaint.product == "Son môi Dior"
    assert [p.sha256 for p in photos] == [hashlib.sha256(PHOTOS[n]).hexdigest() for n in ("a", "b")]
    assert counts == {InboxStatus.HANDLED.value: messages}  # each message stored once and handled once
    assert conversation is None


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_sigkill_at_random_moments_loses_nothing_and_does_nothing_twice(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    rng = random.Random(f"{mode}-{db_url[:10]}")
    kill_at = set(rng.sample(range(len(SCRIPT)), min(KILLS, len(SCRIPT))))
    extra_kills = max(0, KILLS - len(SCRIPT))
    port = free_port() if mode == "webhook" else None
    async with FakeTelegramAPI() as fake, zygote(bot_env(fake, db_url, tmp_path, port), tmp_path) as bot:
        user = User(fake, f"http://127.0.0.1:{port}/tg" if port else None)
        for step, (kind, arg, markers) in enumerate(SCRIPT):
            before = len(user.replies())
            sending = asyncio.create_task(user.send(user.update_for(kind, arg)))
            for _ in range(int(step in kill_at) + (1 if step < extra_kills else 0)):
                await asyncio.sleep(rng.uniform(0, 0.25))
                await bot.kill_and_restart()
            await sending
            await user.expect(before, markers)
        await asyncio.sleep(1.5)  # replies of the last step still leased would go out now, if any
        replies = user.replies()
        delivered = {
            marker: sum(marker in text for text in replies) for _k, _a, markers in SCRIPT for marker in markers
        }
        assert [m for m, n in delivered.items() if n == 0] == []  # every reply owed was delivered
        duplicates = sum(n - 1 for n in delivered.values())
        # Only a reply in flight at a kill (sent, not yet marked sent) may go out again, once per such kill: the
        # channel's own send, then the outbox sender's (a step has at most two replies in flight).
        assert duplicates <= 2 * bot.kills and max(delivered.values()) <= 1 + bot.kills, delivered
        print(f"\nkills={bot.kills} owed={len(delivered)} delivered={sum(delivered.values())} duplicates={duplicates}")
        assert bot.kills == KILLS
    await check_stored(db_url, len(SCRIPT))
