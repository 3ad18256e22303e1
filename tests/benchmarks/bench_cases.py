"""Benchmark: a burst of reports to ONE agency group, routed and delivered within the platform's limits.

The fake Bot API (aiohttp on loopback, in this process) enforces Telegram's limits sped up by ``--scale``
(default ×20 to keep the run short; the ratio is what counts): 20 messages per group in any 60/scale seconds
(at ×20: 20 in any 3 seconds — time compressed, so a burst cannot hide inside one long window) and 30 × scale a
second overall, answering 429 to anything over. Sped up, the same milliseconds of network and scheduling
jitter weigh ×scale more against the window, so the bot's limiter runs at ``--limiter-share`` (95 %) of the
fake's. The bot side runs in a child process
(``python -m tests.benchmarks.bench_cases child …``): the real case worker (:func:`route_pending`, one
transaction per report), the real ``OutboxSender`` and ``TelegramChannel.deliver`` through
python-telegram-bot, holding the leader lock like ``python -m bot run``. The reports are written the way the
complaint flow submits them (complaint, history event, outbox row on the ``staff`` pseudo-channel). Runs:

1. **cards**: N reports, one card each (digests off): every card reaches the group, no 429, at the rate the
   group's limit allows (achieved / allowed);
2. **digests**: the same burst with batching: once the group has ``digest_after`` messages waiting, new cases
   are folded into digests of ``digest_size``; every case reaches the group (in a card or a digest), sooner;
3. **albums**: fewer reports with 3 photos each: an album counts 3 messages against the group's limit.

Not a test: it prints Markdown tables.

    python -m tests.benchmarks.bench_cases [--reports 500] [--scale 60] [--album-reports 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select

from storage.models import OutboxMessage
from tests.benchmarks.bench_telegram import machine
from tests.support.fakes.telegram_api import FakeTelegramAPI, _Window

ROOT = Path(__file__).resolve().parents[2]
GROUP = -1009990000001
SEND_METHODS = ("sendMessage", "sendPhoto", "sendMediaGroup")
SUBMITTED_AT = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)  # inside the 60 hours: the tight SLA applies


class ScaledFake(FakeTelegramAPI):
    """The fake with each group's window compressed in time: ``group_per_minute`` messages per ``group_span``."""

    def __init__(self, *args, group_span: float = 60.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.group_span = group_span

    def _limit_ok(self, chat_id, n: int, now: float) -> bool:
        if self.group_per_minute and isinstance(chat_id, int) and chat_id < 0 and chat_id not in self._group_windows:
            self._group_windows[chat_id] = _Window(self.group_per_minute, self.group_span)
        return super()._limit_ok(chat_id, n, now)


def bench_config(group: int = GROUP, *, digest_after: int = 0, digest_size: int = 10, digest_wait: float = 0.3):
    """The default configuration with every consumer report led by market surveillance, whose one group is
    the only staff chat (so the whole burst lands in one group); ``digest_after`` 0 turns digests off."""
    from handlers.config import AppConfig
    from tests.support.configs import plan_2024

    base = plan_2024().model_dump(mode="python")
    for agency in base["agencies"]:
        agency["chats"] = {"telegram": [str(group)]} if agency["id"] == "qltt" else {}
    base["routing"] = [
        {"kind": "consumer_report", "lead": "qltt"},
        {"kind": "merchant_question", "lead": "qltm"},
    ]
    base["cases"] = {
        **base["cases"],
        "digest_after": digest_after or 10**9,
        "digest_size": digest_size,
        "digest_wait_seconds": digest_wait,
    }
    return AppConfig.model_validate(base)


# ----------------------------------------------------------------------------------------------------------
# Reports, as the complaint flow submits them
# ----------------------------------------------------------------------------------------------------------


async def prepare_reports(url: str, count: int, *, photos: int = 0, media_dir: Path | None = None) -> list[str]:
    """A fresh schema with ``count`` submitted reports waiting for routing; returns their codes."""
    from handlers.complaints.photos import photo_rows
    from handlers.complaints.submit import staff_payload
    from handlers.complaints.vocabulary import KIND_SUBMITTED, STAFF_CHANNEL, STAFF_CHAT
    from storage.complaints import Complaint, ComplaintEvent, ComplaintStatus, EventKind
    from storage.db import Database
    from storage.media import MediaStore
    from tests.support.configs import plan_2024
    from tests.support.images import jpeg

    config = plan_2024()
    db = Database(url)
    await asyncio.to_thread(db.upgrade)
    store = MediaStore(media_dir, fsync=False) if media_dir is not None else None
    codes = []
    try:
        for i in range(count):
            at = SUBMITTED_AT + timedelta(seconds=i)
            entries = []
            for j in range(photos):
                assert store is not None
                source = Path(tempfile.mkdtemp(prefix="bench-photo-")) / "p.jpg"
                source.write_bytes(jpeg(f"bench-{i}-{j}", 4096))
                stored = store.save_file(source)
                source.unlink()
                entries.append(
                    {"sha256": stored.sha256, "size": stored.size, "mime": stored.mime, "at": at.isoformat()}
                )
            async with db.unit_of_work() as uow:
                complaint = Complaint(
                    code=await uow.complaints.new_code(),
                    status=ComplaintStatus.SUBMITTED.value,
                    channel="telegram",
                    chat_id=str(100_000 + i),
                    user_id=str(100_000 + i),
                    reporter_name=f"Người tiêu dùng {i}",
                    phone="+84912345678",
                    contact_consent=True,
                    category=("hang-gia", "kem-chat-luong", "khong-ro-nguon-goc", "khuyen-mai")[i % 4],
                    platform=("shopee", "lazada", "tiktok", "store")[i % 4],
                    seller=f"Cửa hàng số {i}",
                    seller_where=f"https://shopee.vn/shop{i}",
                    product=f"Sản phẩm {i}",
                    description="Hàng nhận được khác mô tả, nghi là hàng giả, vỏ hộp in mờ và sai chính tả.",
                    area="dong-xoai",
                    created_at=at,
                    updated_at=at,
                )
                rows = photo_rows(entries, "report")
                event = ComplaintEvent(
                    at=at, kind=EventKind.SUBMITTED.value, status=complaint.status, note="Đã gửi", actor="reporter"
                )
                await uow.complaints.add(complaint, rows, [event])
                await uow.outbox.enqueue(
                    channel=STAFF_CHANNEL,
                    chat_id=STAFF_CHAT,
                    kind=KIND_SUBMITTED,
                    payload=staff_payload(complaint, rows, config),
                    now=at,
                    dedupe_key=f"{KIND_SUBMITTED}:{complaint.code}",
                    ref=complaint.code,
                )
                await uow.commit()
                codes.append(complaint.code)
    finally:
        await db.dispose()
    return codes


def cards_in_flight(url: str) -> int:
    """Case messages claimed by a sender and not marked yet (what a SIGKILL may send twice)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.claimed_until.is_not(None),
                OutboxMessage.channel == "telegram",
            )
        ).scalar_one()
    engine.dispose()
    return int(count)


# ----------------------------------------------------------------------------------------------------------
# Child: the bot's leader (case worker + outbox sender)
# ----------------------------------------------------------------------------------------------------------


async def child_main(args: argparse.Namespace) -> int:
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender, SenderOptions
    from handlers.buttons import ButtonCodec
    from handlers.cases.worker import CaseWorker
    from handlers.clock import SystemClock
    from storage.media import MediaStore
    from storage.models import OutboxStatus
    from tests.benchmarks.leader_child import telegram_leader

    config = bench_config(args.group, digest_after=args.digest_after, digest_wait=args.digest_wait)
    limiter = RateLimiter(args.overall, 1, args.group_cap)
    limiter.group_span = args.group_span + 0.05  # the group window, compressed like the fake's (+ the margin)
    async with telegram_leader(args.db, args.token, args.api, limiter) as leader:
        if leader is None:
            return 3
        channel, db = leader
        media = MediaStore(args.media) if args.media else None
        clock = SystemClock()
        sender = OutboxSender(
            db,
            {"telegram": channel.deliver},
            edits={"telegram": channel.edit},
            clock=clock,
            limiter=limiter,
            codec=ButtonCodec(b"bench-cases-signing-key"),
            options=SenderOptions(batch=200, concurrency=16, flush_interval=0.1, idle_poll=0.1, backoff_base=0.5),
        )
        worker = CaseWorker(db, config, clock, media, on_queued=sender.wake)
        stop = asyncio.Event()
        started = time.monotonic()
        sending = asyncio.create_task(sender.run(stop))
        routed = 0
        routed_at = None
        try:
            while True:
                stats = await worker.tick()
                routed += stats.routed
                async with db.unit_of_work() as uow:
                    left = await uow.session.execute(
                        select(OutboxMessage.channel, func.count())
                        .where(OutboxMessage.status == OutboxStatus.PENDING.value)
                        .group_by(OutboxMessage.channel)
                    )
                    pending = dict(left.all())
                if not pending.get("staff") and routed_at is None:
                    routed_at = time.monotonic()
                if not pending:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the last results flushed
        finally:
            stop.set()
            await sending
    print(
        json.dumps(
            {
                "routed": routed,
                "started": started,  # time.monotonic() is the machine's clock: the parent compares it with arrivals
                "route_seconds": (routed_at or time.monotonic()) - started,
                "sent": sender.stats.sent,
                "failed": sender.stats.failed,
                "429": sender.stats.rate_limited,
            }
        ),
        flush=True,
    )
    return 0


# ----------------------------------------------------------------------------------------------------------
# Parent: the fake, the runs, the tables
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    reports: int
    photos: int
    digests: bool
    messages: int = 0  # messages the fake accepted into the group (an album counts each photo)
    calls: int = 0
    cards: set[str] = field(default_factory=set)
    card_count: int = 0
    digest_cases: set[str] = field(default_factory=set)
    digests_sent: int = 0
    first: float = 0.0
    last: float = 0.0
    start: float = 0.0
    count_429: int = 0
    child: dict = field(default_factory=dict)
    arrivals: list[float] = field(default_factory=list)  # one per message accepted into the group

    def tightest(self, cap: int = 20) -> float:
        """The shortest time in which the group received cap + 1 messages (the limit: more than its window)."""
        times = sorted(self.arrivals)
        return min((times[i + cap] - times[i] for i in range(len(times) - cap)), default=float("nan"))


def drain(fake: FakeTelegramAPI, run: Run) -> None:
    calls, fake.calls = fake.calls, []
    for call in calls:
        if call.method not in SEND_METHODS or call.status != 200 or call.params.get("chat_id") != GROUP:
            continue
        run.calls += 1
        count = len(call.params["media"]) if call.method == "sendMediaGroup" else 1
        run.messages += count
        run.arrivals += [call.at] * count
        run.first = run.first or call.at
        run.last = call.at
        text = str(call.params.get("text") or call.params.get("caption") or "")
        if text.startswith("🚨 PHẢN ÁNH"):
            run.cards.add(text.split()[3])
            run.card_count += 1
        elif text.startswith("📚 BẢN TIN"):
            run.digests_sent += 1
            for line in text.splitlines():
                head = line.split(" · ", 1)[0]
                if ". PA-" in head:
                    run.digest_cases.add(head.split(". ", 1)[1])
    run.count_429 = fake.count_429


async def one_run(args: argparse.Namespace, name: str, reports: int, *, photos: int, digests: bool) -> Run:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-cases-{name}-"))
    url = f"sqlite:///{tmp / 'cases.db'}"
    media = tmp / "media"
    codes = await prepare_reports(url, reports, photos=photos, media_dir=media)
    run = Run(name, reports, photos, digests)
    span = 60 / args.scale
    overall = 30 * args.scale
    log = tmp / "child.log"
    gc.collect()
    gc.disable()  # the fake stamps arrivals on this process's clock: no collection pauses during the run
    fake_api = ScaledFake(global_rate=overall, group_per_minute=20, group_span=span, retry_after=1)
    async with fake_api as fake:
        run.start = time.monotonic()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.benchmarks.bench_cases", "child", "--db", url,
            "--api", fake.api_base_url, "--token", fake.token, "--media", str(media),
            "--group-cap", "20", "--group-span", str(span / args.limiter_share),
            "--overall", str(overall * args.limiter_share),
            "--digest-after", str(args.digest_after if digests else 0),
            "--digest-wait", str(20 / args.scale),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log.open("ab"),
        )  # fmt: skip
        deadline = time.monotonic() + args.timeout
        while child.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), 0.05)
            drain(fake, run)
            if time.monotonic() > deadline:
                child.kill()
                raise TimeoutError(f"{name}: not done after {args.timeout}s; see {log}")
        out = (await child.stdout.read()).decode().splitlines()
        drain(fake, run)
    gc.enable()
    for line in out:
        if line.startswith("{"):
            run.child = json.loads(line)
    missing = set(codes) - run.cards - run.digest_cases
    if missing:
        raise AssertionError(f"{name}: {len(missing)} cases never reached the group; see {log}")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    child = sub.add_parser("child")
    child.add_argument("--db", required=True)
    child.add_argument("--api", required=True)
    child.add_argument("--token", required=True)
    child.add_argument("--media", default=None)
    child.add_argument("--group", type=int, default=GROUP)
    child.add_argument("--group-cap", type=float, default=20, help="messages per group window")
    child.add_argument("--group-span", type=float, default=60, help="the group window, seconds")
    child.add_argument("--overall", type=float, default=30)
    child.add_argument("--digest-after", type=int, default=0, help="0: no digests")
    child.add_argument("--digest-wait", type=float, default=0.3)
    parser.add_argument("--reports", type=int, default=500)
    parser.add_argument("--album-reports", type=int, default=60, help="reports with 3 photos each (0: skip)")
    parser.add_argument("--scale", type=float, default=20, help="the fake's limits sped up × this")
    parser.add_argument(
        "--limiter-share",
        type=float,
        default=0.95,
        help="the bot's limits as a share of the fake's: sped up, the network's jitter weighs ×scale more",
    )
    parser.add_argument("--digest-after", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.mode == "child":
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return asyncio.run(child_main(args))

    runs = [
        asyncio.run(one_run(args, "cards", args.reports, photos=0, digests=False)),
        asyncio.run(one_run(args, "digests", args.reports, photos=0, digests=True)),
    ]
    if args.album_reports:
        runs.append(asyncio.run(one_run(args, "albums", args.album_reports, photos=3, digests=False)))

    allowed = 20 * args.scale / 60
    print(f"Machine: {machine()}")
    print(
        f"Fake Bot API sped up ×{args.scale:g}: 20 messages per group in any {60 / args.scale:g} s ({allowed:g}/s; "
        f"Telegram: 20/min), {30 * args.scale:g}/s overall (Telegram: 30/s); the bot's limiter at "
        f"{args.limiter_share:.0%} of them. One agency group; SQLite; router and sender in one child process.\n"
    )
    print(
        "| run | reports | photos each | messages to the group | cards | digests (cases) | 429 | routing "
        "| all delivered after | sustained msg/s | allowed msg/s | ratio | tightest 21 messages | unscaled (Telegram) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for run in runs:
        # The first window's 20 go at once (the limit allows it); the sustained rate is what follows.
        span = run.last - run.first
        rate = (run.messages - 20) / span if run.messages > 20 and span > 0 else float("nan")
        total = run.last - run.child.get("started", run.start)
        digests = f"{run.digests_sent} ({len(run.digest_cases)})" if run.digests else "–"
        print(
            f"| {run.name} | {run.reports} | {run.photos} | {run.messages} | {run.card_count} | {digests} | "
            f"{run.count_429} | {run.child.get('route_seconds', 0):.1f} s | {total:.1f} s | {rate:.2f} | "
            f"{allowed:.2f} | {rate / allowed:.3f} | {run.tightest():.2f} s (> {60 / args.scale:g} s) | "
            f"≈ {total * args.scale / 60:.1f} min |"
        )
        ok &= run.count_429 == 0 and run.child.get("failed", 1) == 0
        if not run.digests:
            ok &= rate / allowed >= 0.85 and len(run.cards) == run.reports
    cards, digest = runs[0], runs[1]
    speedup = (cards.last - cards.child["started"]) / max(digest.last - digest.child["started"], 1e-9)
    print(f"\nWith digests every case of the burst reaches the group {speedup:.1f}× sooner.")
    print(f"\nAcceptance: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
