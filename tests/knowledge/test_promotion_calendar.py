"""Tết windows from the lunar calendar, statutory-holiday windows and working-day arithmetic."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from knowledge.promotion.calendar import (
    TZ,
    Window,
    concentrated_windows,
    holiday_windows,
    is_working_day,
    local,
    tet_day,
    tet_window,
    working_days_before,
)


@pytest.mark.parametrize(
    ("year", "mung1", "first", "last"),
    [
        (2025, date(2025, 1, 29), date(2024, 12, 30), date(2025, 1, 28)),
        (2026, date(2026, 2, 17), date(2026, 1, 18), date(2026, 2, 16)),
        (2027, date(2027, 2, 6), date(2027, 1, 7), date(2027, 2, 5)),
    ],
)
def test_tet_window_is_the_30_days_before_mung_1(year: int, mung1: date, first: date, last: date) -> None:
    assert tet_day(year) == mung1
    window = tet_window(year)
    assert (window.start.date(), window.last_day) == (first, last)
    assert window.start == datetime(first.year, first.month, first.day, tzinfo=TZ)
    assert window.end == local(mung1)
    assert window.kind == "tet" and window.name == f"Tết Nguyên đán {year}"


def test_tet_window_edges_are_closed_at_midnight() -> None:
    window = tet_window(2025)
    assert window.contains(local(date(2024, 12, 30)), local(date(2025, 1, 28), end=True))
    assert not window.contains(local(date(2024, 12, 29)), local(date(2024, 12, 30), end=True))
    assert not window.contains(local(date(2025, 1, 29)), local(date(2025, 1, 29), end=True))


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (date(2024, 11, 29), 3, date(2024, 11, 26)),  # Friday → Tuesday of the same week
        (date(2024, 11, 30), 3, date(2024, 11, 27)),  # Saturday start
        (date(2024, 12, 2), 3, date(2024, 11, 27)),  # Monday: the weekend is skipped
        (date(2025, 2, 3), 3, date(2025, 1, 22)),  # after the Tết 2025 leave (27/01–01/02)
        (date(2024, 5, 2), 3, date(2024, 4, 24)),  # 29/04 (substituted day off), 30/04, 01/05 skipped
        (date(2025, 9, 3), 5, date(2025, 8, 25)),  # 01–02/09/2025 skipped
        (date(2024, 11, 20), 5, date(2024, 11, 13)),
        (date(2024, 11, 20), 0, date(2024, 11, 20)),
    ],
)
def test_working_days_before(day: date, count: int, expected: date) -> None:
    assert working_days_before(day, count) == expected


def test_working_days_skip_weekends_and_public_holidays() -> None:
    assert is_working_day(date(2024, 11, 29))
    assert not is_working_day(date(2024, 11, 30))  # Saturday
    assert not is_working_day(date(2025, 1, 29))  # mùng 1 Tết
    assert not is_working_day(date(2025, 9, 2))  # Quốc khánh
    assert not is_working_day(date(2024, 4, 29))  # substituted day off


def test_holiday_windows_are_the_official_leave_without_tet() -> None:
    spans = {(w.start.date(), w.last_day) for w in holiday_windows(2025)}
    assert (date(2025, 4, 30), date(2025, 5, 4)) in spans  # 30/4–1/5 with the substituted day and weekend
    assert (date(2025, 8, 30), date(2025, 9, 2)) in spans  # Quốc khánh
    assert all(w.kind == "holiday" and "Lunar" not in w.name for w in holiday_windows(2025))
    assert not any(w.start.date() <= date(2025, 1, 29) <= w.last_day for w in holiday_windows(2025))


def test_concentrated_windows_take_the_callers_campaigns() -> None:
    online_friday = ("Online Friday 2024", datetime(2024, 11, 29, 0, 0), datetime(2024, 12, 1, 12, 0))
    found = concentrated_windows([online_friday], date(2024, 11, 29), date(2024, 12, 1))
    of = next(w for w in found if w.name == "Online Friday 2024")
    assert of.kind == "campaign" and of.end == datetime(2024, 12, 1, 12, 0, tzinfo=TZ)
    assert of.contains(local(datetime(2024, 11, 29, 0, 0)), local(datetime(2024, 12, 1, 12, 0)))
    assert not of.contains(local(datetime(2024, 11, 28, 23, 59)), local(datetime(2024, 11, 29, 1, 0)))
    assert any(w.name == "Tết Nguyên đán 2025" for w in found)


def test_a_window_given_by_dates_ends_at_midnight_after_its_last_day() -> None:
    week = Window.of("Tuần lễ 2025", date(2025, 11, 13), date(2025, 11, 17))
    assert week.last_day == date(2025, 11, 17)
    assert week.end == local(date(2025, 11, 18))


def test_aware_campaign_times_from_the_config_are_read_in_local_time() -> None:
    utc = ZoneInfo("UTC")
    window = Window.of(
        "Online Friday 2024", datetime(2024, 11, 28, 17, 0, tzinfo=utc), datetime(2024, 12, 1, 5, 0, tzinfo=utc)
    )
    assert window.start == datetime(2024, 11, 29, 0, 0, tzinfo=TZ)
    assert window.end == datetime(2024, 12, 1, 12, 0, tzinfo=TZ)
