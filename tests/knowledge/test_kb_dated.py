"""Answers by date: every entry walked at three dates never presents a replaced rule or a defunct agency as current."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from knowledge import Entry, KnowledgeBase
from knowledge.dated import question_date, resolve
from knowledge.promotion.calendar import TZ as LOCAL_TZ

WALK_DAYS = (date(2024, 11, 15), date(2024, 12, 15), date(2026, 12, 7))
TODAY = datetime(2026, 12, 7, 10, 0, tzinfo=LOCAL_TZ)
#: A sentence naming an old rule or body is fine when it says it is history.
HISTORY = ("bãi bỏ", "không còn", "trước đó", "trước 01/07/2025", "trước ngày", "trước khi", "nay là", "cũ")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:!?])\s+|\n", text) if s.strip()]


def _stale(entry: Entry, day: date) -> list[str]:
    """What *entry* (as shown on *day*, presented as in force) states that was no longer true that day."""
    found: list[str] = []
    text = entry.answer + "\n" + entry.validity.text
    basis = list(entry.legal_basis)

    def current_mentions(pattern: str) -> list[str]:
        return [s for s in _sentences(text) if re.search(pattern, s) and not any(h in s for h in HISTORY)]

    if day >= date(2025, 7, 1):
        found += current_mentions(r"Thanh tra Sở")
        found += current_mentions(r"Cục Quản lý thị trường tỉnh|Cục QLTT")
        found += current_mentions(r"huyện, thị xã")
        found += [b for b in basis if re.search(r"Điều [67]\b.*Nghị định 81", b) and "trước" not in b]
        found += current_mentions(r"(?:khoản \d+ )?Điều [67] Nghị định 81")
    if day >= date(2026, 7, 1):
        found += current_mentions(r"dự thảo")
        found += [b for b in basis if "52/2013" in b]
    found += current_mentions(r"[Rr]ượu, bia[.;,] (?:xổ số|thuốc lá)|[Rr]ượu, bia, thuốc lá|• Rượu, bia\.")
    notifies = any("Điều 17" in b for b in basis)
    if day >= date(2026, 6, 26) and notifies and (not entry.verify or "⚠️" not in entry.answer):
        found.append("notification duties after 26/06/2026 without the Nghị định 239/2026 warning")
    return found


@pytest.mark.parametrize("day", WALK_DAYS, ids=str)
def test_no_entry_presents_a_replaced_rule_or_defunct_agency_as_current(real_kb: KnowledgeBase, day: date) -> None:
    problems = {}
    for entry in real_kb.entries.values():
        shown = resolve(entry, day, real_kb.entries).entry
        in_force = shown.validity.until is None or shown.validity.until >= day
        stale = _stale(shown, day) if in_force else []
        if stale:
            problems[entry.id] = stale
    assert problems == {}


def test_a_replaced_entry_names_its_successor_and_is_not_shown_after_its_end(real_kb: KnowledgeBase) -> None:
    old = real_kb.entries["thong-bao-khuyen-mai-truoc-01-12-2024"]
    assert old.replaced_by == "thong-bao-khuyen-mai-tu-01-12-2024"
    before = resolve(old, date(2024, 11, 15), real_kb.entries)
    assert before.entry.id == old.id and before.replaced is None
    after = resolve(old, date(2026, 12, 7), real_kb.entries)
    assert after.entry.id == old.replaced_by and after.replaced is not None and after.replaced.id == old.id


def test_versions_follow_the_date(real_kb: KnowledgeBase) -> None:
    cap = real_kb.entries["muc-giam-gia-toi-da-50"]
    assert any("Điều 7" in b for b in cap.at(date(2024, 12, 15)).legal_basis)
    assert any("Thông tư 39/2025" in b for b in cap.at(date(2025, 7, 1)).legal_basis)
    law = real_kb.entries["luat-thuong-mai-dien-tu-moi"]
    assert "dự thảo" in law.at(date(2024, 11, 15)).answer or "soạn thảo" in law.at(date(2024, 11, 15)).answer
    assert "có hiệu lực từ 01/07/2026" in law.at(date(2026, 12, 7)).answer
    notify = real_kb.entries["giam-gia-co-can-thong-bao"].at(date(2026, 12, 7))
    assert notify.verify and "239/2026" in notify.answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("giảm giá 70% ngày 5/12/2024 có được không", date(2024, 12, 5)),
        ("Tết 2025 giảm 100% từ ngày nào", date(2024, 12, 30)),
        ("trước 01/12/2024 giảm giá có phải thông báo không", date(2024, 11, 30)),
        ("năm 2024 giảm giá tối đa bao nhiêu", date(2024, 12, 31)),
        ("giảm giá tối đa bao nhiêu", date(2026, 12, 7)),
        ("online friday 2026 giảm tối đa bao nhiêu", date(2026, 12, 7)),
    ],
)
def test_question_date(text: str, expected: date) -> None:
    assert question_date(text, TODAY) == expected


def test_year_less_question_resolves_to_the_edition_of_its_date(real_kb: KnowledgeBase) -> None:
    windows = [("Online Friday 2024", datetime(2024, 11, 29, 0, 0, tzinfo=LOCAL_TZ),
                datetime(2024, 12, 1, 12, 0, tzinfo=LOCAL_TZ))]  # fmt: skip
    entry = real_kb.entries["giam-gia-toi-da-online-friday"]
    day_2024 = question_date("Online Friday 2024 giảm tối đa bao nhiêu", TODAY, windows)
    assert day_2024 == date(2024, 11, 29)
    assert "Online Friday 2024" in resolve(entry, day_2024, real_kb.entries).entry.answer
    today = resolve(entry, question_date("online friday giảm tối đa bao nhiêu", TODAY, windows), real_kb.entries)
    assert "2026" in today.entry.answer and any("Thông tư 39/2025" in b for b in today.entry.legal_basis)
