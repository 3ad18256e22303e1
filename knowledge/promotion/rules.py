"""Promotion rules as data, versioned by date (``knowledge/rules/*.yaml``).

Each rule version has an id, the dates it applies from and until (inclusive, ``until`` may be open), its basis
(article and document id from ``documents.yaml``), full source URLs and whether it is verified. Two versions of
one id never overlap, so :meth:`RuleSet.rule` finds at most one version for a day. :func:`validate` reports
what ``kb check`` shows; :func:`load_rules` refuses a folder with errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

__all__ = [
    "DEFAULT_RULES_DIR",
    "Basis",
    "Document",
    "Regime",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "RulesError",
    "default_rules",
    "load_rules",
    "validate",
]

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
DOCUMENTS_FILE = "documents.yaml"


class RulesError(ValueError):
    """The rules folder cannot be loaded (its problems are in the message)."""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    level: Literal["error", "warning"]
    code: str
    file: str
    rule_id: str | None
    message: str  # Vietnamese, shown to content authors


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    name: str
    valid_from: date
    verified: bool


@dataclass(frozen=True, slots=True)
class Regime:
    id: str
    name: str
    valid_from: date
    until: date | None
    verified: bool

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class Basis:
    document: str
    article: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    valid_from: date
    until: date | None
    basis: tuple[Basis, ...]
    sources: tuple[str, ...]
    verified: bool
    params: dict[str, Any] = field(default_factory=dict)
    file: str = ""

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True)
class RuleSet:
    documents: dict[str, Document]
    regimes: tuple[Regime, ...]
    rules: tuple[Rule, ...]

    def rule(self, rule_id: str, day: date) -> Rule | None:
        """The version of *rule_id* in force on *day*, if any."""
        return next((r for r in self.rules if r.id == rule_id and r.covers(day)), None)

    def regime(self, day: date) -> Regime | None:
        return next((r for r in self.regimes if r.covers(day)), None)

    def cutovers(self) -> list[date]:
        """Every date on which a regime or a rule version starts, sorted."""
        return sorted({r.valid_from for r in self.regimes} | {r.valid_from for r in self.rules})

    def cite(self, rule: Rule) -> str:
        """``khoản 1 Điều 7 Nghị định 81/2018/NĐ-CP, sửa đổi bởi Nghị định 128/2024/NĐ-CP``."""
        first, *rest = rule.basis
        text = " ".join(part for part in (first.article, self.documents[first.document].name) if part)
        for extra in rest:
            name = self.documents[extra.document].name
            text += f" {extra.article} {name}" if extra.article else f", sửa đổi bởi {name}"
        return text


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def is_full_url(source: str) -> bool:
    """``https://host/path`` (a page), not a bare domain."""
    parts = urlsplit(source)
    page = parts.path not in ("", "/") or bool(parts.query)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and page


class _Reader:
    """Parses the YAML of one folder and collects problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []

    def add(self, level: Literal["error", "warning"], code: str, file: str, rid: str | None, msg: str) -> None:
        self.problems.append(RuleProblem(level, code, file, rid, msg))

    def read(self, path: Path) -> dict[str, Any]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            self.add("error", "yaml", path.name, None, f"không đọc được tệp: {exc}")
            return {}
        if not isinstance(data, dict):
            self.add("error", "schema", path.name, None, "tệp phải là một bảng (mapping)")
            return {}
        return data

    def dated(self, raw: dict[str, Any], file: str, rid: str | None) -> tuple[date | None, date | None, bool]:
        start, until = _day(raw.get("from")), _day(raw.get("until"))
        ok = start is not None and (raw.get("until") is None or until is not None)
        if not ok:
            self.add("error", "bad-date", file, rid, "from/until phải là ngày dạng YYYY-MM-DD")
        elif until is not None and start is not None and until < start:
            self.add("error", "validity-order", file, rid, "from sau until")
            ok = False
        return start, until, ok

    def documents(self, data: dict[str, Any], file: str) -> dict[str, Document]:
        out: dict[str, Document] = {}
        for raw in data.get("documents") or []:
            did = str(raw.get("id", ""))
            start, _, ok = self.dated(raw, file, did)
            if not did or not raw.get("name") or not ok or start is None:
                self.add("error", "schema", file, did or None, "văn bản cần id, name, from")
                continue
            out[did] = Document(did, str(raw["name"]), start, bool(raw.get("verified", False)))
        return out

    def regimes(self, data: dict[str, Any], file: str) -> list[Regime]:
        out: list[Regime] = []
        for raw in data.get("regimes") or []:
            rid = str(raw.get("id", ""))
            start, until, ok = self.dated(raw, file, rid)
            if not rid or not raw.get("name") or not ok or start is None:
                self.add("error", "schema", file, rid or None, "chế độ cần id, name, from")
                continue
            out.append(Regime(rid, str(raw["name"]), start, until, bool(raw.get("verified", False))))
        return out

    def rule(self, raw: dict[str, Any], file: str, documents: dict[str, Document]) -> Rule | None:
        rid = str(raw.get("id", "")) or None
        start, until, ok = self.dated(raw, file, rid)
        given = [b if isinstance(b, dict) else {} for b in raw.get("basis") or []]
        basis = tuple(Basis(str(b.get("document", "")), str(b.get("article") or "")) for b in given)
        if any(set(b) - {"document", "article"} for b in given):
            self.add("error", "schema", file, rid, "basis chỉ có các trường document và article")
            ok = False
        sources = tuple(str(s) for s in raw.get("sources") or [])
        if rid is None or "verified" not in raw:
            self.add("error", "schema", file, rid, "quy tắc cần id và verified (true/false)")
            ok = False
        if not basis:
            self.add("error", "missing-basis", file, rid, "thiếu căn cứ (basis)")
            ok = False
        for b in basis:
            if b.document not in documents:
                self.add("error", "unknown-basis", file, rid, f"căn cứ trỏ đến văn bản không có: '{b.document}'")
                ok = False
        self._sources(sources, file, rid)
        if not ok or rid is None or start is None:
            return None
        rule = Rule(rid, start, until, basis, sources, bool(raw["verified"]), dict(raw.get("params") or {}), file)
        if rule.verified and any(not documents[b.document].verified for b in basis):
            self.add("warning", "verify-mismatch", file, rid, "căn cứ chưa được kiểm chứng nhưng verified: true")
        return rule

    def _sources(self, sources: tuple[str, ...], file: str, rid: str | None) -> None:
        if not sources:
            self.add("error", "missing-sources", file, rid, "thiếu nguồn (sources), cần ít nhất 1 URL đầy đủ")
        for i, src in enumerate(sources):
            if not is_full_url(src):
                self.add("warning", "source-not-full-url", file, rid, f"sources[{i}] không phải URL đầy đủ: '{src}'")

    def overlaps(self, rules: Iterable[Rule]) -> None:
        by_id: dict[str, list[Rule]] = {}
        for rule in rules:
            by_id.setdefault(rule.id, []).append(rule)
        for rid, versions in by_id.items():
            versions.sort(key=lambda r: r.valid_from)
            for before, after in pairwise(versions):
                if before.until is None or before.until >= after.valid_from:
                    self.add(
                        "error",
                        "rule-overlap",
                        after.file,
                        rid,
                        f"hiệu lực chồng lấn: bản từ {before.valid_from} ({before.file}) và bản từ {after.valid_from}",
                    )


def _read_folder(folder: Path) -> tuple[RuleSet, list[RuleProblem]]:
    reader = _Reader()
    if not (folder / DOCUMENTS_FILE).is_file():
        reader.add("error", "no-documents", str(folder), None, f"thiếu tệp {DOCUMENTS_FILE}")
        return RuleSet({}, (), ()), reader.problems
    head = reader.read(folder / DOCUMENTS_FILE)
    documents = reader.documents(head, DOCUMENTS_FILE)
    regimes = reader.regimes(head, DOCUMENTS_FILE)
    rules: list[Rule] = []
    for path in sorted(folder.glob("*.yaml")):
        data = head if path.name == DOCUMENTS_FILE else reader.read(path)
        for raw in data.get("rules") or []:
            rule = reader.rule(raw if isinstance(raw, dict) else {}, path.name, documents)
            if rule is not None:
                rules.append(rule)
    reader.overlaps(rules)
    reader.overlaps(Rule(r.id, r.valid_from, r.until, (), (), True, file=DOCUMENTS_FILE) for r in regimes)
    return RuleSet(documents, tuple(sorted(regimes, key=lambda r: r.valid_from)), tuple(rules)), reader.problems


def validate(folder: Path | None = None) -> list[RuleProblem]:
    """Every problem of the rules folder (errors and warnings)."""
    return _read_folder(Path(folder) if folder is not None else DEFAULT_RULES_DIR)[1]


def load_rules(folder: Path | None = None) -> RuleSet:
    """The rules of *folder*; raises :class:`RulesError` when the folder has errors."""
    rules, problems = _read_folder(Path(folder) if folder is not None else DEFAULT_RULES_DIR)
    errors = [f"{p.file}: [{p.rule_id}] {p.message}" for p in problems if p.level == "error"]
    if errors:
        raise RulesError("; ".join(errors))
    return rules


@cache
def default_rules() -> RuleSet:
    """The shipped rules, loaded once."""
    return load_rules(DEFAULT_RULES_DIR)
