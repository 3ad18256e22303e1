"""Benchmark: the staff web console over 10,000 cases — the list, search and a case page with 10 photos.

The console's aiohttp application runs in this process on a loopback port (as ``run`` mounts it), signed in as
an admin (every case visible: the widest query) and as an agent of one agency (the scope filter in SQL). The
cases and their reports are written straight into a migrated database, spread over 30 days, agencies, areas,
categories, platforms and states, with Vietnamese sellers and descriptions. *Server time* is measured by an
outer middleware around the console (request in → response ready, the database work included); the client's
round trip is shown next to it. The first list request also indexes the search text of every case (a one-time
cost, reported on its own).

Not a test: it prints Markdown tables.

    python -m tests.benchmarks.bench_console [--cases 10000] [--rounds 30] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from sqlalchemy import create_engine, insert

from handlers.clock import FixedClock
from handlers.console import web as console_web
from handlers.console.signin import issue_link
from handlers.core import Services
from handlers.web import WebContext
from storage.cases import Case
from storage.complaints import Complaint, ComplaintPhoto
from storage.db import Database
from storage.media import MediaStore
from storage.staff import StaffMember
from tests.benchmarks.bench_telegram import machine
from tests.support.configs import plan_2024
from tests.support.databases import reset_postgres
from tests.support.images import jpeg

NOW = datetime(2024, 11, 30, 3, 0, tzinfo=UTC)
SELLERS = ["Shop Mỹ Phẩm Hoa Hồng", "Cửa hàng Điện Máy Xanh Lá", "Thời trang Bé Yêu", "Nhà thuốc Minh Châu",
           "Tạp hóa Đồng Xoài", "Gia dụng Phước Long", "Mẹ và Bé Bình Minh", "Điện thoại Hải Đăng"]  # fmt: skip
PRODUCTS = ["Son môi", "Nồi chiên không dầu", "Áo khoác", "Sữa bột", "Tai nghe", "Kem chống nắng"]
DESCRIPTIONS = [
    "Hàng giả, vỏ hộp in sai chính tả",
    "Giao thiếu hàng, shop không trả lời",
    "Giá niêm yết khác giá thanh toán",
    "Sản phẩm hết hạn sử dụng",
    "Không đúng mô tả, chất lượng kém",
]
STATUSES = ["new", "acknowledged", "in_progress", "waiting_reporter", "resolved", "rejected"]
PLATFORMS = ["shopee", "lazada", "tiktok", "tiki", "facebook"]
SEARCHES = ["hoa hong", "dien may", "noi chien", "het han", "PA-0", "dong xoai", "khong tra loi"]


def seed(url: str, cases: int, media: MediaStore) -> int:
    """Write ``cases`` reports with their cases; returns the id of the case that has 10 photos."""
    config = plan_2024()
    rng = random.Random(17)
    agencies = [a.id for a in config.agencies]
    areas = [a.id for a in config.areas]
    categories = [c.id for c in config.categories]
    engine = create_engine(url)
    complaints, rows = [], []
    for i in range(cases):
        at = NOW - timedelta(minutes=rng.randrange(30 * 24 * 60))
        code = f"PA-{i:04d}-{rng.choice('ABCDEFGH')}{rng.choice('23456789')}"[:16]
        seller = f"{rng.choice(SELLERS)} {i}"
        complaints.append({
            "id": i + 1, "code": code, "status": "submitted", "channel": "telegram", "chat_id": str(i),
            "user_id": str(i), "anonymous": False, "reporter_name": "An", "phone": "+84912345678",
            "contact_consent": True, "category": rng.choice(categories), "platform": rng.choice(PLATFORMS),
            "seller": seller, "seller_where": f"https://shopee.vn/shop{i}", "product": rng.choice(PRODUCTS),
            "description": rng.choice(DESCRIPTIONS), "area": rng.choice(areas), "created_at": at, "updated_at": at,
        })  # fmt: skip
        status = rng.choice(STATUSES)
        lead = rng.choice(agencies)
        rows.append({
            "id": i + 1, "complaint_id": i + 1, "code": code, "kind": "consumer_report", "lead": lead,
            "copies": [a for a in rng.sample(agencies, 2) if a != lead], "status": status,
            "ack_due": at + timedelta(hours=12), "resolve_due": at + timedelta(days=3), "sla_epoch": 0,
            "acknowledged_at": at + timedelta(hours=1) if status != "new" else None,
            "closed_at": at + timedelta(days=1) if status in ("resolved", "rejected") else None,
            "created_at": at, "updated_at": at,
        })  # fmt: skip
    photos = []
    for n in range(10):
        folder = Path(tempfile.mkdtemp(prefix="bench-photo-"))
        source = folder / "p.jpg"
        source.write_bytes(jpeg(f"bench-{n}", 200_000))
        stored = media.save_file(source)
        photos.append({"complaint_id": 1, "sha256": stored.sha256, "size": stored.size, "mime": "image/jpeg",
                       "source": "report", "received_at": NOW})  # fmt: skip
    staff = [
        {"channel": "telegram", "user_id": "admin", "name": "Quản trị", "agency": "qltm", "role": "admin",
         "active": True, "source": "cli", "updated_at": NOW},
        {"channel": "telegram", "user_id": "agent", "name": "Cán bộ", "agency": "qltt", "role": "agent",
         "active": True, "source": "cli", "updated_at": NOW},
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Complaint.__table__), complaints)
        conn.execute(insert(Case.__table__), rows)
        conn.execute(insert(ComplaintPhoto.__table__), photos)
        conn.execute(insert(StaffMember.__table__), staff)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("complaints", "cases", "staff_members"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {cases + 10})")
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return 1


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


async def run(url: str, cases: int, rounds: int) -> list[tuple[str, str, int, float, float, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    media = MediaStore(tmp / "media")
    db = Database(url)
    await asyncio.to_thread(db.upgrade)
    photo_case = await asyncio.to_thread(seed, db.url, cases, media)
    services = Services(clock=FixedClock(NOW), config=plan_2024(), media=media)
    mount = console_web(WebContext(db, services, "http://127.0.0.1"))
    timings: list[float] = []

    @web.middleware
    async def timed(request: web.Request, handler):
        started = time.perf_counter()
        response = await handler(request)
        timings.append(time.perf_counter() - started)
        return response

    root = web.Application(middlewares=[timed])
    root.add_subapp(mount.prefix, mount.app)
    server = TestServer(root)
    await server.start_server()
    results = []
    try:
        for who in ("admin", "agent"):
            async with db.unit_of_work() as uow:
                member = await uow.staff.get("telegram", who)
                link = await issue_link(uow, member, "", "/console", NOW)
                await uow.commit()
            async with ClientSession(f"http://127.0.0.1:{server.port}", cookie_jar=CookieJar(unsafe=True)) as http:
                await http.post(link)
                results += await measure(http, timings, who, rounds, photo_case)
    finally:
        await server.close()
        await db.dispose()
    return results


async def timed_get(http: ClientSession, timings: list[float], path: str, params=None) -> tuple[float, float]:
    started = time.perf_counter()
    async with http.get(path, params=params) as response:
        await response.read()
        assert response.status == 200, (path, response.status)
    return timings[-1], time.perf_counter() - started


async def measure(http, timings, who: str, rounds: int, photo_case: int) -> list:
    results = []
    server, _ = await timed_get(http, timings, "/console/cases")
    if who == "admin":
        results.append(("first list (indexes every case)", who, 1, server * 1000, server * 1000, server * 1000))
    rng = random.Random(5)
    kinds = {
        "list, page 1": lambda: {},
        "list, filters (status, agency, platform, period)": lambda: {
            "status": "open", "lead": "qltt", "platform": rng.choice(PLATFORMS), "from": "2024-11-10",
            "to": "2024-11-25", "sort": "due"},
        "list, page 100 (sorted by code)": lambda: {"sort": "code", "page": "100"},
        "list, overdue": lambda: {"overdue": "1"},
        "search (no diacritics)": lambda: {"q": rng.choice(SEARCHES)},
    }  # fmt: skip
    for name, params in kinds.items():
        server_ms, client_ms = [], []
        for _ in range(rounds):
            s, c = await timed_get(http, timings, "/console/cases", params())
            server_ms.append(s * 1000)
            client_ms.append(c * 1000)
        results.append((name, who, rounds, statistics.median(server_ms), p95(server_ms), p95(client_ms)))
    if who == "admin":
        server_ms, client_ms = [], []
        for _ in range(rounds):
            s, c = await timed_get(http, timings, f"/console/cases/{photo_case}")
            server_ms.append(s * 1000)
            client_ms.append(c * 1000)
        results.append(("case page, 10 photos", who, rounds, statistics.median(server_ms), p95(server_ms),
                        p95(client_ms)))  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default="", help="PostgreSQL (emptied first); default: a new SQLite file")
    args = parser.parse_args()
    if args.database_url:
        reset_postgres(args.database_url)
        url, label = args.database_url, "PostgreSQL"
    else:
        url, label = f"sqlite:///{tempfile.mkdtemp(prefix='bench-console-db-')}/bench.db", "SQLite"
    results = asyncio.run(run(url, args.cases, args.rounds))
    print(f"\n{machine()}, {label}, {args.cases} cases\n")
    print("| request | signed in as | requests | server p50 ms | server p95 ms | round trip p95 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for name, who, n, p50, server95, client95 in results:
        print(f"| {name} | {who} | {n} | {p50:.1f} | {server95:.1f} | {client95:.1f} |")


if __name__ == "__main__":
    main()
