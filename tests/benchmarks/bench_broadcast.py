"""Benchmark: one broadcast to N subscribers through the outbox sender, against a fake Bot API.

The fake (aiohttp on loopback, in this process) enforces a strict global rate limit with 429 +
``retry_after``, 1 message/s per chat, and answers 403 for 1 % of the users (they blocked the bot). The
sender runs in a child process (``python -m tests.benchmarks.bench_broadcast child …``): the real
``OutboxSender`` and the real ``TelegramChannel.deliver`` through python-telegram-bot, holding the leader
lock like ``python -m bot run`` does. Three runs:

1. **rate**: N subscribers; the achieved rate (messages answered by the fake per second, first to last)
   over the enforced limit; lost, sent twice, every 403 unsubscribed. Any 429 here is the fake's own.
2. **crash**: the same, plus a 429 injected at 30 % (the whole sender waits ``retry_after``) and the
   sender killed by SIGKILL at about half way and restarted; duplicates are compared with the rows that
   were claimed and not yet marked when it died (in flight).
3. **memory**: peak RSS of the sender at N and at 10 × N subscribers (limit lifted: memory, not speed).

Not a test: it prints Markdown tables.

    python -m tests.benchmarks.bench_broadcast [--subscribers 10000] [--limit 300] [--memory-factor 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from storage.db import Database
from storage.models import OutboxMessage
from storage.subscriptions import Audience, BroadcastKind, Subscription
from tests.benchmarks.bench_telegram import machine
from tests.support.fakes.telegram_api import FakeTelegramAPI

ROOT = Path(__file__).resolve().parents[2]
FIRST_CHAT = 10_000_000


# ----------------------------------------------------------------------------------------------------------
# Child: the sender process
# ----------------------------------------------------------------------------------------------------------


async def child_main(args: argparse.Namespace) -> int:
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender, SenderOptions
    from handlers.clock import SystemClock
    from tests.benchmarks.leader_child import telegram_leader

    limiter = RateLimiter(args.rate, args.per_chat_rate, 20)
    async with telegram_leader(args.db, args.token, args.api, limiter) as leader:
        if leader is None:
            return 3
        channel, db = leader
        options = SenderOptions(
            batch=args.batch, concurrency=args.concurrency, progress_interval=args.progress, backoff_base=0.5
        )
        sender = OutboxSender(db, {"telegram": channel.deliver}, clock=SystemClock(), limiter=limiter, options=options)
        print(json.dumps({"started": True}), flush=True)
        stats = await sender.run(until_empty=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"sent": stats.sent, "failed": stats.failed, "peak_rss_kb": peak_kb, "429": stats.rate_limited}))
    return 0


# ----------------------------------------------------------------------------------------------------------
# Parent: set-up, the fake, the runs
# ----------------------------------------------------------------------------------------------------------


async def prepare_db(url: str, subscribers: int, blocked_every: int) -> tuple[set[int], int]:
    """Create the schema, N subscribers and one broadcast of N outbox rows; return the blocked chats."""
    Database(url).upgrade()
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for table in ("outbox", "subscriptions", "broadcasts"):
            conn.execute(text(f"DELETE FROM {table}"))
        batch = []
        for i in range(subscribers):
            chat = str(FIRST_CHAT + i)
            batch.append(
                {
                    "channel": "telegram",
                    "user_id": chat,
                    "chat_id": chat,
                    "audience": "consumer",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(Subscription.__table__), batch)
                batch = []
        if batch:
            conn.execute(insert(Subscription.__table__), batch)
    engine.dispose()

    async def fan_out() -> int:
        db = Database(url)
        async with db.unit_of_work() as uow:
            body = {"text": "📢 Thông báo của Sở Công Thương: cảnh giác hàng giả dịp Online Friday.", "buttons": []}
            broadcast = await uow.broadcasts.create(
                kind=BroadcastKind.ANNOUNCEMENT, title="bench", audience=Audience.ALL, payload=body, now=now
            )
            count = await uow.broadcasts.fan_out(
                broadcast, payload=body, dedupe_prefix=f"broadcast:{broadcast.id}:", now=now, not_before=now
            )
            await uow.commit()
        await db.dispose()
        return count

    queued = await fan_out()
    blocked = {FIRST_CHAT + i for i in range(0, subscribers, blocked_every)}
    return blocked, queued


def in_flight(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.claimed_until.is_not(None))
        ).scalar_one()
    engine.dispose()
    return int(count)


def db_summary(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        inactive = conn.execute(
            select(func.count()).select_from(Subscription).where(Subscription.active.is_(False))
        ).scalar_one()
        blocked_subs = set(conn.execute(select(Subscription.chat_id).where(Subscription.reason == "blocked")).scalars())
    engine.dispose()
    return {**statuses, "inactive": inactive, "blocked_subs": blocked_subs}


@dataclass
class Run:
    name: str
    subscribers: int
    limit: float | None
    accepted: Counter = field(default_factory=Counter)
    refused_403: Counter = field(default_factory=Counter)
    first: float = 0.0
    last: float = 0.0
    count_429: int = 0
    injected_429: int = 0
    kills: int = 0
    in_flight_at_kill: int = 0
    peak_rss_kb: int = 0
    children: list[dict] = field(default_factory=list)


async def spawn_child(args: argparse.Namespace, fake: FakeTelegramAPI, url: str, rate: float, log: Path):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.benchmarks.bench_broadcast", "child",
        "--db", url, "--api", fake.api_base_url, "--token", fake.token,
        "--rate", str(rate), "--per-chat-rate", "1", "--batch", str(args.batch),
        "--concurrency", str(args.concurrency), "--progress", "5",
        stdout=asyncio.subprocess.PIPE, stderr=log.open("ab"), cwd=ROOT,
    )  # fmt: skip


def drain(fake: FakeTelegramAPI, run: Run) -> None:
    calls, fake.calls = fake.calls, []
    for call in calls:
        if call.method != "sendMessage" or call.status != 200:
            continue
        run.accepted[call.params["chat_id"]] += 1
        run.first = run.first or call.at
        run.last = call.at
    rejected, fake.rejected = fake.rejected, []
    for call in rejected:
        if call.status == 403:
            run.refused_403[call.params["chat_id"]] += 1
    failed, fake.failed = fake.failed, []
    run.injected_429 += sum(1 for call in failed if call.status == 429)
    run.count_429 = fake.count_429 + run.injected_429


async def one_run(
    args: argparse.Namespace,
    url: str,
    name: str,
    subscribers: int,
    limit: float | None,
    *,
    kill_at: float | None = None,
    inject_429_at: float | None = None,
) -> tuple[Run, set[int], dict]:
    blocked, queued = await prepare_db(url, subscribers, args.blocked_every)
    assert queued == subscribers
    run = Run(name, subscribers, limit)
    log = Path(args.tmp) / f"{name}.log"
    sender_rate = (limit * args.sender_share) if limit else 0
    # The fake stamps arrivals on this process's clock: a garbage-collection pause here would bunch them
    # and make its limit stricter than it is. Collect between runs, not during them.
    gc.collect()
    gc.disable()
    async with FakeTelegramAPI(global_rate=limit, per_chat_rate=1, blocked_chats=blocked, retry_after=1) as fake:
        child = await spawn_child(args, fake, url, sender_rate, log)
        injected = False
        deadline = time.monotonic() + args.timeout
        progress, progress_at = -1, time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), 0.05)
            drain(fake, run)
            handled = sum(run.accepted.values()) + sum(run.refused_403.values())
            if handled != progress:
                progress, progress_at = handled, time.monotonic()
            elif time.monotonic() - progress_at > args.stall and child.returncode is None:
                child.kill()
                raise RuntimeError(f"{name}: no progress for {args.stall:.0f}s; see {log}")
            if inject_429_at is not None and not injected and handled >= inject_429_at * subscribers:
                fake.fail_next("sendMessage", 429)
                injected = True
            if kill_at is not None and run.kills == 0 and handled >= kill_at * subscribers:
                child.send_signal(signal.SIGKILL)
                await child.wait()
                run.kills += 1
                await asyncio.sleep(0.2)  # let requests already on the wire land before counting
                drain(fake, run)
                run.in_flight_at_kill = in_flight(url)
                child = await spawn_child(args, fake, url, sender_rate, log)
                continue
            if child.returncode is not None:
                break
            if time.monotonic() > deadline:
                child.kill()
                raise TimeoutError(f"{name}: not done after {args.timeout}s; see {log}")
        out = (await child.stdout.read()).decode().strip().splitlines()
        drain(fake, run)
    gc.enable()
    for line in out:
        with_json = line.strip()
        if with_json.startswith("{"):
            data = json.loads(with_json)
            if "peak_rss_kb" in data:
                run.children.append(data)
                run.peak_rss_kb = data["peak_rss_kb"]
    return run, blocked, db_summary(url)


def verdict(run: Run, blocked: set[int], summary: dict) -> dict:
    wanted = {FIRST_CHAT + i for i in range(run.subscribers)} - blocked
    delivered = set(run.accepted)
    lost = len(wanted - delivered)
    twice = sum(count - 1 for count in run.accepted.values() if count > 1)
    span = max(run.last - run.first, 1e-9)
    answered = sum(run.accepted.values()) + sum(run.refused_403.values())
    rate = answered / span
    unsubscribed = {int(c) for c in summary["blocked_subs"]} == blocked
    # Asked again after a 403: never, except rows in flight when a sender was killed (counted as duplicates).
    retried_403 = sum(count - 1 for count in run.refused_403.values() if count > 1)
    return {
        "rate": rate,
        "ratio": rate / run.limit if run.limit else None,
        "lost": lost,
        "twice": twice,
        "unsubscribed": unsubscribed,
        "retried_403": retried_403,
        "span": span,
        "pending": summary.get("pending", 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    child = sub.add_parser("child")
    child.add_argument("--db", required=True)
    child.add_argument("--api", required=True)
    child.add_argument("--token", required=True)
    child.add_argument("--rate", type=float, default=30)
    child.add_argument("--per-chat-rate", type=float, default=1)
    child.add_argument("--batch", type=int, default=200)
    child.add_argument("--concurrency", type=int, default=16)
    child.add_argument("--progress", type=float, default=10)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--limit", type=float, default=300, help="the fake's global limit, messages/s")
    parser.add_argument("--sender-share", type=float, default=0.97, help="sender rate as a share of the limit")
    parser.add_argument("--memory-factor", type=int, default=10)
    parser.add_argument("--blocked-every", type=int, default=100, help="1 user in this many blocked the bot")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--stall", type=float, default=60, help="give up after this long without progress")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.mode == "child":
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return asyncio.run(child_main(args))

    args.tmp = tempfile.mkdtemp(prefix="bench-broadcast-")
    url = args.db or f"sqlite:///{args.tmp}/broadcast.db"
    n = args.subscribers
    results = []
    rate_run = asyncio.run(one_run(args, url, "rate", n, args.limit))
    results.append(rate_run)
    crash_run = asyncio.run(one_run(args, url, "crash", n, args.limit, kill_at=0.5, inject_429_at=0.3))
    results.append(crash_run)
    memory = []
    if not args.skip_memory:
        for count in (n, n * args.memory_factor):
            memory.append(asyncio.run(one_run(args, url, f"memory-{count}", count, None)))

    print(f"Machine: {machine()}")
    print(f"Database: {'SQLite file' if url.startswith('sqlite') else 'PostgreSQL'}; sender: batch {args.batch}, ")
    print(f"concurrency {args.concurrency}, rate {args.sender_share:.0%} of the fake's limit; logs in {args.tmp}\n")
    print(
        "| run | subscribers | enforced limit | achieved msg/s | ratio | 429 | 403 (1 %) | lost | sent twice "
        "| 403 asked again | in flight at kill | every 403 unsubscribed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    for run, blocked, summary in results:
        v = verdict(run, blocked, summary)
        in_flight_text = str(run.in_flight_at_kill) if run.kills else "–"
        print(
            f"| {run.name}{' (SIGKILL at ~50 %, restarted)' if run.kills else ''} | {run.subscribers:,} | "
            f"{run.limit:.0f}/s | {v['rate']:.1f} | {v['ratio']:.3f} | {run.count_429} | {len(blocked)} | "
            f"{v['lost']} | {v['twice']} | {v['retried_403']} | {in_flight_text} | "
            f"{'yes' if v['unsubscribed'] else 'NO'} |"
        )
        ok &= v["lost"] == 0 and v["unsubscribed"] and v["pending"] == 0
        again = v["twice"] + v["retried_403"]
        ok &= (again == 0) if not run.kills else (again <= run.in_flight_at_kill)
        ok &= run.kills > 0 or v["ratio"] >= 0.9
    if memory:
        print("\n| subscribers | sender peak RSS | messages/s (no limit) | lost | sent twice |")
        print("|---:|---:|---:|---:|---:|")
        for run, blocked, summary in memory:
            v = verdict(run, blocked, summary)
            rss = run.peak_rss_kb / 1024
            print(f"| {run.subscribers:,} | {rss:.1f} MB | {v['rate']:.0f} | {v['lost']} | {v['twice']} |")
            ok &= v["lost"] == 0 and v["twice"] == 0
        small, large = memory[0][0].peak_rss_kb, memory[1][0].peak_rss_kb
        growth = large / small - 1
        print(f"\nPeak RSS growth from {memory[0][0].subscribers:,} to {memory[1][0].subscribers:,}: {growth:+.1%}")
        ok &= growth <= 0.2
    print(f"\nAcceptance: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
