"""Small text helpers the core needs before any knowledge is loaded."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def fold_text(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and punctuation, collapse spaces: 'Hủy!' → 'huy'."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _PUNCT.sub(" ", bare)).strip()
