"""Dates of a planned promotion read from free text, relative to the clock.

Read from folded lower-case text (no diacritics): explicit dates ("29/11", "29-30/11", "ngày 5 tháng 12 năm
2024", "01/12/2024 10h"), ranges ("từ … đến …"), durations ("trong 3 ngày"), months and parts of months ("tháng
12", "cuối tháng 11", "tháng sau"), weeks ("tuần sau", "cuối tuần"), days ("hôm nay", "ngày mai"), Tết ("dịp
Tết", "3 tuần trước Tết", "Tết 2025") and the campaign windows the caller passes ("Online Friday", "OF", "60
giờ"). A date without a year is its next occurrence from today. A date that does not exist ("31/02") is a
question back, never a guess.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from knowledge.promotion import texts
from knowledge.promotion.calendar import local, main_events, side_events, tet_day
from knowledge.promotion.numbers import spelled_dates

__all__ = ["CampaignWindow", "Dates", "read_dates"]

CampaignWindow = tuple[str, date | datetime, date | datetime]

_TIME = r"(\d{1,2})\s*(?:h|g|gio|:)(\d{2})?(?:\s*(sang|trua|chieu|toi|dem))?(?![a-z0-9])"
_DATE = r"(?<![\d/.])(\d{1,2})\s*([/.-])\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}|\d{2}))?(?![\d/%])"
_STREET = r"\b(?:duong|pho|hem|ngo|kiet|so nha|quoc lo|ql|khu pho|cong vien|benh vien|vong xoay)\s*$"
_TO = r"(?:->|=>|→|~|-|–|den|toi)"
_RANGE = (
    rf"(?<![\d/.-])(\d{{1,2}})\s*{_TO}\s*(\d{{1,2}})\s*[/.]\s*(\d{{1,2}})(?:\s*[/.]\s*(\d{{4}}|\d{{2}}))?"
    r"(?![\d/%]|[.,]\d)"
)
_WORDS_RANGE = (
    rf"(?:(?:ngay|mung|mong)\s+)?(\d{{1,2}})\s*{_TO}\s*(?:het\s+)?(?:(?:ngay|mung|mong)\s+)?(\d{{1,2}})\s+"
    r"thang\s+(\d{1,2})"
    r"(?:\s+nam\s+(\d{4}))?"
)
_WORDS_DATE = r"(?:ngay|mung|mong)\s+(\d{1,2})\s+thang\s+(\d{1,2})(?:\s+nam\s+(\d{4}))?"
_OCCASION = (
    r"online\s*friday|\bof\b|\bolf\b|60\s*(?:h|gio)\b|ngay mua sam truc tuyen|tuan le (?:thuong mai dien tu|tmdt)"
)
_UNIT_AFTER = r"\s*(?:thang|tuoi|ngay|tuan|nam|gio|h|k|kg|cm|ml|lit|trieu|tr|nghin|%|phan tram|lan|nguoi|khach)\b"
_HOURS = r"(\d{1,2})\s*(?:h|g|gio|:)(\d{2})?\s*(?:-|–|den|toi)\s*(\d{1,2})\s*(?:h|g|gio|:)(\d{2})?(?![a-z0-9])"
_PART = {"dau": (1, 10), "giua": (11, 20), "cuoi": (21, 31)}


@dataclass
class Dates:
    """What the text says about the promotion's dates (ISO strings as :func:`parse_plan` reads them)."""

    start: str | None = None
    end: str | None = None
    seen: bool = False  # some date expression was found
    kind: str | None = None  # "explicit" (29/11, tháng 3, tuần sau) or "occasion" (Online Friday, Tết)
    approximate: bool = False  # a loose period ("cuối tháng 11", "đầu tháng sau") rather than days
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Mark:
    pos: int
    day: date | None
    time: tuple[int, int] | None = None
    raw: str = ""


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    value = int(raw)
    return value + 2000 if value < 100 else value


def _make(day: int, month: int, year: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next(day: int, month: int, today: date) -> date | None:
    """The next occurrence of day/month from *today* (29/02 in the next leap year)."""
    for year in range(today.year, today.year + 5):
        found = _make(day, month, year)
        if found is not None and found >= today:
            return found
    return None


def _clock(match: re.Match[str]) -> tuple[int, int] | None:
    hour, minute, part = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if part in ("chieu", "toi", "dem") and hour < 12:
        hour += 12
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return hour, minute


def _explicit(text: str, today: date, out: Dates) -> list[_Mark]:
    marks: list[_Mark] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    for m in (*re.finditer(_RANGE, text), *re.finditer(_WORDS_RANGE, text)):
        if not free(*m.span()):
            continue
        month, year = int(m.group(3)), _year(m.group(4))
        for n, raw in ((1, m.group(1)), (2, m.group(2))):
            marks.append(_Mark(m.start(n), None, raw=f"{raw}/{m.group(3)}"))
            marks[-1].day = _resolve(int(raw), month, year, today, marks[-1].raw, out)
        taken.append(m.span())
    for pattern, groups in ((_WORDS_DATE, (1, 2, 3)), (_DATE, (1, 3, 4))):
        for m in re.finditer(pattern, text):
            dotted = groups[1] == 3 and m.group(2) == "." and not m.group(4)
            ranged = re.search(r"\b(?:tu|den|toi|ngay)\s*$", text[: m.start()]) or re.match(
                rf"\s*{_TO}\s*\d{{1,2}}\s*\.\s*\d", text[m.end() :]
            )
            if not free(*m.span()) or (dotted and m.group(1) != m.group(3) and not ranged):  # "1.5": a number
                continue
            if re.match(r"\s*(?:gia|so)\b", text[m.end() :]):  # "1/2 giá": a fraction, not a date
                continue
            if re.search(_STREET, text[: m.start()]):  # "đường 30/4": an address
                continue
            if m.group(2) == "-" and not m.group(4) and re.match(_UNIT_AFTER, text[m.end() :]):  # "0-6 tháng tuổi"
                continue
            d, mo, y = (m.group(g) for g in groups)
            raw = f"{d}/{mo}" + (f"/{y}" if y else "")
            marks.append(_Mark(m.start(), _resolve(int(d), int(mo), _year(y), today, raw, out), raw=raw))
            taken.append(m.span())
    marks.sort(key=lambda k: k.pos)
    _times(text, marks, taken)
    return marks


def _resolve(day: int, month: int, year: int | None, today: date, raw: str, out: Dates) -> date | None:
    found = _make(day, month, year) if year else _next(day, month, today)
    if found is None or (year is None and _make(day, month, 2024) is None):
        out.problems.append(texts.Q_BAD_DATE.format(value=raw))
        return None
    return found


def _times(text: str, marks: list[_Mark], taken: list[tuple[int, int]]) -> None:
    """Attach "10h", "12 giờ trưa", "0:00" to the nearest date within a few words."""
    for m in re.finditer(_TIME, text):
        if any(a <= m.start() < b for a, b in taken) or re.match(r"\s*(?:tieng|lien)\b", text[m.end() :]):
            continue
        clock = _clock(m)
        if clock is None or not marks:
            continue
        near = min(marks, key=lambda k: abs(k.pos - m.start()))
        if abs(near.pos - m.start()) <= 24 and near.time is None:
            near.time = clock
    for mark in marks:  # "tới trưa 1/12": 12:00 that day
        if mark.time is None and re.search(r"\b(?:trua|12h trua)\s+(?:ngay\s+)?$", text[: mark.pos]):
            mark.time = (12, 0)


def _iso(day: date, time: tuple[int, int] | None, *, end: bool) -> str:
    if time is None:
        return day.isoformat()
    hour, minute = time
    if hour == 24:
        return (day + timedelta(days=1)).isoformat() + "T00:00"
    if end and (hour, minute) == (0, 0):
        return day.isoformat() + "T00:00"
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


def _duration(text: str) -> timedelta | None:
    m = re.search(r"(?:trong|keo dai|chay)\s+(?:vong\s+|suot\s+)?(\d{1,3})\s*(ngay|tuan|thang)\b", text) or re.search(
        r"(?<![\d/])(\d{1,3})\s*(ngay|tuan)\s+(?:lien|lien tuc|lien tiep)\b", text
    )
    if not m:
        return None
    count = int(m.group(1))
    return timedelta(days=count * {"ngay": 1, "tuan": 7, "thang": 30}[m.group(2)])


def _month_span(year: int, month: int, first: int = 1, last: int = 31) -> tuple[date, date]:
    days = calendar.monthrange(year, month)[1]
    return date(year, month, first), date(year, month, min(last, days))


def _months(text: str, today: date) -> tuple[date, date] | None:
    both = re.search(r"\btu\s+thang\s+(\d{1,2})\s+(?:den|toi|-)\s+(?:het\s+)?thang\s+(\d{1,2})\b", text)
    if both:  # "từ tháng 4 đến tháng 6"
        first, last = (_months(f"thang {both.group(n)}", today) for n in (1, 2))
        if first and last:
            end = last[1] if last[1] >= first[0] else _month_span(last[1].year + 1, last[1].month)[1]
            return first[0], end
    m = re.search(r"(?:(dau|giua|cuoi)\s+)?thang\s+(sau|toi|nay|\d{1,2})(?:\s+(?:nam\s+)?(\d{4}))?", text)
    if not m or re.search(r"\d\s*$", text[: m.start()]):  # "3 tháng": a duration
        return None
    part, which, year_raw = m.group(1), m.group(2), m.group(3)
    first, last = _PART.get(part or "", (1, 31))
    counted = re.search(r"(\d{1,2})\s*(tuan|ngay)\s*$", text[: m.start()]) if part in ("dau", "cuoi") else None
    if counted:  # "2 tuần đầu tháng 11", "3 ngày cuối tháng"
        days = int(counted.group(1)) * (7 if counted.group(2) == "tuan" else 1)
        first, last = (1, days) if part == "dau" else (-days, 31)
    if which in ("sau", "toi", "nay"):
        month = today.month + (which != "nay")
        year = today.year + (month > 12)
        month = (month - 1) % 12 + 1
    else:
        month = int(which)
        if not 1 <= month <= 12:
            return None
        year = int(year_raw) if year_raw else today.year
        if not year_raw and date(year, month, min(last, calendar.monthrange(year, month)[1])) < today:
            year += 1
    if first < 0:  # counted back from the month's last day
        last_day = calendar.monthrange(year, month)[1]
        first = last_day + first + 1
    start, end = _month_span(year, month, first, last)
    return max(start, today) if which == "nay" else start, end


_WEEKDAYS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4, "bay": 5, "7": 5}
_WEEKDAY = r"\bthu\s*(hai|ba|tu|nam|sau|bay|[2-7])\b|\b(chu nhat|cn)\b"


def _weekdays(text: str, monday: date, today: date) -> tuple[date, date] | None:
    """ "thứ 6 tuần này", "thứ 7 và chủ nhật tuần sau": those days, not the whole week."""
    days = [6 if m.group(2) else _WEEKDAYS[m.group(1)] for m in re.finditer(_WEEKDAY, text)]
    if not days:
        return None
    week = monday + timedelta(days=7 * bool(re.search(r"\btuan (?:sau|toi)\b", text)))
    first, last = week + timedelta(days=min(days)), week + timedelta(days=max(days))
    if last < today:  # "thứ 2" said on a Wednesday: next week's
        first, last = first + timedelta(days=7), last + timedelta(days=7)
    return first, last


def _weeks(text: str, today: date) -> tuple[date, date] | None:
    monday = today - timedelta(days=today.weekday())
    if days := _weekdays(text, monday, today):
        return days
    if re.search(r"\bcuoi tuan\b", text):
        saturday = monday + timedelta(days=5 + 7 * bool(re.search(r"cuoi tuan (?:sau|toi)", text)))
        return max(saturday, today), saturday + timedelta(days=1)
    if re.search(r"\btuan (?:sau|toi)\b", text):
        return monday + timedelta(days=7), monday + timedelta(days=13)
    if re.search(r"\btuan nay\b", text):
        return today, monday + timedelta(days=6)
    for words, delta in (
        ("hom nay", 0),
        ("tu nay", 0),
        ("tu bay gio", 0),
        ("ngay mai", 1),
        ("tu mai", 1),
        ("ngay kia", 2),
    ):
        if re.search(rf"\b{words}\b", text):
            day = today + timedelta(days=delta)
            return day, day
    return None


def _tet(text: str, today: date, out: Dates) -> tuple[date, date] | None:
    m = re.search(r"\btet\b(?!\s*(?:duong|tay))(?:\s*(?:nguyen dan|am lich|at ty|binh ngo|dinh mui))?\s*(\d{4})?", text)
    if not m:
        return None
    if m.group(1):
        year = int(m.group(1))
        if not 1901 <= year <= 2097:  # the years the calendars know
            out.problems.append(texts.Q_BAD_DATE.format(value=f"Tết {year}"))
            return None
        first = tet_day(year)
    else:
        first = tet_day(today.year)
        if first <= today:
            first = tet_day(today.year + 1)
    before = re.search(r"(\d{1,2})\s*(tuan|ngay)\s*(?:truoc|ngay truoc)\s*(?:mung\s*1\s*)?tet", text)
    if before:
        days = int(before.group(1)) * (7 if before.group(2) == "tuan" else 1)
        return first - timedelta(days=days), first - timedelta(days=1)
    lunar = re.search(r"\bmung\s*(\d{1,2})\b(?:\s*(?:-|den|toi)\s*(?:het\s+)?(?:mung\s*)?(\d{1,2})\b)?", text)
    if lunar and 1 <= int(lunar.group(1)) <= int(lunar.group(2) or lunar.group(1)) <= 30:  # "mùng 1 đến mùng 5 Tết"
        return first + timedelta(days=int(lunar.group(1)) - 1), first + timedelta(
            days=int(lunar.group(2) or lunar.group(1)) - 1
        )
    if re.search(r"\b(?:sau|ra)\s+tet\b", text):
        out.notes.append("after-tet")
        return None
    return first - timedelta(days=30), first - timedelta(days=1)


def _occasion(text: str, now: datetime, windows: Sequence[CampaignWindow], out: Dates) -> tuple[str, str] | None:
    m = re.search(rf"(?:{_OCCASION})(?:\s*(?:nam\s*)?(\d{{4}}))?", text)
    if not m:
        return None
    year = int(m.group(1)) if m.group(1) else None
    # "tuần lễ TMĐT" is the week (a side event, or the main one where a year has no 60 hours); else the main event.
    week = "tuan le" in m.group(0)

    def span(s: date | datetime, e: date | datetime) -> tuple[datetime, datetime]:
        return local(s), local(e, end=isinstance(e, date) and not isinstance(e, datetime))

    sides = [span(s, e) for _, s, e in side_events(windows)] if week else []
    mains = [span(s, e) for _, s, e in main_events(windows)]
    spans = sorted(sides + [m for m in mains if not any(s <= m[0] and m[1] <= e for s, e in sides)])
    if year is not None:
        chosen = next(((s, e) for s, e in spans if s.year == year), None)
    else:
        chosen = next(((s, e) for s, e in spans if e > now), None)
    if chosen is None:
        out.notes.append(f"campaign-unknown:{year or now.year}")
        return None
    start, end = chosen
    return start.strftime("%Y-%m-%dT%H:%M"), end.strftime("%Y-%m-%dT%H:%M")


def _month_words(text: str, today: date) -> str:
    """ "ngày 10 đến ngày 20 tháng này" → "… tháng  10" (the same length, so positions hold)."""

    def number(m: re.Match[str]) -> str:
        month = (today.month - 1 + (m.group(2) != "nay")) % 12 + 1
        return m.group(1) + f"{month:>3}"

    return re.sub(r"(\d{1,2}\s+thang\s+)(nay|sau|toi)\b", number, text)


def _until(text: str, span: tuple[date, date]) -> tuple[date, date]:
    """ "từ ngày mai đến hết tháng": a relative start with the end of its month or year."""
    m = re.search(r"(?:den|toi)\s+(?:het|cuoi)\s+(thang|nam)\b(?!\s+(?:sau|toi|\d))", text)
    if not m:
        return span
    start = span[0]
    end = date(start.year, 12, 31) if m.group(1) == "nam" else _month_span(start.year, start.month)[1]
    return start, end


def read_dates(text: str, now: datetime, windows: Sequence[CampaignWindow] = ()) -> Dates:
    """The promotion's start and end read from folded lower-case *text* at *now* (local)."""
    out = Dates()
    now = local(now)
    today = now.date()
    text = _month_words(spelled_dates(text), today)
    marks = _explicit(text, today, out)
    if marks:
        out.seen, out.kind = True, "explicit"
        _from_marks(marks, text, today, out)
        _far_ahead(marks[0], out, today)
        return out
    occasion = _occasion(text, now, windows, out)
    if occasion or out.notes:
        dated = re.search(rf"(?:{_OCCASION})\s*(?:nam\s*)?\d{{4}}", text)  # "Online Friday 2024": a known date
        out.seen, out.kind = True, "explicit" if dated else "occasion"
    if occasion:
        out.start, out.end = occasion
        return out
    for reader in (_tet, _months, _weeks):
        span = reader(text, today, out) if reader is _tet else reader(text, today)
        if span and reader is _weeks:
            span = _until(text, span)
        if span:
            occasion_only = reader is _tet and not re.search(r"\btet\s*(?:nguyen dan\s*)?\d{4}", text)
            out.seen, out.kind = True, "occasion" if occasion_only else "explicit"
            out.start, out.end = span[0].isoformat(), span[1].isoformat()
            out.approximate = reader is _months and bool(re.search(r"\b(?:dau|giua|cuoi)\s+thang\b", text))
            if reader is _months and re.search(_UNTIL_MONTH, text) and not re.search(_FROM_WORDS, text):
                out.start = None  # "đến hết tháng 11": from when is asked
            return out
    out.seen = bool(out.notes)
    return out


_UNTIL_MONTH = r"\b(?:den|toi)\s+(?:het|cuoi)\s+thang\s+(?:\d{1,2}|nay|sau|toi)\b"
_FROM_WORDS = r"\b(?:tu|bat dau)\s+(?:ngay|thang|nay|hom nay|bay gio|mai|dau|giua|cuoi|\d)"


def _ranged(marks: list[_Mark], text: str) -> list[_Mark]:
    """ "dịp 2/9 … từ 29/8 đến 2/9": the marks of the "từ … đến …" range first, the others after them."""
    for n, mark in enumerate(marks[:-1]):
        if n and re.search(r"\b(?:tu|bat dau(?: tu)?)\s+(?:ngay\s+)?$", text[: mark.pos]):
            return [mark, marks[n + 1], *marks[:n], *marks[n + 2 :]]
    return marks


def _from_marks(marks: list[_Mark], text: str, today: date, out: Dates) -> None:
    marks = _ranged(marks, text)
    if any(k.day is None for k in marks[:2]):
        return
    first = marks[0]
    if len(marks) == 1 and re.search(r"\b(?:den|toi|truoc)\s+(?:het\s+)?(?:ngay\s+)?$", text[: first.pos]):
        out.end = _iso(first.day, first.time, end=True)  # "đến 30/11": the end; the start only if "từ nay"
        if re.search(r"\btu (?:nay|hom nay|bay gio|ngay hom nay)\b", text) and first.day >= today:
            out.start = today.isoformat()
        elif re.search(r"\b\d{1,2}\s*(?:tuan|ngay)\s*truoc\s*(?:mung\s*1\s*)?tet\b", text) and (
            tet := _tet(text, today, Dates())
        ):
            out.start = tet[0].isoformat() if tet[0] <= first.day else None  # "từ 3 tuần trước Tết đến hết 16/2"
        return
    if len(marks) == 1:
        out.start = _iso(first.day, first.time, end=False)
        duration = _duration(text)
        hours = re.search(_HOURS, text)
        if hours and _hours_valid(hours):  # "0h-2h ngày 25/9": both ends on that day
            (h1, m1, h2, m2) = (int(g or 0) for g in hours.groups())
            out.start = _iso(first.day, (h1, m1), end=False)
            out.end = _iso(first.day, (h2, m2), end=True)
        elif hours_long := re.search(r"(?:trong|keo dai|chay)\s+(\d{1,3})\s*(?:h|gio|tieng)\b", text):
            begin = datetime.combine(first.day, time(*(first.time or (0, 0))))  # "trong 48h từ 0h ngày 15/10"
            ends = begin + timedelta(hours=int(hours_long.group(1)))
            out.end = _iso(ends.date(), (ends.hour, ends.minute), end=True)
        elif duration is not None:
            out.end = (first.day + duration - timedelta(days=1)).isoformat()
        elif re.search(r"(?:den|toi)\s+(?:het|cuoi)\s+(nam|thang)\b", text):
            unit = re.search(r"(?:den|toi)\s+(?:het|cuoi)\s+(nam|thang)\b", text).group(1)
            last = date(first.day.year, 12, 31) if unit == "nam" else _month_span(first.day.year, first.day.month)[1]
            out.end = last.isoformat()
        elif (until := re.search(r"(?:den|toi)\s+(?:het\s+)?" + _TIME, text[first.pos :])) and _clock(until):
            out.end = _iso(first.day, _clock(until), end=True)
        elif not re.search(r"\b(?:tu|bat dau)\s+(?:ngay\s+)?" + re.escape(first.raw.split("/")[0]), text):
            out.end = _iso(first.day, None, end=True) if first.time is None else None
        return
    second = marks[1]
    between = text[first.pos + len(first.raw) : second.pos]
    listed = re.fullmatch(r"\s*(?:va|voi|,|&)\s*(?:ngay\s+)?", between)
    if listed and len(marks) == 2 and first.raw.count("/") == 1 and second.raw.count("/") == 2:
        first.day = _make(first.day.day, first.day.month, second.day.year) or first.day  # "30/4 và 1/5/2025"
    if listed and len(marks) == 2 and second.day - first.day == timedelta(days=1) and not re.search(r"\bdot\b", text):
        out.start, out.end = _iso(first.day, first.time, end=False), _iso(second.day, second.time, end=True)
        return  # "2 ngày 30/4 và 1/5": two days in a row are one programme
    if re.fullmatch(r"\s*(?:va|voi|hoac|,|;|&)\s*(?:ngay\s+|dip\s+)?", between) or re.search(r"moi dot|\d dot", text):
        out.problems.append(MANY_DATES.format(dates=", ".join(k.raw for k in marks[:4])))  # "11/11 với 12/12"
        return
    end_day = second.day
    if end_day < first.day and second.raw.count("/") == 1 and end_day.month < first.day.month:
        end_day = _make(end_day.day, end_day.month, first.day.year + 1) or end_day
    if first.raw.count("/") == 1 and second.raw.count("/") == 2:  # "29/11 đến 1/12/2024": the year of the end
        start_day = _make(first.day.day, first.day.month, end_day.year)
        if start_day and start_day > end_day and first.day.month > end_day.month:  # "20/12 đến 5/1/2027"
            start_day = _make(first.day.day, first.day.month, end_day.year - 1)
        first.day = start_day or first.day
    elif first.raw.count("/") == 1 and first.day > end_day and first.day.year > end_day.year:
        running = _make(first.day.day, first.day.month, end_day.year)  # "từ 5/12 đến 10/12" on 7/12: running
        first.day = running if running and running <= end_day else first.day
    outside = [k for k in marks[2:] if k.day is None or not first.day <= k.day <= end_day]
    if outside and not re.search(r"\b(?:va|,)\s*$", text[: marks[0].pos]):
        out.problems.append(MANY_DATES.format(dates=", ".join(k.raw for k in marks[:4])))
        return
    out.start = _iso(first.day, first.time, end=False)
    out.end = _iso(end_day, second.time, end=True)


def _hours_valid(match: re.Match[str]) -> bool:
    h1, m1, h2, m2 = (int(g or 0) for g in match.groups())
    return h1 <= 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)


MANY_DATES = (
    "Tin nhắn có nhiều ngày ({dates}) nên mình chưa chắc chương trình chạy từ ngày nào đến ngày nào. "
    "Nếu có nhiều đợt, bạn gửi từng đợt một nhé."
)


def _far_ahead(first: _Mark, out: Dates, today: date) -> None:
    """A date without a year that has just passed this year reads as next year's: asked, not assumed."""
    if first.raw.count("/") != 1 or out.start is None or first.day is None:
        return
    start = date.fromisoformat(out.start[:10])
    if (start - today).days > 240:
        out.problems.append(FAR_AHEAD.format(raw=first.raw, day=start.strftime("%d/%m/%Y")))
        out.start = out.end = None


FAR_AHEAD = (
    "Ngày {raw} năm nay đã qua, nên mình hiểu là {day} — bạn ghi rõ cả năm (ví dụ {day}) giúp mình để khỏi nhầm nhé."
)
