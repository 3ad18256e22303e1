"""Kinds of told situations as data (``knowledge/situations.yaml``): which entries an answer combines.

A buyer or a shop owner telling what happened ("em mua … về thì hàng giả, shop chặn luôn, giờ làm sao") mixes the
words of several entries, so the search alone ranks a neighbouring entry first or none confidently. Each kind
names the groups of folded patterns that recognise it (every group must match) and the entries its answer
combines, most relevant first. :func:`kinds_for` gives the kinds a message tells, in file order (the most
specific first); :func:`check` validates the file for ``kb check``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.loader import KnowledgeError
from knowledge.normalize import fold

__all__ = [
    "MAX_ENTRIES",
    "SituationKind",
    "check",
    "flat",
    "kinds_for",
    "load_kinds",
    "situations_file",
]

#: Most entries a kind lists (the combined answer shows at most this many).
MAX_ENTRIES = 3
_WHO = ("consumer", "merchant", "both")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def flat(text: str) -> str:
    """*text* folded as the patterns expect: lower case, no diacritics, punctuation → one space, "%" kept."""
    return " ".join(re.sub(r"[^\w%]+", " ", fold(text.lower())).split())


def _words(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?!\w)")


@dataclass(frozen=True, slots=True)
class SituationKind:
    id: str
    who: str
    when: tuple[re.Pattern[str], ...]
    unless: re.Pattern[str] | None
    entries: tuple[str, ...]

    def told_in(self, folded: str) -> bool:
        """True when every group of the kind is found in the *folded* message and no ``unless`` pattern is."""
        if self.unless is not None and self.unless.search(folded):
            return False
        return all(group.search(folded) for group in self.when)


def situations_file(entries_dir: Path) -> Path:
    """The kinds file that goes with an entries folder: ``situations.yaml`` beside it."""
    return Path(entries_dir).parent / "situations.yaml"


def _raw_kinds(path: Path) -> list[Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kinds = data.get("kinds") if isinstance(data, dict) else None
    if not isinstance(kinds, list):
        raise ValueError("cần khóa 'kinds' là một danh sách")
    return kinds


def _parse(raw: Any) -> SituationKind:
    """One kind from its YAML mapping; ``ValueError`` (Vietnamese message) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError("mỗi loại tình huống phải là ánh xạ (khóa: giá trị)")
    extra = set(raw) - {"id", "who", "when", "unless", "entries"}
    if extra:
        raise ValueError(f"trường không có trong lược đồ: {', '.join(sorted(extra))}")
    kind_id, who, when, entries = raw.get("id"), raw.get("who"), raw.get("when"), raw.get("entries")
    if not isinstance(kind_id, str) or not _ID.match(kind_id):
        raise ValueError(f"id {kind_id!r}: chỉ gồm chữ thường không dấu, chữ số và dấu '-'")
    if who not in _WHO:
        raise ValueError(f"{kind_id}: who phải là một trong {', '.join(_WHO)}")
    if not isinstance(when, list) or not when or not all(isinstance(g, list) and g for g in when):
        raise ValueError(f"{kind_id}: when phải là danh sách các nhóm mẫu, không nhóm nào rỗng")
    unless = raw.get("unless") or []
    patterns = [p for group in when for p in group] + list(unless)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"{kind_id}: mẫu {pattern!r} phải là chuỗi")
        letters = re.sub(r"\\.", "", pattern)  # escapes such as \S or \d are not text
        if fold(letters) != letters or letters != letters.lower():
            raise ValueError(f"{kind_id}: mẫu {pattern!r} phải viết thường, không dấu (so với tin đã bỏ dấu)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{kind_id}: mẫu {pattern!r} không hợp lệ ({exc})") from None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValueError(f"{kind_id}: entries phải liệt kê 1 đến {MAX_ENTRIES} mục")
    if len(set(entries)) != len(entries):
        raise ValueError(f"{kind_id}: entries có mục trùng")
    groups = tuple(_words(group) for group in when)
    return SituationKind(kind_id, who, groups, _words(unless) if unless else None, tuple(map(str, entries)))


def load_kinds(path: Path, entry_ids: Iterable[str]) -> tuple[SituationKind, ...]:
    """The kinds of *path* (none when the file is absent), each keeping only the entries that exist.

    The file is validated by ``kb check``; here a kind left with no entry is dropped, so a knowledge base without
    some entries (a test fixture) still loads. A malformed file raises :class:`KnowledgeError`.
    """
    if not path.is_file():
        return ()
    known = set(entry_ids)
    kinds = []
    try:
        parsed = [_parse(raw) for raw in _raw_kinds(path)]
    except (yaml.YAMLError, ValueError) as exc:
        raise KnowledgeError(f"{path.name}: {exc}") from None
    for kind in parsed:
        entries = tuple(e for e in kind.entries if e in known)
        if entries:
            kinds.append(SituationKind(kind.id, kind.who, kind.when, kind.unless, entries))
    return tuple(kinds)


def kinds_for(text: str, kinds: Iterable[SituationKind]) -> list[SituationKind]:
    """The kinds *text* tells, most specific (first in the file) first."""
    folded = flat(text)
    return [kind for kind in kinds if kind.told_in(folded)]


def check(path: Path, entry_ids: Iterable[str] | None) -> list[tuple[str | None, str]]:
    """Problems of the kinds file as (kind id or None, Vietnamese message); an empty list when it is valid.

    *entry_ids*: the knowledge base's ids, or None when the entries could not be loaded (references unchecked).
    """
    if not path.is_file():
        return []
    try:
        raws = _raw_kinds(path)
    except (yaml.YAMLError, ValueError) as exc:
        return [(None, f"không đọc được: {exc}")]
    known, seen = None if entry_ids is None else set(entry_ids), set()
    problems: list[tuple[str | None, str]] = []
    for raw in raws:
        try:
            kind = _parse(raw)
        except ValueError as exc:
            problems.append((raw.get("id") if isinstance(raw, dict) else None, str(exc)))
            continue
        if kind.id in seen:
            problems.append((kind.id, f"id '{kind.id}' trùng"))
        seen.add(kind.id)
        missing = [] if known is None else [e for e in kind.entries if e not in known]
        problems += [(kind.id, f"entries trỏ đến id không tồn tại: '{e}'") for e in missing]
    return problems
