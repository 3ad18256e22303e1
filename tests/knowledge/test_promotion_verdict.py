"""The dated verdict cases (tests/data/verdict_cases.yaml) and the shape of the Vietnamese answer."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.promotion import check_promotion
from knowledge.promotion.calendar import SideWindow
from knowledge.promotion.texts import VERIFY_SUFFIX

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "verdict_cases.yaml"
DATA = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
DEFAULT_TODAY = date(2018, 1, 1)


def _moment(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def windows(name: str | None) -> list[tuple[str, date | datetime, date | datetime]]:
    """The named windows; a fourth element ``side`` marks a campaign's other event (the week around the 60 hours)."""
    out = []
    for row in DATA["windows"].get(name, []) if name else []:
        window = (row[0], _moment(row[1]), _moment(row[2]))
        out.append(SideWindow(window) if row[3:] == ["side"] else window)
    return out


def verdict_of(case: dict[str, Any]):
    today = date.fromisoformat(case["today"]) if "today" in case else DEFAULT_TODAY
    return check_promotion(case["plan"], windows(case.get("windows")), today)


def test_there_are_at_least_80_cases_with_unique_ids() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 80
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_verdict_case(case: dict[str, Any]) -> None:
    verdict = verdict_of(case)
    summary = verdict.summary()
    got = {key: summary[key] for key in case["expect"]}
    expected = dict(case["expect"])
    for key in ("percent", "limit"):
        if isinstance(expected.get(key), (int, float)):
            assert got[key] == pytest.approx(expected[key], abs=0.05), key
            del got[key], expected[key]
    assert got == expected
    text = verdict.render()
    for phrase in case.get("text", []):
        assert phrase in text, f"{phrase!r} not in:\n{text}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_answer_cites_basis_and_dates_and_flags_verify(case: dict[str, Any]) -> None:
    verdict = verdict_of(case)
    text = verdict.render()
    assert text and unicodedata.normalize("NFC", text) == text
    json.dumps(verdict.to_dict(), ensure_ascii=False)
    for point in verdict.points:
        if point.topic != "warning":
            assert "áp dụng từ" in point.basis.lower(), point
        if not point.verified:
            assert point.text + VERIFY_SUFFIX in text
    assert (VERIFY_SUFFIX.strip() in text) == verdict.verify
    if not verdict.complete:  # asked back, or a point the law leaves open said with ⚠️ and what to ask the Sở
        assert all(f"⚠️ {p.text}" in text and "hỏi Sở" in p.text for p in verdict.topic("open"))
        assert verdict.questions or verdict.topic("open")


def test_regime_and_cap_articles_follow_the_start_date() -> None:
    plan = {"forms": ["discount"], "discount_percent": 30, "end": "2026-01-10"}
    before = check_promotion({**plan, "start": "2024-11-30"}, (), DEFAULT_TODAY).render()
    after = check_promotion({**plan, "start": "2025-07-01"}, (), DEFAULT_TODAY).render()
    assert "khoản 1 Điều 7 Nghị định 81/2018/NĐ-CP" in before and "Thông tư 39" not in before.split("⚠️")[0]
    assert "Điều 4 Thông tư 39/2025/TT-BCT" in after


def test_bad_input_never_raises() -> None:
    odd: list[Any] = [
        "giảm 70%",
        None,
        {},
        {"forms": "discount", "start": 5, "end": []},
        {"forms": [None, {"a": 1}]},
        {"forms": 5, "goods": 7, "provinces": 3, "start": "2025-01-01", "end": "2025-01-02"},
        {"forms": ["discount"], "discount_percent": [1], "start": "2025-01-01", "end": "2025-01-02"},
        {"forms": ["lucky_draw"], "prize_deadline": "hôm qua", "start": "2025-01-01", "end": "2025-01-02"},
        {"forms": ["discount"], "discount_percent": 10, "start": "2024-01-01", "end": "31/12/9999"},
        {"forms": ["discount"], "discount_percent": float("nan"), "start": "2025-01-01", "end": "2025-01-02"},
        {"forms": ["discount"], "discount_percent": -5, "start": "2025-01-01", "end": "2025-01-02"},
        {"forms": ["discount"], "discount_percent": 10, "start": "2025-01-02 10:00", "end": "2025-01-02 10:00"},
    ]
    for plan in odd:
        verdict = check_promotion(plan, (), DEFAULT_TODAY)
        assert not verdict.complete and verdict.questions and verdict.render()
