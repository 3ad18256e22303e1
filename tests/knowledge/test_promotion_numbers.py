"""Numbers and dates written in words (knowledge/promotion/numbers.py)."""

from __future__ import annotations

import pytest

from knowledge.promotion.numbers import spelled_dates, spelled_numbers, words_value


@pytest.mark.parametrize(
    ("words", "value"),
    [("ba tram nam muoi", 350), ("muoi lam", 15), ("hai chuc", 20), ("bay muoi", 70), ("mot tram", 100),
     ("hai tram linh nam", 205), ("nam", 5), ("tu", 4), ("ba muoi mot", 31), ("hai ba", None), ("nha", None)],
)  # fmt: skip
def test_words_value(words: str, value: int | None) -> None:
    assert words_value(words.split()) == value


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("tong ngan sach ba tram nam muoi trieu dong", "tong ngan sach 350tr dong"),
        ("giam hai chuc phan tram", "giam 20%"),
        ("giam mot trieu hai cho xe gia hai trieu ruoi", "giam 1tr2 cho xe gia 2tr5"),
        ("dong ho mot trieu hai tram nam muoi nghin ha con bay tram ruoi", "dong ho 1250k ha con 750k"),
        ("nam chuc nghin", "50k"),
        ("nua trieu", "500k"),
        ("tu ngan sach cong ty", "tu ngan sach cong ty"),  # "từ ngân sách": neither a number nor an amount
    ],
)
def test_spelled_amounts_and_percentages(text: str, figures: str) -> None:
    assert spelled_numbers(text) == figures


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("tu ngay muoi lam thang tu den het thang tu", "tu ngay 15 thang 4 den het thang 4"),
        ("ngay hai muoi thang chap", "ngay 20 thang 12"),
        ("mung nam tet", "mung 5 tet"),
        ("be 0-6 thang tu 1/4 den 15/4", "be 0-6 thang tu 1/4 den 15/4"),  # "tháng từ": not April
        ("ngay nam 2025", "ngay nam 2025"),
    ],
)
def test_spelled_dates(text: str, figures: str) -> None:
    assert spelled_dates(text) == figures
