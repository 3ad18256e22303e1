"""The cases list: filters, search without diacritics, sorting and pages, within what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from aiohttp import web

from handlers.cases.reports import PeriodError, days_period, report_zone
from handlers.cases.vocabulary import CASE_STATUS_LABELS
from handlers.complaints.vocabulary import PLATFORMS, area_name, category_name
from handlers.console.access import scoped_filter
from handlers.console.base import Console, console_of, member_of, render
from handlers.matching import fold_text
from handlers.text_safety import ascii_int
from storage.cases import Case, CaseStatus
from storage.complaints import Complaint
from storage.db import UnitOfWork
from storage.web import SORTS, CaseFilter

PAGE = 25
FILTERS = ("status", "category", "lead", "area", "platform", "from", "to", "overdue", "q", "sort")
SORT_LABELS = {
    "new": "Mới nhất",
    "old": "Cũ nhất",
    "due": "Hạn xử lý gần nhất",
    "code": "Mã phản ánh",
    "status": "Trạng thái",
}


def search_text(code: str, c: Complaint) -> str:
    """What search looks in, folded: the code, the seller, the link or place, the product, the description."""
    return fold_text(" ".join(filter(None, (code, c.seller, c.seller_where, c.product, c.description))))


async def index_new_cases(uow: UnitOfWork) -> int:
    """Fold the search text of the cases not indexed yet (their text never changes after submission)."""
    rows = await uow.web.unindexed()
    await uow.web.index((case_id, search_text(code, complaint)) for case_id, code, complaint in rows)
    return len(rows)


@dataclass
class ListView:
    total: int
    rows: list[tuple[Case, Complaint]]
    page: int
    pages: int
    problem: str = ""


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def read_filter(console: Console, query: dict[str, str], base: CaseFilter) -> tuple[CaseFilter, str]:
    """The filter the query string asks for (unknown values ignored) and a problem to show, if any."""
    config, now = console.config, console.now()
    status = query.get("status", "")
    statuses = tuple(s.value for s in CaseStatus if s.value == status)
    if status == "open":
        statuses = tuple(s.value for s in CaseStatus if s.is_open)
    first, last = _day(query.get("from", "")), _day(query.get("to", ""))
    since = until = None
    problem = ""
    if first or last:
        try:
            period = days_period(first or last, last or first, report_zone(config, now))  # type: ignore[arg-type]
            since, until = period.start, period.end
        except PeriodError as exc:
            problem = str(exc)
    page = ascii_int(query.get("page")) or 1
    chosen = CaseFilter(
        leads=base.leads,
        copies=base.copies,
        statuses=statuses,
        category=query.get("category", "") if query.get("category") in {c.id for c in config.categories} else "",
        lead=query.get("lead", "") if config.agency(query.get("lead", "")) else "",
        area=query.get("area", "") if config.area(query.get("area", "")) else "",
        platform=query.get("platform", "") if query.get("platform", "") in PLATFORMS else "",
        since=since,
        until=until,
        overdue_at=now if query.get("overdue") else None,
        query=fold_text(query.get("q", ""))[:200],
        sort=query.get("sort", "new") if query.get("sort", "new") in SORTS else "new",
        offset=(max(page, 1) - 1) * PAGE,
        limit=PAGE,
    )
    return chosen, problem


async def find_cases(console: Console, uow: UnitOfWork, chosen: CaseFilter) -> ListView:
    await index_new_cases(uow)
    total, rows = await uow.web.find(chosen)
    pages = max((total + PAGE - 1) // PAGE, 1)
    return ListView(total, rows, chosen.offset // PAGE + 1, pages)


def choices(console: Console) -> dict[str, list[tuple[str, str]]]:
    config = console.config
    return {
        "status": [("open", "Đang mở"), *((s.value, label) for s, label in CASE_STATUS_LABELS.items())],
        "category": [(c.id, c.name) for c in config.categories],
        "lead": [(a.id, a.short_name) for a in config.agencies],
        "area": [(a.id, a.name) for a in config.areas],
        "platform": list(PLATFORMS.items()),
        "sort": list(SORT_LABELS.items()),
    }


async def cases_page(request: web.Request) -> web.Response:
    console = console_of(request)
    query = {k: request.query.get(k, "") for k in (*FILTERS, "page")}
    chosen, problem = read_filter(console, query, scoped_filter(console.web.services, member_of(request)))
    async with console.db.unit_of_work() as uow:
        view = await find_cases(console, uow, chosen)
        await uow.commit()  # the search rows of new cases
    kept = {k: v for k, v in query.items() if v and k != "page"}
    config = console.config
    return render(
        request,
        "cases.html",
        {
            "title": "Phản ánh",
            "view": view,
            "problem": problem,
            "query": query,
            "choices": choices(console),
            "page_link": lambda n: "?" + urlencode({**kept, "page": n}),
            "labels": CASE_STATUS_LABELS,
            "now": console.now(),
            "category_name": lambda k: category_name(config, k),
            "area_name": lambda k: area_name(config, k),
            "agency_name": lambda k: config.agency(k).short_name if config.agency(k) else k,
            "platform_name": lambda k: PLATFORMS.get(k, k),
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/cases", cases_page, name="cases")
