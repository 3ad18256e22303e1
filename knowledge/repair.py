"""Typo repair: a folded query syllable unknown to the knowledge base mapped to known ones."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import process
from rapidfuzz.distance import OSA

_TELEX_PAIRS = (("dd", "d"), ("aa", "a"), ("aw", "a"), ("ee", "e"), ("oo", "o"), ("ow", "o"), ("uw", "u"))
_TELEX_TONES = frozenset("sfrxj")


def _segment(tok: str, vocab: frozenset[str], max_parts: int = 4) -> list[str] | None:
    """Split *tok* into the fewest (≥ 2) known syllables of ≥ 2 letters, or ``None``."""
    n = len(tok)
    if n < 4:
        return None
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(2, n + 1):
        for start in range(max(0, end - 7), end - 1):
            prev = best[start]
            piece = tok[start:end]
            if prev is not None and len(prev) < max_parts and piece in vocab:
                cand = [*prev, piece]
                if best[end] is None or len(cand) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = cand
    result = best[n]
    return result if result is not None and len(result) >= 2 else None


def repair(tok: str, vocab: frozenset[str], vocab_by_df: Sequence[str]) -> list[str] | None:
    """Map an unknown folded syllable to known ones, or ``None``.

    Tried in order: Telex leftovers, several syllables typed without spaces, then one edit (``vocab_by_df``
    lists the vocabulary most frequent first, so that ties favour common words).
    """
    if not tok.isalpha():
        return None
    # Telex leftovers: doubled vowels / dd / w-marks, trailing tone key.
    t = tok
    for a, c in _TELEX_PAIRS:
        t = t.replace(a, c)
    candidates = [t]
    if len(t) > 1 and t[-1] in _TELEX_TONES:
        candidates.append(t[:-1])
    for cand in candidates:
        if cand != tok and cand in vocab:
            return [cand]
    # Several syllables typed without spaces ("khuyenmai", "dichvucong").
    parts = _segment(tok, vocab)
    if parts is not None:
        return parts
    # One edit (substitution, insertion, deletion or transposition).
    if len(tok) >= 4:
        hit = process.extractOne(tok, vocab_by_df, scorer=OSA.distance, processor=None, score_cutoff=1)
        if hit is not None:
            return [hit[0]]
    return None
