"""Matching what people type against labels and command words: one folding, one option picker."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from handlers.text_safety import ascii_int
from knowledge.normalize import fold

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def fold_text(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and punctuation, collapse spaces: 'Hủy!' → 'huy'."""
    return _SPACES.sub(" ", _PUNCT.sub(" ", fold(text.casefold()))).strip()


def pick_option(
    text: str, options: Mapping[str, str] | Iterable[tuple[str, str]], words: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The option (key → label) a typed answer names: by its number (1, 2…), its label or key, a known word of
    one option only (whole words, without diacritics), or a unique part of a label (three letters or more)."""
    choices = dict(options)
    folded = fold_text(text)
    if not folded:
        return None
    number = ascii_int(folded)
    if number is not None:
        return list(choices)[number - 1] if 1 <= number <= len(choices) else None
    for key, label in choices.items():
        if folded in (fold_text(label), fold_text(key)):
            return key
    padded = f" {folded} "
    hits = {key for key in choices for word in (words or {}).get(key, ()) if f" {word} " in padded}
    if len(hits) == 1:
        return hits.pop()
    if len(folded) >= 3:
        partial = [key for key, label in choices.items() if f" {folded} " in f" {fold_text(label)} "]
        if len(partial) == 1:
            return partial[0]
    return None
