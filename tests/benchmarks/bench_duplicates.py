"""Benchmark: the duplicate search of a newly routed report against 10,000 open cases.

A migrated database (SQLite in a temporary directory, or a scratch PostgreSQL database made next to the one
given by ``--postgres`` and dropped afterwards) is filled with N open cases and their complaints: sellers from
a pool (so some repeat), shop links, a photo each, descriptions made of common Vietnamese complaint phrases over
8 categories. Then P probe reports are written the way routing sees them and :func:`find_duplicates` runs for
each in its own transaction (the keys, the photo and reporter queries, the close-description search) — the
work routing adds per report. Not a test: it prints a Markdown table.

    python -m tests.benchmarks.bench_duplicates [--cases 10000] [--probes 300] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rapidfuzz import fuzz, process
from sqlalchemy import select, text

from handlers.cases.duplicates import DESCRIPTION_SCORE, find_duplicates, set_keys
from storage.cases import Case
from storage.complaints import Complaint, ComplaintPhoto
from storage.db import Database
from tests.benchmarks.bench_telegram import machine

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
CATEGORIES = [
    "hang-gia",
    "kem-chat-luong",
    "khong-ro-nguon-goc",
    "so-huu-tri-tue",
    "khuyen-mai",
    "gia-ca",
    "giao-hang",
    "khac",
]
PLATFORMS = ["shopee", "lazada", "tiktok", "facebook", "tiki"]
PHRASES = [
    "son bị chảy",
    "mùi lạ",
    "vỏ hộp in sai chính tả",
    "giao hàng chậm hai tuần",
    "hàng không giống ảnh",
    "shop không trả lời tin nhắn",
    "giảm giá ảo so với giá gốc",
    "không có tem nhãn tiếng Việt",
    "sản phẩm đã qua sử dụng",
    "pin phồng sau một ngày",
    "nồi cơm bị rò điện",
    "quần áo sai kích cỡ",
    "mỹ phẩm gây dị ứng da",
    "điện thoại bị khóa iCloud",
    "hộp bị móp méo",
    "thiếu phụ kiện đi kèm",
    "người bán hủy đơn không lý do",
    "hoàn tiền không đúng hạn",
    "hàng nhái thương hiệu nổi tiếng",
    "hạn sử dụng đã bị sửa",
    "sữa bột bị vón cục",
    "tai nghe không kết nối được",
    "đồng hồ chạy sai giờ",
]


def description(rng: random.Random) -> str:
    return ", ".join(rng.sample(PHRASES, rng.randint(2, 4))).capitalize() + "."


def complaint_row(i: int, rng: random.Random, sellers: list[str], prefix: str) -> Complaint:
    seller = rng.choice(sellers)
    return Complaint(
        code=f"{prefix}{i:07d}", channel="telegram", chat_id=str(100000 + i % 8000), user_id=str(100000 + i % 8000),
        category=rng.choice(CATEGORIES), platform=rng.choice(PLATFORMS), seller=seller,
        seller_where=f"https://shopee.vn/{seller.lower().replace(' ', '')}" if rng.random() < 0.6 else None,
        product="Sản phẩm", description=description(rng), area="dong-xoai", created_at=NOW, updated_at=NOW,
    )  # fmt: skip


async def seed(db: Database, cases: int, rng: random.Random, sellers: list[str]) -> None:
    batch = 1000
    for start in range(0, cases, batch):
        async with db.unit_of_work() as uow:
            complaints = [complaint_row(i, rng, sellers, "PA-") for i in range(start, min(cases, start + batch))]
            for c in complaints:
                uow.session.add(c)
            await uow.session.flush()
            for c in complaints:
                case = Case(complaint_id=c.id, code=c.code, lead="qltt", copies=[], created_at=NOW, updated_at=NOW)
                set_keys(case, c)
                uow.session.add(case)
                sha = hashlib.sha256(f"photo-{c.id % (cases // 2)}".encode()).hexdigest()
                uow.session.add(
                    ComplaintPhoto(complaint_id=c.id, sha256=sha, size=1, mime="image/jpeg", received_at=NOW)
                )
            await uow.commit()


@dataclass
class Reference:
    """Every seeded open case as the search could match it, for the recall check (brute force, no pool)."""

    ids: list[int]
    seller: dict[str, set[int]]
    link: dict[str, set[int]]
    photo: dict[str, set[int]]
    reporter: dict[str, set[int]]
    texts: list[str]

    @classmethod
    async def load(cls, db: Database) -> Reference:
        ref = cls([], defaultdict(set), defaultdict(set), defaultdict(set), defaultdict(set), [])
        async with db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(Case.id, Case.seller_key, Case.link_key, Case.description_key, Complaint.user_id)
                .join(Complaint, Complaint.id == Case.complaint_id)
                .order_by(Case.id)
            )
            for case_id, seller, link, text_key, user in rows.all():
                ref.ids.append(case_id)
                ref.texts.append(text_key or "")
                for index, key in ((ref.seller, seller), (ref.link, link), (ref.reporter, user)):
                    if key:
                        index[key].add(case_id)
            photos = await uow.session.execute(
                select(Case.id, ComplaintPhoto.sha256).join(Case, Case.complaint_id == ComplaintPhoto.complaint_id)
            )
            for case_id, sha in photos.all():
                ref.photo[sha].add(case_id)
        return ref

    def expected(self, case: Case, user: str, hashes: list[str]) -> tuple[set[int], set[int]]:
        """(by key, photo or reporter; by a close description among ALL open cases)."""
        exact = set(self.seller.get(case.seller_key or "", ())) | set(self.link.get(case.link_key or "", ()))
        exact |= set(self.reporter.get(user, ())) | {i for h in hashes for i in self.photo.get(h, ())}
        close = set()
        if case.description_key:
            scores = process.cdist([case.description_key], self.texts, scorer=fuzz.ratio, processor=None)[0]
            close = {self.ids[j] for j, score in enumerate(scores) if score >= DESCRIPTION_SCORE}
        return exact, close


async def probe(
    db: Database, i: int, rng: random.Random, sellers: list[str], cases: int, ref: Reference | None = None
) -> tuple[float, float, int, tuple[int, int, int, int]]:
    async with db.unit_of_work() as uow:
        complaint = complaint_row(i, rng, sellers, "PB-")
        uow.session.add(complaint)
        await uow.session.flush()
        case = Case(
            complaint_id=complaint.id, code=complaint.code, lead="qltt", copies=[], created_at=NOW, updated_at=NOW
        )
        uow.session.add(case)
        await uow.session.flush()
        hashes = [hashlib.sha256(f"photo-{rng.randrange(cases)}".encode()).hexdigest()]
        started, cpu = time.perf_counter(), time.process_time()
        set_keys(case, complaint)
        found = await find_duplicates(uow, case, complaint, hashes)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await uow.rollback()
    recall = (0, 0, 0, 0)
    if ref is not None:  # every match by key, photo or reporter must be found; close texts within the pool
        exact, close = ref.expected(case, complaint.user_id, hashes)
        recall = (len(exact & set(found)), len(exact), len(close & set(found)), len(close))
    return elapsed, cpu, len(found), recall


async def run(url: str, cases: int, probes: int) -> dict:
    rng = random.Random(18)
    sellers = [f"Shop {rng.choice(['Hoa', 'Mai', 'Lan', 'Cúc', 'Đào', 'Sen'])} {n}" for n in range(cases // 3)]
    db = Database(url)
    db.upgrade()
    try:
        started = time.perf_counter()
        await seed(db, cases, rng, sellers)
        seeded = time.perf_counter() - started
        if not db.is_sqlite:  # what autovacuum does within a minute of 10,000 new rows: the planner's statistics
            async with db.unit_of_work() as uow:
                await uow.session.execute(text("ANALYZE"))
                await uow.commit()
        ref = await Reference.load(db)
        for i in range(20):  # warm up caches and the query plans
            await probe(db, cases + i, rng, sellers, cases)
        timings, cpus, found, recall = [], [], [], [0, 0, 0, 0]
        for i in range(probes):
            elapsed, cpu, n, got = await probe(db, cases + 100 + i, rng, sellers, cases, ref)
            timings.append(elapsed * 1000)
            cpus.append(cpu * 1000)
            found.append(n)
            recall = [a + b for a, b in zip(recall, got, strict=True)]
    finally:
        await db.dispose()
    timings.sort()
    cpus.sort()
    return {
        "cpu_p50": statistics.median(cpus),
        "cpu_p95": cpus[int(0.95 * len(cpus)) - 1],
        "seeded": seeded,
        "p50": statistics.median(timings),
        "p95": timings[int(0.95 * len(timings)) - 1],
        "max": timings[-1],
        "found": statistics.mean(found),
        "exact": recall[0] / max(recall[1], 1),
        "close": recall[2] / max(recall[3], 1),
    }


def scratch_postgres(url: str) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_dupbench"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a scratch database is made next to it")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", asyncio.run(run(f"sqlite:///{Path(tmp) / 'dup.db'}", args.cases, args.probes))))
    if args.postgres:
        url, drop = scratch_postgres(args.postgres)
        try:
            rows.append(("PostgreSQL", asyncio.run(run(url, args.cases, args.probes))))
        finally:
            drop()
    print(machine())
    print(f"\n{args.cases} open cases, {args.probes} probe reports\n")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(
        "| database | seeding | p50 | p95 | max | CPU p50 | CPU p95 | target p95 | met (wall) | found (mean) "
        "| recall: key, photo, reporter | recall: close text (all open cases) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for name, r in rows:
        met = "yes" if r["p95"] <= 20 else "no"
        cells = [f"{r['seeded']:.1f} s", *(f"{r[k]:.1f} ms" for k in ("p50", "p95", "max", "cpu_p50", "cpu_p95"))]
        recall = f"{r['exact']:.1%} | {r['close']:.1%}"
        print(f"| {name} | {' | '.join(cells)} | 20 ms | {met} | {r['found']:.2f} | {recall} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
