"""Statistics for a period (the counts and medians of ``/thongke``, a daily chart drawn as inline SVG) and the
period's report as CSV or .xlsx (``python -m bot report``'s files), both within the viewer's scope. Each case
in a downloaded file gets an audit row."""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from aiohttp import web

from handlers.cases.report_files import default_file_name, period_report, write_csv, write_xlsx
from handlers.cases.reports import (
    CaseRow,
    Period,
    PeriodError,
    days_period,
    default_period,
    load_rows,
    report_zone,
    summarise,
    summary_sections,
)
from handlers.cases.vocabulary import Audit
from handlers.console.access import scope
from handlers.console.base import Console, console_of, member_of, render
from storage.db import UnitOfWork
from storage.staff import StaffMember

MAX_DAYS = 366
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    height: float
    width: float


def read_period(console: Console, raw_from: str, raw_to: str) -> tuple[Period, str]:
    """The period of the form (whole days), else the default one (the campaign, or the last 7 days)."""
    now = console.now()
    try:
        first, last = date.fromisoformat(raw_from), date.fromisoformat(raw_to)
    except ValueError:
        return default_period(console.config, now), ""
    try:
        if (last - first).days >= MAX_DAYS:
            raise PeriodError(f"Khoảng thời gian dài quá (tối đa {MAX_DAYS} ngày).")
        return days_period(first, last, report_zone(console.config, now)), ""
    except PeriodError as exc:
        return default_period(console.config, now), str(exc)


def daily_bars(rows: list[CaseRow], period: Period, *, width: float = 640, height: float = 160) -> list[Bar]:
    """One bar per day of the period (at most :data:`MAX_DAYS`), scaled to the busiest day."""
    first = period.start.astimezone(period.zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(period.zone).date()
    days = [first + timedelta(days=i) for i in range(min((last - first).days + 1, MAX_DAYS))]
    counts = Counter(r.submitted.astimezone(period.zone).date() for r in rows)
    top = max([counts[d] for d in days] + [1])
    step = width / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        h = height * counts[day] / top
        bars.append(Bar(day, counts[day], round(i * step + 1, 1), round(height - h, 1), round(h, 1), max(step - 2, 1)))
    return bars


async def stats_page(request: web.Request) -> web.Response:
    console, member = console_of(request), member_of(request)
    period, problem = read_period(console, request.query.get("from", ""), request.query.get("to", ""))
    seen = scope(console.web.services, member)
    async with console.db.unit_of_work() as uow:
        rows = await load_rows(uow, seen, period=period)
    summary = summarise(rows, console.config)
    first = period.start.astimezone(period.zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(period.zone).date()
    return render(
        request,
        "stats.html",
        {
            "title": "Thống kê",
            "period": period,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "problem": problem,
            "scope": seen.label,
            "summary": summary,
            "sections": summary_sections(summary),
            "bars": daily_bars(rows, period),
        },
    )


async def record_export(uow: UnitOfWork, codes: list[str], member: StaffMember, note: str, now) -> None:
    for code in codes:
        case = await uow.cases.by_code(code)
        if case is not None:
            await uow.cases.record(case, Audit.EXPORTED, now, actor=member, note=note)


async def export(request: web.Request) -> web.Response:
    console, member = console_of(request), member_of(request)
    form = await request.post()
    fmt = "xlsx" if form.get("format") == "xlsx" else "csv"
    period, _ = read_period(console, str(form.get("from", "")), str(form.get("to", "")))
    now = console.now()
    name = default_file_name(period, fmt)
    async with console.db.unit_of_work() as uow:
        report = await period_report(uow, console.config, period, now, scope(console.web.services, member))
        codes = [str(r["code"]) for r in report.records]
        await record_export(uow, codes, member, f"Tệp {name} (web)", now)
        await uow.commit()
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(report.records, buffer)
        body, content_type = buffer.getvalue().encode(), "text/csv"
    else:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / name
            write_xlsx(report, target)
            body, content_type = target.read_bytes(), XLSX
    return web.Response(
        body=body, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/stats", stats_page, name="stats")
    app.router.add_post("/export", export, name="export")
