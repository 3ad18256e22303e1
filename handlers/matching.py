"""Small text helpers for matching what people type against labels and command words."""

from __future__ import annotations

import re

from knowledge.normalize import fold

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def fold_text(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and punctuation, collapse spaces: 'Hủy!' → 'huy'."""
    return _SPACES.sub(" ", _PUNCT.sub(" ", fold(text.casefold()))).strip()
