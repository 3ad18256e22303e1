"""Benchmark: many reporters filing complaints with photos at once, through the dispatcher.

Each simulated reporter runs the whole guided flow — /phananh, category, platform, seller, link, product,
date, description, a 3-photo album (three messages sharing an album id), "xong", area, phone, consent and
the «Gửi phản ánh» button — 16 messages, all reporters concurrently, straight into ``Dispatcher.handle``.
At most ``--in-flight`` messages (64) are being handled at any moment, as the Telegram adapter does
(``concurrent_updates(64)``). Two latencies per step: in the dispatcher (``Dispatcher.handle``, waits for the
database included) and from the moment the message was sent (the wait for one of the 64 slots included —
with every reporter typing without pause this is the queue of a saturated system). Unbounded, 1,000
messages at once would queue for PostgreSQL's 30 pooled connections longer than the pool's 30-second
timeout; no channel delivers updates that way.
A test downloader streams generated JPEG bytes (deterministic per file id) to the media store in 64 KiB
chunks, like a network download; no photo is ever whole in memory.

Afterwards every complaint is checked: exactly its 3 photos, each row's SHA-256 equal to the bytes served
and to the file on disk (lost = expected photos missing or damaged; duplicated = extra rows). Peak RSS is
the process's VmHWM. Each backend runs in its own process, so each peak is its own. PostgreSQL runs in a
fresh database (``bench_complaints_<pid>``) created on the server of ``TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and dropped afterwards.

    python -m tests.benchmarks.bench_complaints [--reporters 1000] [--photo-kb 200] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.settings import Settings
from handlers import texts
from handlers.types import IncomingMessage, MediaRef, MessageKind, Reply
from storage.complaints import Complaint, ComplaintPhoto
from storage.models import OutboxMessage
from tests.benchmarks.bench_telegram import machine, pct
from tests.support.configs import plan_2024
from tests.support.images import jpeg_chunks

CHANNEL = "bench"
PHOTOS = 3
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def photo_id(reporter: int, i: int) -> str:
    return f"r{reporter}-p{i}"


def expected_sha(file_id: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in jpeg_chunks(file_id, size):
        digest.update(chunk)
    return digest.hexdigest()


class Reporter:
    def __init__(
        self,
        dispatcher,
        number: int,
        photo_size: int,
        latencies: list[float],
        totals: list[float],
        errors: list[str],
        slots: asyncio.Semaphore,
    ) -> None:
        self.totals = totals
        self.dispatcher = dispatcher
        self.slots = slots
        self.n = number
        self.user = f"r{number}"
        self.photo_size = photo_size
        self.latencies = latencies
        self.errors = errors
        self.last: list[Reply] = []

    async def send(self, **fields) -> list[Reply]:
        msg = IncomingMessage(channel=CHANNEL, chat_id=self.user, user_id=self.user, display_name="Bench", **fields)
        sent = time.perf_counter()
        async with self.slots:
            begin = time.perf_counter()
            replies = await self.dispatcher.handle(msg)
            done = time.perf_counter()
        self.latencies.append((done - begin) * 1000)
        self.totals.append((done - sent) * 1000)
        if any(r.text == texts.APOLOGY for r in replies):
            self.errors.append(f"{self.user}: apology after {fields}")
        if replies:
            self.last = replies
        return replies

    async def say(self, value: str) -> None:
        await self.send(kind=MessageKind.TEXT, text=value)

    async def press(self, label: str) -> None:
        button = next((b for r in self.last for b in r.flat_buttons() if label in b.label), None)
        if button is None:
            self.errors.append(f"{self.user}: no button {label!r} after {[r.text[:80] for r in self.last]}")
            return
        await self.send(kind=MessageKind.BUTTON, button=button.payload)

    async def run(self) -> None:
        for value in (
            "/phananh",
            "1",
            "Shopee",
            f"Shop số {self.n}",
            f"https://shopee.vn/shop{self.n}",
            f"Sản phẩm thử {self.n}",
            "hôm qua",
            "Hàng nhận được khác hẳn ảnh quảng cáo, tem chống giả bị bóc",
        ):
            await self.say(value)
        for i in range(PHOTOS):
            ref = MediaRef(photo_id(self.n, i), size=self.photo_size)
            caption = "Ảnh sản phẩm và hóa đơn" if i == 0 else ""
            await self.send(kind=MessageKind.PHOTO, photos=[ref], text=caption, album_id=f"album-{self.n}")
        for value in ("xong", "Đồng Xoài", "0912 345 678", "đồng ý"):
            await self.say(value)
        await self.press("Gửi phản ánh")
        if not any("Mã tra cứu" in r.text for r in self.last):
            self.errors.append(f"{self.user}: no receipt: {[r.text[:80] for r in self.last]}")


def make_downloader(photo_size: int):
    async def download(ref: MediaRef, path: Path, max_bytes: int) -> None:
        with path.open("wb") as out:
            for chunk in jpeg_chunks(ref.file_id, photo_size):
                out.write(chunk)
                await asyncio.sleep(0)  # a network download yields between chunks

    return download


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return kb / 1024


async def verify(app, reporters: int, photo_size: int) -> dict:
    from sqlalchemy import func, select

    async with app.db.unit_of_work() as uow:
        complaints = list((await uow.session.execute(select(Complaint))).scalars())
        photos = list((await uow.session.execute(select(ComplaintPhoto))).scalars())
        outbox = (
            await uow.session.execute(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "complaint_submitted")
            )
        ).scalar_one()
    by_id = {c.id: c for c in complaints}
    found: dict[str, list[str]] = {}
    for p in photos:
        found.setdefault(by_id[p.complaint_id].user_id, []).append(p.sha256)
    lost = duplicated = 0
    for n in range(reporters):
        want = {expected_sha(photo_id(n, i), photo_size) for i in range(PHOTOS)}
        have = found.get(f"r{n}", [])
        duplicated += len(have) - len(set(have)) + len(set(have) - want)
        for sha in want:
            path = app.media.path(sha)
            ok = sha in have and path.is_file() and _file_sha(path) == sha
            lost += 0 if ok else 1
    return {
        "complaints": len(complaints),
        "photo_rows": len(photos),
        "outbox": int(outbox),
        "lost": lost,
        "duplicated": duplicated,
        "files": sum(1 for _ in app.media.root.glob("??/*")),
    }


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def bench(database_url: str, reporters: int, photo_size: int, work: Path, in_flight: int = 64) -> dict:
    settings = Settings(_env_file=None, database_url=database_url, media_dir=work / "media")
    app = create_app(settings, config=plan_2024())
    async with app:
        app.register_downloader(CHANNEL, make_downloader(photo_size))
        latencies: list[float] = []
        totals: list[float] = []
        errors: list[str] = []
        slots = asyncio.Semaphore(in_flight)
        people = [Reporter(app.dispatcher, n, photo_size, latencies, totals, errors, slots) for n in range(reporters)]
        begin = time.perf_counter()
        await asyncio.gather(*(person.run() for person in people))
        wall = time.perf_counter() - begin
        checked = await verify(app, reporters, photo_size)
    return {
        **checked,
        "reporters": reporters,
        "steps": len(latencies),
        "wall_s": wall,
        "reports_per_s": checked["complaints"] / wall,
        "p50_ms": pct(latencies, 0.50),
        "p95_ms": pct(latencies, 0.95),
        "max_ms": max(latencies),
        "p50_total_ms": pct(totals, 0.50),
        "p95_total_ms": pct(totals, 0.95),
        "errors": errors[:5],
        "error_count": len(errors),
        "peak_rss_mb": peak_rss_mb(),
    }


def run_backend(backend: str, reporters: int, photo_size: int, in_flight: int = 64) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-complaints-") as tmp:
        work = Path(tmp)
        if backend == "sqlite":
            return asyncio.run(bench(f"sqlite:///{work / 'bench.db'}", reporters, photo_size, work, in_flight))
        base = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
        name = f"bench_complaints_{os.getpid()}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = base.set(database=name).render_as_string(hide_password=False)
            return asyncio.run(bench(url, reporters, photo_size, work, in_flight))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def memory() -> str:
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        return f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        return "RAM unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporters", type=int, default=1000)
    parser.add_argument("--photo-kb", type=int, default=200, help="size of each generated photo (KiB)")
    parser.add_argument("--in-flight", type=int, default=64, help="messages handled at once (Telegram adapter: 64)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], help="run one backend in this process")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (used between processes)")
    args = parser.parse_args()
    photo_size = args.photo_kb * 1024
    if args.backend:
        result = run_backend(args.backend, args.reporters, photo_size, args.in_flight)
        print(json.dumps(result) if args.json else result)
        return 0
    rows = []
    for backend in ("sqlite", "postgresql"):
        command = [sys.executable, "-m", "tests.benchmarks.bench_complaints", "--backend", backend, "--json"]
        command += ["--reporters", str(args.reporters), "--photo-kb", str(args.photo_kb)]
        command += ["--in-flight", str(args.in_flight)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{backend}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            rows.append((backend, None))
            continue
        rows.append((backend, json.loads(done.stdout.strip().splitlines()[-1])))
    print(f"Machine: {machine()}, {memory()}")
    print(
        f"{args.reporters} reporters at once, each sending 16 messages (/phananh, 11 answers, a 3-photo album of "
        f"{args.photo_kb} KiB JPEGs, the send button), at most {args.in_flight} messages in the dispatcher at a "
        "time; photos streamed to disk, fsync'd, content-addressed.\n"
    )
    print("| backend | reports | steps | wall s | reports/s | step p50 ms | step p95 ms | p95 from send ms | "
          "lost photos | duplicated photos | peak RSS MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for backend, r in rows:
        if r is None:
            print(f"| {backend} | failed | | | | | | | | | |")
            ok = False
            continue
        print(
            f"| {backend} | {r['complaints']} | {r['steps']} | {r['wall_s']:.1f} | {r['reports_per_s']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p95_total_ms']:.0f} | {r['lost']} | {r['duplicated']} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
        good = (
            r["complaints"] == args.reporters
            and r["photo_rows"] == args.reporters * PHOTOS
            and r["outbox"] == args.reporters
            and r["lost"] == 0
            and r["duplicated"] == 0
            and r["error_count"] == 0
            and r["peak_rss_mb"] < 400
        )
        ok &= good
        if r["error_count"]:
            print(f"  {backend}: {r['error_count']} errors, e.g. {r['errors']}")
    print(f"\nAcceptance: every report stored with its 3 photos, 0 lost, 0 duplicated, RSS < 400 MB: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
