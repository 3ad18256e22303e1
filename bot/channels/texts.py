"""Long texts cut into messages the platforms accept, the same way on every channel."""

from __future__ import annotations

import re

# Boundaries in order of preference: a paragraph, a line, a sentence end, a space.
_CUTS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?…](?=\s)"), re.compile(r"\s"))


def split_text(text: str, limit: int) -> list[str]:
    """Split a text over ``limit`` characters into parts that fit, cutting at the best boundary available:
    a paragraph, a line, a sentence end, a space (never inside a word unless a word is longer than a part).
    """
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = _best_cut(text, limit)
        part = text[:cut].rstrip()
        if part:
            parts.append(part)
        text = text[cut:].lstrip()
    if text or not parts:
        parts.append(text)
    return parts


def _best_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]
    floor = limit // 3  # never leave a tiny first part just to cut at a better kind of boundary
    for pattern in _CUTS:
        best = max((m.end() for m in pattern.finditer(window) if floor <= m.end() <= limit), default=0)
        if best:
            return best
    return limit
