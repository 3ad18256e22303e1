"""The one option picker every flow uses to read a typed choice (profile, reminders, announcements, complaints)."""

from __future__ import annotations

import pytest

from handlers.matching import fold_text, pick_option
from handlers.profile import BUSINESS_KINDS, ROLES

WORDS = {"merchant": ("thuong nhan", "ban hang"), "citizen": ("nguoi mua", "tieu dung")}


def test_folding_drops_case_diacritics_and_punctuation() -> None:
    assert fold_text("  Hủy!  Đồng   ý ") == "huy dong y"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1", "merchant"),
        ("2", "citizen"),
        ("3", None),  # no third option
        ("0", None),
        ("🛒 Người tiêu dùng", "citizen"),  # the label as shown
        ("nguoi tieu dung", "citizen"),  # without diacritics
        ("merchant", "merchant"),  # the key
        ("Tôi là người mua", "citizen"),  # a known word, as a whole word
        ("Tôi bán hàng online", "merchant"),
        ("người mua hay bán hàng", None),  # words of both options: ambiguous
        ("thương", "merchant"),  # a unique part of a label
        ("ng", None),  # too short to be a part
        ("", None),
        ("xyz", None),
    ],
)
def test_an_option_by_number_label_key_word_or_part(typed: str, expected: str | None) -> None:
    assert pick_option(typed, ROLES, WORDS) == expected


def test_words_are_whole_words_and_options_may_be_pairs() -> None:
    assert pick_option("tôi là người muaxyz", ROLES, WORDS) is None
    assert pick_option("2", list(BUSINESS_KINDS.items())) == "household"
    assert pick_option("hộ kinh doanh", BUSINESS_KINDS) == "household"
