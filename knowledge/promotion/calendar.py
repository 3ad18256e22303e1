"""Dates for the promotion check: working days, Tết windows and concentrated-programme windows.

Vietnam's public holidays and the Vietnamese Lunar New Year come from the ``holidays`` package (its Vietnamese
lunisolar calendar), not from a hand-written table. Times are local (Asia/Ho_Chi_Minh); a naive datetime is
taken as local. A window is closed: a programme fits when it starts at or after the window's start and ends at
or before its end; a window given by dates ends at 24:00 of its last day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "TZ",
    "SideWindow",
    "Window",
    "concentrated_windows",
    "holiday_windows",
    "is_working_day",
    "local",
    "main_events",
    "side_events",
    "tet_day",
    "tet_window",
    "working_days_before",
]

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
#: The name ``holidays`` gives mùng 1 Tết (``language="en_US"``); every day of Tết's own leave contains it.
TET_NAME = "Lunar New Year"

WindowKind = Literal["campaign", "tet", "holiday"]


class SideWindow(tuple):
    """A campaign's other event ``(name, start, end)`` around its main one (the e-commerce week around the 60 hours
    of Online Friday). It is as concentrated as the main event (the 2024 plan's caps of 100 % are stated for the
    programme, the week included); a date reading of "Online Friday" means the main event, "tuần lễ TMĐT" this."""

    __slots__ = ()


def main_events(windows: Iterable[tuple[str, date | datetime, date | datetime]]) -> list:
    """The campaigns' main events (without the :class:`SideWindow` periods)."""
    return [w for w in windows if not isinstance(w, SideWindow)]


def side_events(windows: Iterable[tuple[str, date | datetime, date | datetime]]) -> list:
    """The campaigns' other events (:class:`SideWindow`)."""
    return [w for w in windows if isinstance(w, SideWindow)]


def local(value: date | datetime, *, end: bool = False) -> datetime:
    """An aware local datetime; a date is its 00:00, or with ``end`` the 24:00 of that day."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=TZ) if value.tzinfo is None else value.astimezone(TZ)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=TZ)


@dataclass(frozen=True, slots=True)
class Window:
    """A concentrated-programme window (caps up to 100 %)."""

    name: str
    start: datetime
    end: datetime
    kind: WindowKind = "campaign"

    @classmethod
    def of(cls, name: str, start: date | datetime, end: date | datetime, kind: WindowKind = "campaign") -> Window:
        return cls(name, local(start), local(end, end=True), kind)

    def contains(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end

    def encloses(self, other: Window) -> bool:
        return self.contains(other.start, other.end)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    @property
    def last_day(self) -> date:
        """The last calendar day the window touches."""
        return (self.end - timedelta(microseconds=1)).date()


@cache
def _vn_holidays(year: int) -> holidays.HolidayBase:
    # expand=False: a lookup of another year's day must not add that year to this cached object (mùng 1 of the
    # year before would then be found as this year's Tết).
    return holidays.country_holidays("VN", years=year, language="en_US", expand=False)


def tet_day(year: int) -> date:
    """Mùng 1 Tết of the lunar year that starts in *year*."""
    days = [d for d in _vn_holidays(year).get_named(TET_NAME, lookup="exact") if d.year == year]
    if not days:
        raise ValueError(f"no Lunar New Year known for {year}")
    return min(days)


def tet_window(year: int, days: int = 30) -> Window:
    """The *days* days immediately before mùng 1 Tết of *year* (Tết 2025: 30/12/2024–28/01/2025)."""
    first = tet_day(year)
    return Window.of(f"Tết Nguyên đán {year}", first - timedelta(days=days), first - timedelta(days=1), "tet")


def is_holiday(day: date) -> bool:
    return day in _vn_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a public holiday (nor a substituted day off)."""
    return day.weekday() < 5 and not is_holiday(day)


def working_days_before(day: date, count: int) -> date:
    """The *count*-th working day before *day* (3 before Friday 29/11/2024 is Tuesday 26/11/2024)."""
    current, left = day, count
    while left > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def _is_leave(day: date) -> bool:
    return is_holiday(day) or day.weekday() >= 5


def holiday_windows(year: int) -> list[Window]:
    """The official leave of each statutory holiday of *year* other than Tết (with adjacent weekend days)."""
    found = _vn_holidays(year)
    seeds = sorted(d for d, name in found.items() if TET_NAME not in name)
    out: list[Window] = []
    for seed in seeds:
        if out and out[-1].contains(local(seed), local(seed, end=True)):
            continue
        first, last = seed, seed
        while _is_leave(first - timedelta(days=1)) and not _is_tet_leave(first - timedelta(days=1)):
            first -= timedelta(days=1)
        while _is_leave(last + timedelta(days=1)) and not _is_tet_leave(last + timedelta(days=1)):
            last += timedelta(days=1)
        out.append(Window.of(_holiday_label(found, first, last), first, last, "holiday"))
    return out


def _is_tet_leave(day: date) -> bool:
    return TET_NAME in (_vn_holidays(day.year).get(day) or "")


_HOLIDAY_NAMES = {
    "New Year's Day": "Tết Dương lịch",
    "Hung Kings' Commemoration Day": "Giỗ Tổ Hùng Vương",
    "Liberation Day/Reunification Day": "Ngày Giải phóng miền Nam 30/4",
    "International Labor Day": "Quốc tế Lao động 1/5",
    "National Day": "Quốc khánh 2/9",
    "Vietnam Cultural Day": "Ngày Văn hóa Việt Nam",
}


def _holiday_label(found: holidays.HolidayBase, first: date, last: date) -> str:
    names: list[str] = []
    day = first
    while day <= last:
        for english, vietnamese in _HOLIDAY_NAMES.items():
            if english in (found.get(day) or "") and vietnamese not in names:
                names.append(vietnamese)
        day += timedelta(days=1)
    return f"Nghỉ lễ {', '.join(names) or 'theo quy định'} {first.year}"


def concentrated_windows(
    campaigns: Iterable[tuple[str, date | datetime, date | datetime]],
    start: date,
    end: date,
    tet_days: int = 30,
) -> list[Window]:
    """Campaign windows (as given by the caller's calendar), Tết and holiday windows around *start*–*end*."""
    out = [Window.of(w[0], w[1], w[2], "campaign") for w in campaigns]
    for year in range(start.year - 1, end.year + 2):
        out.append(tet_window(year, tet_days))
        out.extend(holiday_windows(year))
    return sorted(out, key=lambda w: w.start)
