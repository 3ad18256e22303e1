"""The outbox sender against the fake Telegram Bot API on loopback, and its rate limiter on virtual time."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.channels.telegram import TelegramChannel
from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender, SenderOptions
from bot.settings import Settings
from handlers.buttons import ButtonCodec
from handlers.clock import FixedClock, SystemClock, as_utc
from handlers.config import QuietHours
from handlers.types import Reply
from storage.db import Database
from storage.models import OutboxMessage
from storage.subscriptions import Audience, BroadcastKind, Subscription
from tests.support.databases import migrated_sqlite
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.processes import ROOT, checkout_env

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FAST = SenderOptions(batch=50, concurrency=8, flush_interval=0.05, idle_poll=0.05, backoff_base=0.05)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    yield database
    await database.dispose()


async def _ignore(_msg):
    return []


def channel_for(fake: FakeTelegramAPI, limiter: RateLimiter) -> TelegramChannel:
    settings = Settings(
        _env_file=None,
        database_url="sqlite://",
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.api_base_url,
        telegram_file_base_url=fake.file_base_url,
    )
    return TelegramChannel(settings, _ignore, limiter=limiter)


async def broadcast_to(db: Database, chats: list[int], now: datetime, *, text: str = "Xin chào", **payload) -> None:
    """Subscribe ``chats`` on Telegram and fan one broadcast out to them."""
    async with db.unit_of_work() as uow:
        for chat in chats:
            await uow.subscriptions.subscribe("telegram", str(chat), str(chat), "consumer", now)
        body = {**Reply(text).to_dict(), **payload}
        broadcast = await uow.broadcasts.create(
            kind=BroadcastKind.REMINDER, title="t", audience=Audience.ALL, payload=body, now=now
        )
        await uow.broadcasts.fan_out(
            broadcast, payload=body, dedupe_prefix=f"broadcast:{broadcast.id}:", now=now, not_before=now
        )
        await uow.commit()


async def outbox(db: Database) -> list[OutboxMessage]:
    async with db.unit_of_work() as uow:
        return list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


def accepted(fake: FakeTelegramAPI) -> Counter:
    return Counter(c.params["chat_id"] for c in fake.calls if c.method == "sendMessage" and c.status == 200)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(retry_after=1) as api:
        yield api


async def run_sender(db: Database, channel: TelegramChannel, *, options: SenderOptions = FAST, **kwargs):
    sender = OutboxSender(
        db, {"telegram": channel.deliver}, clock=kwargs.pop("clock", SystemClock()), limiter=channel.limiter,
        options=options, **kwargs,
    )  # fmt: skip
    try:
        return await asyncio.wait_for(sender.run(until_empty=True), 60)
    finally:
        await channel.close_bulk()


# -- delivery outcomes -------------------------------------------------------------------------------------


async def test_every_row_once_and_who_blocked_is_unsubscribed(db: Database, fake: FakeTelegramAPI, caplog) -> None:
    chats = list(range(5001, 5031))
    blocked = {5003, 5017, 5029}
    fake.blocked_chats = set(blocked)
    codec = ButtonCodec(b"k" * 32)
    await broadcast_to(db, chats, datetime.now(UTC), buttons=[[{"label": "🔕 Tắt nhắc lịch", "payload": "sub:off"}]])
    channel = channel_for(fake, RateLimiter(0, 0, 0))
    with caplog.at_level(logging.INFO, logger="bot.sender"):
        stats = await run_sender(db, channel, codec=codec, options=dataclasses.replace(FAST, progress_interval=0.05))
    assert (stats.sent, stats.failed, stats.blocked) == (27, 3, 3)
    assert accepted(fake) == Counter({chat: 1 for chat in chats if chat not in blocked})
    assert fake.count_403 == 3
    rows = await outbox(db)
    assert Counter(r.status for r in rows) == {"sent": 27, "failed": 3}
    assert all(r.last_error.startswith("unreachable") for r in rows if r.status == "failed")
    async with db.unit_of_work() as uow:
        subs = list((await uow.session.execute(select(Subscription))).scalars())
    assert {int(s.chat_id) for s in subs if not s.active} == blocked
    assert {s.reason for s in subs if not s.active} == {"blocked"}
    # Buttons are signed by the sender, like the dispatcher signs them.
    markup = next(c for c in fake.calls if c.method == "sendMessage").params["reply_markup"]
    assert codec.decode(markup["inline_keyboard"][0][0]["callback_data"]) == "sub:off"
    assert "sender: sent" in caplog.text and "pending" in caplog.text and "ETA" in caplog.text
    # A 403 is never tried again.
    await run_sender(db, channel_for(fake, RateLimiter(0, 0, 0)))
    assert fake.count_403 == 3


async def test_a_429_pauses_every_send_for_retry_after(sqlite_url: str, fake: FakeTelegramAPI) -> None:
    db = Database(sqlite_url)
    await asyncio.to_thread(db.upgrade)
    chats = list(range(6001, 6006))
    await broadcast_to(db, chats, datetime.now(UTC))
    fake.fail_next("sendMessage", 429)  # the first message is refused with retry_after=1
    limiter = RateLimiter(4, 0, 0)  # 250 ms apart: the 429 answer arrives before the next send
    stats = await run_sender(db, channel_for(fake, limiter))
    await db.dispose()
    assert stats.sent == 5 and stats.rate_limited == 1 and limiter.pauses == 1
    assert accepted(fake) == Counter(dict.fromkeys(chats, 1))  # the refused one was sent again, once
    refused_at = fake.failed[0].at
    assert all(c.at >= refused_at + 1.0 for c in fake.calls if c.method == "sendMessage")


async def test_replies_wait_out_the_same_pause(fake: FakeTelegramAPI) -> None:
    limiter = RateLimiter(30, 1, 20)
    channel = channel_for(fake, limiter)
    await channel.application.initialize()
    try:
        limiter.pause(0.5)
        start = asyncio.get_running_loop().time()
        await channel.send(7001, [Reply("Trả lời")])
        # The pause was waited out (the event loop may wake a clock tick early: allow 50 ms).
        assert asyncio.get_running_loop().time() - start >= 0.45
        fake.fail_next("sendMessage", 429)  # a reply is retried after the pause, not lost
        await channel.send(7001, [Reply("Trả lời lần hai")])
        assert fake.sent_texts(7001) == ["Trả lời", "Trả lời lần hai"] and limiter.pauses == 2
    finally:
        await channel.application.shutdown()


async def test_network_errors_and_5xx_are_retried_with_backoff(db: Database, fake: FakeTelegramAPI) -> None:
    chats = [8001, 8002, 8003]
    await broadcast_to(db, chats, datetime.now(UTC))
    fake.fail_next("sendMessage", 500, times=2)
    fake.fail_next("sendMessage", 502)
    fake.fail_next("sendMessage", "network")
    stats = await run_sender(db, channel_for(fake, RateLimiter(0, 0, 0)))
    assert stats.sent == 3 and stats.retried == 4
    assert accepted(fake) == Counter(dict.fromkeys(chats, 1))
    rows = await outbox(db)
    assert {r.status for r in rows} == {"sent"} and sum(r.attempts for r in rows) == 7


async def test_a_row_failing_every_time_gives_up_after_max_attempts(db: Database, fake: FakeTelegramAPI) -> None:
    await broadcast_to(db, [8101], datetime.now(UTC))
    fake.fail_next("sendMessage", 503, times=10)
    options = dataclasses.replace(FAST, max_attempts=3)
    stats = await run_sender(db, channel_for(fake, RateLimiter(0, 0, 0)), options=options)
    assert stats.failed == 1 and len(fake.failed) == 3
    [row] = await outbox(db)
    assert row.status == "failed" and row.last_error.startswith("gave up after 3 attempts")


# -- the platform's limits ---------------------------------------------------------------------------------


async def test_one_message_a_second_per_chat(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    await asyncio.to_thread(db.upgrade)
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        for i in range(3):
            await uow.outbox.enqueue(
                channel="telegram", chat_id="9001", kind="reminder", payload=Reply(f"tin {i}").to_dict(), now=now
            )
        await uow.commit()
    async with FakeTelegramAPI(per_chat_rate=1) as fake:
        await run_sender(db, channel_for(fake, RateLimiter(30, 1, 20)))
    await db.dispose()
    times = [c.at for c in fake.calls if c.method == "sendMessage"]
    assert len(times) == 3 and fake.count_429 == 0
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


async def test_the_overall_limit_is_kept(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    await asyncio.to_thread(db.upgrade)
    await broadcast_to(db, list(range(9100, 9180)), datetime.now(UTC))
    async with FakeTelegramAPI(global_rate=40) as fake:
        await run_sender(db, channel_for(fake, RateLimiter(36, 1, 20)))
    await db.dispose()
    assert fake.count_429 == 0 and len(accepted(fake)) == 80


# -- crashes, stale rows and quiet hours -------------------------------------------------------------------


async def test_after_a_crash_only_rows_not_marked_are_sent(db: Database, fake: FakeTelegramAPI) -> None:
    now = datetime.now(UTC)
    chats = list(range(9201, 9221))
    await broadcast_to(db, chats, now)
    async with db.unit_of_work() as uow:  # a sender that claimed 8 rows, marked 5 sent, then died
        claimed = await uow.outbox.claim(now, 8, lease=timedelta(hours=1))
        for row in claimed[:5]:
            await uow.outbox.mark_sent(row.id, now)
        await uow.commit()
    marked = {int(row.chat_id) for row in claimed[:5]}
    stats = await run_sender(db, channel_for(fake, RateLimiter(0, 0, 0)))
    assert stats.sent == 15  # 12 never claimed + 3 in flight, taken back at once (not after the lease)
    assert accepted(fake) == Counter({chat: 1 for chat in chats if chat not in marked})


async def test_a_stale_reminder_is_skipped_and_announcements_wait_out_quiet_hours(db: Database) -> None:
    late = datetime(2024, 11, 28, 23, 30, tzinfo=VN).astimezone(UTC)  # storage takes UTC, like the clock gives
    clock = FixedClock(late)
    async with db.unit_of_work() as uow:
        stale = Reply("Còn 1 giờ").to_dict() | {"expires_at": datetime(2024, 11, 28, 23, 0, tzinfo=VN).isoformat()}
        await uow.outbox.enqueue(channel="console", chat_id="a", kind="reminder", payload=stale, now=late)
        fresh = Reply("Còn 30 phút").to_dict() | {"expires_at": datetime(2024, 11, 29, tzinfo=VN).isoformat()}
        await uow.outbox.enqueue(channel="console", chat_id="b", kind="reminder", payload=fresh, now=late)
        await uow.outbox.enqueue(
            channel="console", chat_id="c", kind="announcement", payload=Reply("Thông báo").to_dict(), now=late
        )
        await uow.commit()
    delivered: list[tuple[str, str]] = []

    async def deliver(chat_id: str, reply: Reply) -> str:
        delivered.append((chat_id, reply.text))
        return "1"

    async def run() -> None:
        sender = OutboxSender(db, {"console": deliver}, clock=clock, quiet=QuietHours(), options=FAST)
        await asyncio.wait_for(sender.run(until_empty=True), 30)

    await run()
    assert delivered == [("b", "Còn 30 phút")]  # the stale one skipped, the announcement held
    rows = {r.chat_id: r for r in await outbox(db)}
    assert rows["a"].status == "skipped" and "out of date" in rows["a"].last_error
    assert rows["c"].status == "pending"
    assert as_utc(rows["c"].not_before) == datetime(2024, 11, 29, 7, 0, tzinfo=VN)
    clock.set(datetime(2024, 11, 29, 7, 0, tzinfo=VN))
    await run()
    assert delivered[-1] == ("c", "Thông báo")


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_killed_with_sigkill_and_restarted_nothing_lost_duplicates_only_in_flight(tmp_path: Path) -> None:
    from tests.benchmarks.bench_broadcast import FIRST_CHAT, in_flight, prepare_db

    url = migrated_sqlite(tmp_path / "kill.db")
    n = 150
    blocked, queued = await prepare_db(url, n, blocked_every=50)
    assert queued == n

    async def spawn(fake: FakeTelegramAPI) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.benchmarks.bench_broadcast", "child", "--db", url,
            "--api", fake.api_base_url, "--token", fake.token, "--rate", "50", "--batch", "40",
            "--concurrency", "8",
            cwd=ROOT, env=checkout_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    async with FakeTelegramAPI(blocked_chats=blocked) as fake:
        child = await spawn(fake)
        await fake.wait_for("sendMessage", count=60, timeout=60)
        child.send_signal(signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        await asyncio.sleep(0.2)
        flying = in_flight(url)
        before = Counter(accepted(fake))
        child = await spawn(fake)
        assert await asyncio.wait_for(child.wait(), 60) == 0
    after = accepted(fake)
    wanted = {FIRST_CHAT + i for i in range(n)} - blocked
    assert set(after) == wanted  # nothing lost
    twice = sum(count - 1 for count in after.values())
    assert twice <= flying  # only rows in flight at the kill can go twice
    assert sum(before.values()) >= 60


# -- the rate limiter on virtual time ----------------------------------------------------------------------


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def virtual_limiter(*args, **kwargs) -> tuple[RateLimiter, VirtualTime]:
    clock = VirtualTime()
    return RateLimiter(*args, monotonic=clock.monotonic, sleep=clock.sleep, **kwargs), clock


async def test_limiter_spaces_requests_and_pauses_all() -> None:
    limiter, clock = virtual_limiter(5, 1, 20)
    times = []
    for chat in range(10):
        await limiter.acquire(chat, bulk=True)
        times.append(clock.now)
    assert times == pytest.approx([0.2 * i for i in range(10)], abs=0.005)
    limiter.pause(1.0)
    await limiter.acquire(99)
    assert clock.now == pytest.approx(times[-1] + 1.0)


async def test_limiter_per_chat_only_for_bulk_and_group_window() -> None:
    limiter, clock = virtual_limiter(0, 1, 20)
    for _ in range(3):
        await limiter.acquire(42)  # replies to one private chat: no per-chat spacing
    assert clock.now == 0
    for _ in range(3):
        await limiter.acquire(42, bulk=True)
    assert clock.now == pytest.approx(2 * 1.05)
    group, clock = virtual_limiter(0, 1, 20)
    for _ in range(20):
        await group.acquire(-100123)
    assert clock.now == 0
    await group.acquire(-100123)  # the 21st in a minute waits for the first to leave the window
    assert clock.now == pytest.approx(60.05)


async def test_one_chats_messages_arrive_in_the_order_they_were_written(db: Database) -> None:
    """Several workers, a slow first message: the later ones to the same chat wait for it; other chats don't."""
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        for i in range(6):
            chat = "reporter" if i % 2 == 0 else f"other-{i}"
            await uow.outbox.enqueue(
                channel="test", chat_id=chat, kind="case_notice", payload=Reply(f"tin {i}").to_dict(), now=now
            )
        await uow.commit()
    delivered: list[tuple[str, str]] = []
    delays = {"tin 0": 0.3, "tin 2": 0.1}  # the first two to the reporter are slow to go out

    async def deliver(chat_id: str, reply: Reply) -> str:
        await asyncio.sleep(delays.get(reply.text, 0))
        delivered.append((chat_id, reply.text))
        return str(len(delivered))

    sender = OutboxSender(db, {"test": deliver}, clock=SystemClock(), options=FAST)
    await asyncio.wait_for(sender.run(until_empty=True), 30)
    assert [text for chat, text in delivered if chat == "reporter"] == ["tin 0", "tin 2", "tin 4"]
    assert delivered.index(("other-1", "tin 1")) < delivered.index(("reporter", "tin 0"))  # not held up
    assert not sender._chat_locks and not sender._chat_rows  # idle chats keep no lock
