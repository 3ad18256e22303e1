"""Answers by date: the day a question is about, and the wording of an entry in force on that day.

The day is read from the question ("ngày 5/12/2024", "Online Friday 2024", "Tết 2025", "trước 01/12/2024", a
bare year) with the promotion check's date reader, else it is today by the clock. An entry whose rule was
replaced (``replaced_by``, ``validity.until`` passed) is never shown as current: its successor is shown, with a
line naming the old rule and the day it ended.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from knowledge.loader import Entry
from knowledge.promotion.calendar import local
from knowledge.promotion.dates import CampaignWindow, read_dates
from knowledge.promotion.extract import folded

__all__ = ["Shown", "question_date", "resolve"]

_BEFORE = re.compile(r"\btruoc\s+(?:ngay\s+)?(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})")
_YEAR = re.compile(r"(?<![\d/.-])(20\d\d)(?![\d/%])")


def question_date(text: str, now: datetime, windows: Sequence[CampaignWindow] = ()) -> date:
    """The day *text* asks about: a date or occasion it names, a bare year, else today (local time)."""
    today = local(now).date()
    flat = folded(text)
    before = _BEFORE.search(flat)
    if before:
        try:
            return date(int(before.group(3)), int(before.group(2)), int(before.group(1))) - timedelta(days=1)
        except ValueError:
            return today
    dates = read_dates(flat, now, windows)
    if dates.start and not dates.problems:
        return date.fromisoformat(dates.start[:10])
    years = [int(y) for y in _YEAR.findall(flat)]
    if not years or years[0] == today.year:
        return today
    year = years[0]
    return date(year, 12, 31) if year < today.year else date(year, 1, 1)


@dataclass(frozen=True, slots=True)
class Shown:
    """What to show for a matched entry on a day: the wording in force, and the replaced entry if any."""

    entry: Entry
    day: date
    replaced: Entry | None = None


def resolve(entry: Entry, day: date, entries: Mapping[str, Entry]) -> Shown:
    """The wording of *entry* on *day*; past a replaced entry's end, its successor's wording (followed once)."""
    seen = {entry.id}
    current, replaced = entry, None
    while current.expired(day) and current.replaced_by in entries and current.replaced_by not in seen:
        replaced = replaced or current
        current = entries[current.replaced_by]
        seen.add(current.id)
    return Shown(current.at(day), day, replaced)
