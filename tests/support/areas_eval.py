"""Scoring area recognition on a table of typed places (tests/data/areas_*.yaml).

The truth of each row is resolved from the data package's own mapping (old ward → today's units), never from
what the recogniser answers: ``new`` names a unit of today, ``old`` an old ward with its old district (every unit
the official mapping sends it to is right), ``district`` an old district (any unit its wards went to),
``outside`` and ``nonsense``; ``any`` lists several truths.

A row is right when the answer is ``one`` unit that the truth allows, ``several`` candidates of which one is
allowed (the reporter picks it), ``outside`` for an outside row, ``unknown`` for nonsense. A ``one`` (or an
``outside``) the truth does not allow is *confident wrong*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handlers.areas import Recognition, _index, recognise

DATA = Path(__file__).resolve().parents[1] / "data"
PROVINCE = "Đồng Nai"


@dataclass(frozen=True)
class Row:
    text: str
    group: str
    allowed: frozenset[str]
    outside: bool = False
    nonsense: bool = False


@dataclass
class Score:
    total: int = 0
    right: int = 0
    confident_wrong: int = 0
    nonsense_confident_wrong: int = 0
    misses: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    by_group: dict[str, list[int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def load(name: str) -> list[Row]:
    raw = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return [_row(item) for item in raw]


def _row(item: dict[str, Any]) -> Row:
    text = item["text"]
    if item.get("outside"):
        return Row(text, "outside", frozenset(), outside=True)
    if item.get("nonsense"):
        return Row(text, "nonsense", frozenset(), nonsense=True)
    truths = item.get("any") or [item]
    allowed: set[str] = set()
    for truth in truths:
        allowed |= _allowed(truth)
    group = item.get("group") or next(key for key in ("old", "district", "new") if key in truths[0])
    return Row(text, group, frozenset(allowed))


def _allowed(truth: dict[str, Any]) -> set[str]:
    index = _index(PROVINCE)
    if "new" in truth:
        found = {unit.id for unit in index.units.values() if unit.name == truth["new"]}
    elif "old" in truth:
        ward, district = truth["old"]
        label = f"{ward}, {district}"
        found = {uid for entries in index.old_wards.values() for e in entries if e[2] == label for uid in e[3]}
    else:
        suffix = f", {truth['district']}"
        found = {uid for entries in index.old_wards.values() for e in entries if e[2].endswith(suffix) for uid in e[3]}
    if not found:
        raise ValueError(f"truth names nothing in the data: {truth}")
    return found


def judge(row: Row, found: Recognition) -> tuple[bool, bool]:
    """(right, confident wrong) for one answer."""
    if row.outside:
        return found.kind == "outside", found.kind == "one"
    if row.nonsense:
        return found.kind == "unknown", found.kind in ("one", "outside")
    if found.kind == "one":
        ok = found.ids[0] in row.allowed
        return ok, not ok
    if found.kind == "several":
        return bool(row.allowed & set(found.ids)), False
    return False, found.kind == "outside"


def score(rows: list[Row]) -> Score:
    result = Score()
    for row in rows:
        found = recognise(row.text, PROVINCE)
        right, wrong = judge(row, found)
        result.total += 1
        result.right += right
        result.confident_wrong += wrong
        result.nonsense_confident_wrong += wrong and row.nonsense
        counts = result.by_group.setdefault(row.group, [0, 0])
        counts[0] += right
        counts[1] += 1
        if not right:
            result.misses.append((row.text, found.kind, found.ids[:3]))
    return result
