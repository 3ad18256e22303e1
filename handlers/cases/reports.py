"""Staff reports on cases: open cases now (``/tonghop``), a period's figures (``/thongke``), report rows.

The figures are computed here once, from (case, complaint) pairs, and used by the chat commands and by
``python -m bot report`` (``handlers/cases/report_files.py``) alike: the same rows, counts and medians everywhere.

Definitions:

* **A case belongs to the moment its report was submitted** (``complaints.created_at``), the moment its
  deadlines count from; a period holds the cases submitted in it.
* **Time to acknowledge**: from submission to ``cases.acknowledged_at`` — the first step past "new" by the
  agency now leading the case (Tiếp nhận, Nhận xử lý, a reply, closing…). A transfer starts it again, so a
  transferred case counts from submission to the new lead's acknowledgement.
* **Time to resolve**: from submission to ``cases.closed_at``, resolved or rejected alike (either ends the
  resolve deadline). Medians are over the cases of the period that got there; none → "—". Durations are
  whole minutes, rounded down, like every other duration the assistant shows.
* **Overdue** (open cases only): not acknowledged past ``ack_due`` → "quá hạn tiếp nhận"; not closed past
  ``resolve_due`` → "quá hạn xử lý" (a case can be both).
* **Who sees what** (like the case buttons): an agent, the cases its agency leads; a supervisor, also those
  its agency has a copy of, and a supervisor of the coordinating agency, every case; an admin, every case.
  Anyone else is refused.
* **The default period** of ``/thongke``: the campaign running (the e-commerce week with the 60 hours),
  and for 7 days after it ends; otherwise the last 7 days. Days are calendar days in the campaign's time
  zone.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.cases.reporter import SOLVED, VERDICTS
from handlers.cases.routing import agency_name, coordinator
from handlers.cases.vocabulary import CASE_STATUS_LABELS
from handlers.clock import as_utc
from handlers.complaints.records import complaint_fields
from handlers.complaints.vocabulary import PLATFORMS, area_name, category_name, contact_text
from handlers.config import AppConfig, Campaign
from handlers.core import Context
from handlers.matching import fold_text
from handlers.reminders.countdown import current_campaign, format_duration
from handlers.staff import require_staff
from handlers.text_safety import ascii_int
from storage.cases import Case, CaseStatus
from storage.complaints import Complaint
from storage.db import UnitOfWork
from storage.staff import StaffMember

DEFAULT_DAYS = 7
AFTER_CAMPAIGN = timedelta(days=7)  # a campaign stays the default period this long after it ends
MAX_DAYS = 366
NO_VALUE = "—"
OVERDUE_SHOWN = 10  # codes of overdue cases listed under /tonghop
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("Dưới 4 giờ", timedelta(hours=4)),
    ("4–24 giờ", timedelta(hours=24)),
    ("1–3 ngày", timedelta(days=3)),
    ("Trên 3 ngày", None),
)
COLUMNS = [
    "code",
    "created_at",
    "category",
    "area",
    "platform",
    "seller",
    "product",
    "lead_agency",
    "copies",
    "status",
    "assignee",
    "acknowledged_at",
    "closed_at",
    "minutes_to_acknowledge",
    "minutes_to_resolve",
    "outcome",
    "contact",
]
HEADERS = {  # what a spreadsheet's first row says, in Vietnamese (the keys stay for code and JSON)
    "code": "Mã phản ánh",
    "created_at": "Thời điểm gửi",
    "category": "Loại vi phạm",
    "area": "Địa bàn",
    "platform": "Nơi mua",
    "seller": "Người bán",
    "product": "Sản phẩm",
    "lead_agency": "Cơ quan chủ trì",
    "copies": "Cơ quan nhận bản sao",
    "status": "Trạng thái",
    "assignee": "Cán bộ phụ trách",
    "acknowledged_at": "Thời điểm tiếp nhận",
    "closed_at": "Thời điểm kết thúc",
    "minutes_to_acknowledge": "Số phút đến khi tiếp nhận",
    "minutes_to_resolve": "Số phút đến khi xử lý xong",
    "outcome": "Kết quả xử lý",
    "contact": "Liên hệ",
}

USAGE = (
    "Cú pháp: /thongke [khoảng thời gian]\n"
    "• /thongke — chiến dịch đang diễn ra (và 7 ngày sau khi kết thúc), ngoài ra 7 ngày gần nhất\n"
    "• /thongke 7 — 7 ngày gần nhất, tính cả hôm nay (1–366 ngày)\n"
    "• /thongke 01/12 03/12 — từ ngày 01/12 đến hết ngày 03/12\n"
    "• /thongke 2024-11-28 2024-12-03 — ngày viết đầy đủ năm-tháng-ngày"
)


# ----------------------------------------------------------------------------------------------------------
# Periods
# ----------------------------------------------------------------------------------------------------------


class PeriodError(ValueError):
    """A period that cannot be understood; the message says why, in Vietnamese (the caller adds the usage)."""


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, inclusive
    end: datetime  # aware, exclusive
    zone: ZoneInfo
    label: str  # e.g. "01/12/2024 – 03/12/2024" or the campaign's name and window


def report_zone(config: AppConfig, at: datetime) -> ZoneInfo:
    """The time zone reports use at ``at``: that of the campaign then (running, else the next, else the last)."""
    return ZoneInfo(current_campaign(config, at).timezone)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def days_period(first: date, last: date, zone: ZoneInfo) -> Period:
    """Whole calendar days ``first`` to ``last`` (inclusive) in ``zone``."""
    if last < first:
        raise PeriodError(
            f"Ngày kết thúc ({last:%d/%m/%Y}) phải từ ngày bắt đầu ({first:%d/%m/%Y}) trở đi. Khoảng thời gian qua "
            "năm mới thì bạn ghi cả năm, ví dụ 28/12/2024 03/01/2025."
        )
    label = f"{first:%d/%m/%Y}" if first == last else f"{first:%d/%m/%Y} – {last:%d/%m/%Y}"
    return Period(_day_start(first, zone), _day_start(last + timedelta(days=1), zone), zone, label)


def last_days(days: int, now: datetime, zone: ZoneInfo) -> Period:
    """The last ``days`` calendar days, today included."""
    today = now.astimezone(zone).date()
    period = days_period(today - timedelta(days=days - 1), today, zone)
    return Period(period.start, period.end, zone, f"{days} ngày gần nhất ({period.label})")


def campaign_period(campaign: Campaign) -> Period:
    zone = ZoneInfo(campaign.timezone)
    start, end = campaign.start.astimezone(zone), campaign.end.astimezone(zone)
    return Period(start, end, zone, f"{campaign.name} ({start:%H:%M %d/%m/%Y} – {end:%H:%M %d/%m/%Y})")


def default_period(config: AppConfig, now: datetime) -> Period:
    """The campaign running (or ended less than a week ago), else the last 7 days."""
    recent = [c for c in config.campaigns if c.start <= now < c.end + AFTER_CAMPAIGN]
    if recent:
        return campaign_period(max(recent, key=lambda c: c.start))
    return last_days(DEFAULT_DAYS, now, report_zone(config, now))


_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_DAY = re.compile(r"^(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?$", re.ASCII)
_RANGE_WORDS = frozenset({"-", "–", "—", "tu", "den", "toi"})


def parse_day(token: str, today: date, *, year_of: date | None = None) -> date:
    """``2024-11-28``, ``28/11/2024``, ``28/11/24`` or ``28/11``. Without a year: the year of ``year_of`` (the
    start of a range), else the latest such day not after today (in March, ``01/12`` is last December)."""
    year: int | None = None
    if match := _ISO_DAY.match(token):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY.match(token):
        day, month = int(match.group(1)), int(match.group(2))
        if match.group(3):
            year = int(match.group(3)) + (2000 if len(match.group(3)) == 2 else 0)
    else:
        raise PeriodError(f"Mình chưa hiểu ngày «{token}».")
    try:
        value = date(year or (year_of or today).year, month, day)
        if year is None and year_of is None and value > today:
            value = value.replace(year=value.year - 1)
    except ValueError as exc:
        raise PeriodError(f"Ngày «{token}» không có thật.") from exc
    return value


def parse_period(text: str, config: AppConfig, now: datetime) -> Period:
    """What follows ``/thongke``: nothing (the default period), a number of days, or one or two days."""
    tokens = [t for t in re.split(r"\s+|(?<=\d)[–—](?=\d)", text.strip()) if t]
    tokens = [t for t in tokens if fold_text(t) not in _RANGE_WORDS]
    if not tokens:
        return default_period(config, now)
    zone = report_zone(config, now)
    if len(tokens) == 1 and (days := ascii_int(tokens[0])) is not None:
        if not 1 <= days <= MAX_DAYS:
            raise PeriodError(f"Số ngày phải từ 1 đến {MAX_DAYS}.")
        return last_days(days, now, zone)
    if len(tokens) > 2:
        raise PeriodError(f"Mình chưa hiểu khoảng thời gian «{text.strip()}».")
    today = now.astimezone(zone).date()
    first = parse_day(tokens[0], today)
    last = parse_day(tokens[1], today, year_of=first) if len(tokens) == 2 else first
    return days_period(first, last, zone)


# ----------------------------------------------------------------------------------------------------------
# Who sees what
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    label: str
    leads: frozenset[str] | None = None  # None: every case
    copies: frozenset[str] = frozenset()  # agencies whose copies count too

    @property
    def everything(self) -> bool:
        return self.leads is None

    def covers(self, case: Case) -> bool:
        if self.leads is None or case.lead in self.leads:
            return True
        return any(agency in self.copies for agency in case.copies)


EVERYTHING = Scope("tất cả các cơ quan")


def scope_for(config: AppConfig, member: StaffMember) -> Scope:
    short = agency_name(config, member.agency, short=True)
    if member.role == "admin":
        return EVERYTHING
    if member.role == "supervisor" and member.agency == coordinator(config).id:
        return Scope(f"tất cả các cơ quan ({short} điều phối)")
    if member.role == "supervisor":
        return Scope(f"{short} chủ trì hoặc nhận bản sao", frozenset({member.agency}), frozenset({member.agency}))
    return Scope(f"{short} chủ trì", frozenset({member.agency}))


# ----------------------------------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------------------------------


def minutes(delta: timedelta | None) -> int | None:
    """Whole minutes, rounded down (as every duration shown is)."""
    return None if delta is None else int(delta.total_seconds() // 60)


def span_text(delta: timedelta | None) -> str:
    """``2 giờ 15 phút``, ``1 ngày 3 giờ 0 phút``…; ``—`` when there is nothing to measure."""
    return NO_VALUE if delta is None else format_duration(delta)


def status_name(status: str) -> str:
    """The case status as words, without the card's emoji: ``Mới — chờ tiếp nhận``."""
    label = CASE_STATUS_LABELS.get(CaseStatus(status), status)
    return label.split(" ", 1)[1] if " " in label else label


@dataclass(frozen=True)
class CaseRow:
    """One case with its report, and what reports measure on it."""

    case: Case
    complaint: Complaint

    @property
    def submitted(self) -> datetime:
        return as_utc(self.complaint.created_at)

    @property
    def acknowledged(self) -> datetime | None:
        return as_utc(self.case.acknowledged_at) if self.case.acknowledged_at else None

    @property
    def closed(self) -> datetime | None:
        case = self.case
        handled = case.closed_at and not case.open and case.state is not CaseStatus.MERGED  # merged: its target's
        return as_utc(case.closed_at) if handled else None

    @property
    def to_acknowledge(self) -> timedelta | None:
        return max(self.acknowledged - self.submitted, timedelta(0)) if self.acknowledged else None

    @property
    def to_resolve(self) -> timedelta | None:
        return max(self.closed - self.submitted, timedelta(0)) if self.closed else None

    def age(self, now: datetime) -> timedelta:
        return now - self.submitted

    def overdue_ack(self, now: datetime) -> bool:
        case = self.case
        return case.open and case.state.unacknowledged and case.ack_due is not None and as_utc(case.ack_due) <= now

    def overdue_resolve(self, now: datetime) -> bool:
        case = self.case
        return case.open and case.resolve_due is not None and as_utc(case.resolve_due) <= now

    def record(self, config: AppConfig, zone: ZoneInfo) -> dict[str, object]:
        """The report's row (``COLUMNS``): names from the configuration, times in ``zone``, contact masked."""
        case, c = self.case, self.complaint
        fields = complaint_fields(config, c)

        def at(value: datetime | None) -> datetime | None:
            return value.astimezone(zone) if value else None

        return {
            "code": case.code,
            "created_at": at(self.submitted),
            "category": fields["category_name"],
            "area": area_name(config, c.area, case.names.get("area")),
            "platform": fields["platform_name"],
            "seller": fields["seller"],
            "product": fields["product"],
            "lead_agency": agency_name(config, case.lead, names=case.names),
            "copies": "; ".join(agency_name(config, a, names=case.names) for a in case.copies),
            "status": status_name(case.status),
            "assignee": case.assignee_name or "",
            "acknowledged_at": at(self.acknowledged),
            "closed_at": at(self.closed),
            "minutes_to_acknowledge": minutes(self.to_acknowledge),
            "minutes_to_resolve": minutes(self.to_resolve),
            "outcome": case.outcome or "",
            "contact": contact_text(c.anonymous, c.phone, c.contact_consent, masked=True),
        }


async def load_rows(
    uow: UnitOfWork, scope: Scope = EVERYTHING, *, period: Period | None = None, open_only: bool = False
) -> list[CaseRow]:
    """The cases in ``scope`` (submitted in ``period``, or open now), oldest first."""
    since = as_utc(period.start) if period else None
    until = as_utc(period.end) if period else None
    leads = scope.leads if scope.leads is not None and not scope.copies else None
    pairs = await uow.cases.with_complaints(open_only=open_only, since=since, until=until, leads=leads)
    return [CaseRow(case, complaint) for case, complaint in pairs if scope.covers(case)]


# ----------------------------------------------------------------------------------------------------------
# Counts and medians
# ----------------------------------------------------------------------------------------------------------

Counts = list[tuple[str, int]]


def _counted(keys: Iterable[str], order: list[str], name) -> Counts:
    """``(name, count)`` by count, ties in the configuration's order."""
    counts = Counter(keys)
    rank = {key: i for i, key in enumerate(order)}
    ordered = sorted(counts, key=lambda k: (-counts[k], rank.get(k, len(rank)), k))
    return [(name(k), counts[k]) for k in ordered]


def _by_status(rows: list[CaseRow]) -> Counts:
    counts = Counter(r.case.status for r in rows)
    return [(status_name(s.value), counts[s.value]) for s in CaseStatus if counts[s.value]]


def _by_lead(rows: list[CaseRow], config: AppConfig) -> Counts:
    return _counted((r.case.lead for r in rows), [a.id for a in config.agencies], lambda a: agency_name(config, a))


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


@dataclass
class PeriodSummary:
    total: int
    by_category: Counts
    by_area: Counts
    by_platform: Counts
    by_status: Counts
    by_lead: Counts
    to_acknowledge: timedelta | None
    acknowledged: int
    to_resolve: timedelta | None
    resolved: int
    verdicts: Counts = field(default_factory=list)  # the reporters' answers after a closing
    satisfied: str = NO_VALUE  # "solved" among the answers
    reopened: str = NO_VALUE  # cases reopened by their reporter among those closed at least once


def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else NO_VALUE


def summarise(rows: list[CaseRow], config: AppConfig) -> PeriodSummary:
    complaints = [r.complaint for r in rows]
    acks = [d for r in rows if (d := r.to_acknowledge) is not None]
    closes = [d for r in rows if (d := r.to_resolve) is not None]
    categories = [c.id for c in config.categories]
    areas = [a.id for a in config.areas]
    return PeriodSummary(
        total=len(rows),
        by_category=_counted((c.category for c in complaints), categories, lambda k: category_name(config, k)),
        by_area=_counted((c.area for c in complaints), areas, lambda k: area_name(config, k)),
        by_platform=_counted((c.platform for c in complaints), list(PLATFORMS), lambda k: PLATFORMS.get(k, k)),
        by_status=_by_status(rows),
        by_lead=_by_lead(rows, config),
        to_acknowledge=median(acks),
        acknowledged=len(acks),
        to_resolve=median(closes),
        resolved=len(closes),
        **verdict_figures(rows),
    )


def verdict_figures(rows: list[CaseRow]) -> dict[str, Any]:
    """Satisfaction (answers «solved» among the answers) and reopening (among the cases ever closed)."""
    answered = Counter(r.case.verdict for r in rows if r.case.verdict)
    ever_closed = [r for r in rows if r.closed is not None or r.case.reopens]
    return {
        "verdicts": [(VERDICTS[k], answered[k]) for k in VERDICTS if answered[k]],
        "satisfied": rate(answered[SOLVED], sum(answered.values())),
        "reopened": rate(sum(1 for r in ever_closed if r.case.reopens), len(ever_closed)),
    }


def summary_sections(summary: PeriodSummary, *, with_minutes: bool = False) -> list[tuple[str, list]]:
    """The summary as titled sections of ``(label, value)``: the chat text and the workbook's sheet."""
    medians: list[tuple[str, object]] = [
        ("Thời gian tiếp nhận (trung vị)", span_text(summary.to_acknowledge)),
        ("Số phản ánh đã tiếp nhận", summary.acknowledged),
        ("Thời gian xử lý xong (trung vị)", span_text(summary.to_resolve)),
        ("Số phản ánh đã xử lý xong (hoàn tất hoặc từ chối)", summary.resolved),
    ]
    if with_minutes:
        medians.insert(1, ("Thời gian tiếp nhận (trung vị, phút)", minutes(summary.to_acknowledge)))
        medians.insert(4, ("Thời gian xử lý xong (trung vị, phút)", minutes(summary.to_resolve)))
    return [
        ("Theo loại", summary.by_category),
        ("Theo địa bàn", summary.by_area),
        ("Theo nơi mua", summary.by_platform),
        ("Theo trạng thái", summary.by_status),
        ("Theo cơ quan chủ trì", summary.by_lead),
        ("Thời gian tính từ lúc gửi phản ánh", medians),
        (
            "Ý kiến người phản ánh sau khi đóng",
            [
                *summary.verdicts,
                ("Tỷ lệ hài lòng (đã được giải quyết)", summary.satisfied),
                ("Tỷ lệ mở lại", summary.reopened),
            ],
        ),
    ]


@dataclass
class OpenSummary:
    total: int
    by_status: Counts
    by_age: Counts
    overdue_ack: list[str]  # codes
    overdue_resolve: list[str]
    by_lead: Counts


def age_bucket(age: timedelta) -> str:
    return next(label for label, limit in AGE_BUCKETS if limit is None or age < limit)


def summarise_open(rows: list[CaseRow], config: AppConfig, now: datetime) -> OpenSummary:
    ages = Counter(age_bucket(r.age(now)) for r in rows)
    return OpenSummary(
        total=len(rows),
        by_status=_by_status(rows),
        by_age=[(label, ages[label]) for label, _ in AGE_BUCKETS],
        overdue_ack=[r.case.code for r in rows if r.overdue_ack(now)],
        overdue_resolve=[r.case.code for r in rows if r.overdue_resolve(now)],
        by_lead=_by_lead(rows, config),
    )


# ----------------------------------------------------------------------------------------------------------
# Chat texts and commands
# ----------------------------------------------------------------------------------------------------------


def _lines(title: str, counts: list) -> list[str]:
    return [f"{title}:", *(f"• {label}: {value}" for label, value in counts)] if counts else []


def open_text(summary: OpenSummary, scope: Scope, now: datetime, zone: ZoneInfo) -> str:
    lines = [
        f"📊 PHẢN ÁNH ĐANG MỞ — {now.astimezone(zone):%H:%M %d/%m/%Y}",
        f"Phạm vi: {scope.label}",
        f"Đang mở: {summary.total}",
    ]
    if not summary.total:
        return "\n".join([*lines, "Không có phản ánh nào đang chờ xử lý."])
    lines += _lines("Theo trạng thái", summary.by_status)
    lines += _lines("Theo thời gian từ khi gửi", summary.by_age)
    lines += _lines(
        "Quá hạn",
        [("Quá hạn tiếp nhận", len(summary.overdue_ack)), ("Quá hạn xử lý", len(summary.overdue_resolve))],
    )
    late = list(dict.fromkeys(summary.overdue_ack + summary.overdue_resolve))
    if late:
        more = f" và {len(late) - OVERDUE_SHOWN} phản ánh khác" if len(late) > OVERDUE_SHOWN else ""
        lines.append(f"⚠️ Cần đôn đốc: {', '.join(late[:OVERDUE_SHOWN])}{more}")
    if scope.everything or scope.copies:
        lines += _lines("Theo cơ quan chủ trì", summary.by_lead)
    return "\n".join(lines)


def period_text(summary: PeriodSummary, scope: Scope, period: Period, now: datetime) -> str:
    lines = [
        "📈 THỐNG KÊ PHẢN ÁNH",
        f"Thời gian: {period.label}",
        f"Phạm vi: {scope.label}",
        f"Số liệu đến {now.astimezone(period.zone):%H:%M %d/%m/%Y}.",
        f"Tổng số phản ánh: {summary.total}",
    ]
    if not summary.total:
        return "\n".join([*lines, "Không có phản ánh nào gửi trong khoảng thời gian này."])
    for title, counts in summary_sections(summary):
        if title == "Theo cơ quan chủ trì" and not (scope.everything or scope.copies):
            continue
        lines += _lines(title, counts)
    return "\n".join(lines)


async def open_cases_command(ctx: Context) -> None:
    """/tonghop — the open cases in my scope: by status, by age, overdue."""
    member = await require_staff(ctx)
    if member is None:
        return
    scope = scope_for(ctx.config, member)
    rows = await load_rows(ctx.uow, scope, open_only=True)
    zone = report_zone(ctx.config, ctx.now)
    ctx.reply(open_text(summarise_open(rows, ctx.config, ctx.now), scope, ctx.now, zone))


async def period_stats_command(ctx: Context) -> None:
    """/thongke [period] — a period's cases in my scope: counts and medians."""
    member = await require_staff(ctx)
    if member is None:
        return
    argument = ctx.text.split(maxsplit=1)[1] if " " in ctx.text else ""
    try:
        period = parse_period(argument, ctx.config, ctx.now)
    except PeriodError as exc:
        ctx.reply(f"❌ {exc}\n\n{USAGE}")
        return
    scope = scope_for(ctx.config, member)
    rows = await load_rows(ctx.uow, scope, period=period)
    ctx.reply(period_text(summarise(rows, ctx.config), scope, period, ctx.now))
