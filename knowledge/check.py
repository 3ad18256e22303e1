"""Editorial checks of the knowledge-base files (``python -m bot kb check``).

:func:`check_entries` never stops at the first problem: it reports every file
that cannot be parsed or validated, then checks the valid entries against the
editorial rules and against each other.

Phrasing overlap policy
-----------------------
Each phrasing of each entry is scored, with the matcher's own signals, against
every *other* phrasing of the KB (itself left out):

* if its closest phrasing belongs to another entry and is a near-duplicate
  (similarity ≥ :data:`NEAR_DUPLICATE`), that is an **error**: whichever
  entry wins for such a question is arbitrary, so the bot would confidently
  answer one of them at random. Either the phrasing is misfiled or the two
  entries should be merged or sharpened. This is the "other entry wins by a
  wide margin" case: the phrasing is effectively a copy of the other entry's.
* otherwise the whole hybrid score is recomputed with the phrasing left out
  of the phrasing-level signals (the entry-level signals still contain it,
  which favours its own entry). If another entry still wins, that is a
  **warning**: paraphrases of this phrasing risk being routed to the other
  entry. It is not an error because a phrasing with unusual wording
  legitimately has few close siblings and the ranking of real questions, not
  of the phrasings themselves, is what users see; the message tells the
  author to add paraphrases or sharpen the wording.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np

from knowledge.loader import (
    DEFAULT_ENTRIES_DIR,
    Entry,
    KnowledgeError,
    iter_entry_files,
    load_entries,
    parse_entry,
    read_yaml,
)
from knowledge.matcher import DEFAULT_PARAMS, KnowledgeBase
from knowledge.normalize import fold, normalize
from knowledge.placeholders import problems as placeholder_problems
from knowledge.promotion.rules import is_full_url
from knowledge.promotion.rules import validate as validate_rules
from knowledge.situations import check as situation_problems
from knowledge.situations import situations_file

__all__ = [
    "MAX_ANSWER_CHARS",
    "MIN_QUESTIONS",
    "Problem",
    "check_entries",
    "check_rules",
    "check_situations",
    "main",
]

MAX_ANSWER_CHARS = 1200
MIN_QUESTIONS = 5
VERIFY_MARKER = "Cần kiểm chứng"
#: Similarity (0..1, matcher scale) above which a phrasing is a near-duplicate
#: of another entry's phrasing.
NEAR_DUPLICATE = 0.9
_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    level: Level
    code: str
    file: str
    entry_id: str | None
    message: str  # Vietnamese, shown to content authors

    def __str__(self) -> str:
        tag = "LỖI" if self.level == "error" else "CẢNH BÁO"
        who = f"[{self.entry_id}] " if self.entry_id else ""
        return f"{tag} {who}{self.file}: {self.message} ({self.code})"


def _walk_strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where or "(gốc)", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, f"{where}[{i}]")


def _entry_rules(entry: Entry, raw: dict[str, Any], file: str) -> list[Problem]:
    out: list[Problem] = []

    def add(level: Level, code: str, message: str) -> None:
        out.append(Problem(level, code, file, entry.id, message))

    if entry.id != Path(file).stem:
        add("error", "id-file-mismatch", f"id '{entry.id}' khác tên tệp '{Path(file).stem}'")
    if not entry.legal_basis:
        add("error", "missing-legal-basis", "thiếu căn cứ pháp lý (legal_basis)")
    if not entry.sources:
        add("error", "missing-sources", "thiếu nguồn (sources), cần ít nhất 1")
    for i, src in enumerate(entry.sources):
        if not is_full_url(src):
            add("warning", "source-not-url", f"sources[{i}] không phải URL đầy đủ (https://…/trang): '{src}'")
    out.extend(_version_rules(entry, file))
    if len(entry.answer) > MAX_ANSWER_CHARS:
        add(
            "error",
            "answer-too-long",
            f"câu trả lời dài {len(entry.answer)} ký tự, tối đa {MAX_ANSWER_CHARS}",
        )
    if len(entry.questions) < MIN_QUESTIONS:
        add(
            "error",
            "too-few-questions",
            f"chỉ có {len(entry.questions)} cách hỏi, cần ít nhất {MIN_QUESTIONS}",
        )
    if entry.verify and VERIFY_MARKER not in entry.answer:
        add("error", "verify-marker", f"verify: true nhưng câu trả lời không có cụm '{VERIFY_MARKER}'")
    if entry.id in entry.related:
        add("warning", "related-self", "related trỏ đến chính mục này")
    shown = [entry.answer, entry.validity.text, *(t for v in entry.versions for t in (v.answer, v.text))]
    for text in shown:
        for code, message in placeholder_problems(text):
            add("warning", code, message)
    v = entry.validity
    if v.valid_from and v.until and v.valid_from > v.until:
        add("error", "validity-order", "validity.from sau validity.until")
    seen: dict[str, int] = {}
    for i, q in enumerate(entry.questions):
        key = fold(normalize(q))
        if key in seen:
            add("warning", "duplicate-question", f"questions[{i}] trùng questions[{seen[key]}]: '{q}'")
        else:
            seen[key] = i
    for where, s in _walk_strings(raw):
        if unicodedata.normalize("NFC", s) != s:
            add("error", "not-nfc", f"trường '{where}' không ở dạng Unicode NFC (dấu tổ hợp rời)")
    return out


def _version_rules(entry: Entry, file: str) -> list[Problem]:
    """Dated wordings: each with a source, none overlapping another; a successor only after an end date."""
    out: list[Problem] = []
    for i, version in enumerate(entry.versions):
        if not version.sources:
            out.append(Problem("warning", "version-without-source", file, entry.id, f"versions[{i}] thiếu nguồn"))
        for j, src in enumerate(version.sources):
            if not is_full_url(src):
                msg = f"versions[{i}].sources[{j}] không phải URL đầy đủ: '{src}'"
                out.append(Problem("warning", "source-not-url", file, entry.id, msg))
        if len(version.answer) > MAX_ANSWER_CHARS:
            msg = f"versions[{i}]: câu trả lời dài {len(version.answer)} ký tự, tối đa {MAX_ANSWER_CHARS}"
            out.append(Problem("error", "answer-too-long", file, entry.id, msg))
        if version.until is not None and version.until < version.valid_from:
            out.append(Problem("error", "validity-order", file, entry.id, f"versions[{i}]: from sau until"))
    spans = sorted(entry.spans(), key=lambda span: span[0] or date.min)
    for (start_a, until_a), (start_b, _) in pairwise(spans):
        if until_a is None or start_b is None or until_a >= start_b:
            msg = f"hiệu lực chồng lấn: bản từ {start_a} đến {until_a} và bản từ {start_b}"
            out.append(Problem("warning", "version-overlap", file, entry.id, msg))
    if entry.replaced_by is not None and entry.validity.until is None:
        msg = f"replaced_by '{entry.replaced_by}' nhưng validity.until trống"
        out.append(Problem("warning", "replaced-without-end", file, entry.id, msg))
    return out


def _overlap_problems(entries: dict[str, Entry], files: dict[str, str]) -> list[Problem]:
    """Phrasings that match another entry better than their own (see module doc)."""
    out: list[Problem] = []
    if len(entries) < 2:
        return out
    p = DEFAULT_PARAMS
    index = KnowledgeBase(entries, params=p).index
    ids = [e.id for e in index.entries]
    owner = np.repeat(np.arange(len(ids)), np.diff(np.append(index.starts, index.n_phrasings)))
    # Phrasing-level similarity on the matcher's scale (its phrasing signals only).
    total = p.w_uni + p.w_bi + p.w_acc + p.w_fuzzy
    if total <= 0:
        return out
    for row, entry in enumerate(index.entries):
        first = int(index.starts[row]) + 1  # position 0 of an entry is its title
        for qi, q in enumerate(entry.questions):
            pos = first + qi
            f = index.features(q, p)
            phr = index.phrasing_scores(f, p) / total
            phr[pos] = -1.0  # leave the phrasing itself out
            others = np.where(owner == row, -1.0, phr)
            j = int(np.argmax(others))
            other_id = ids[owner[j]]
            # Phrasings that name different years ("Online Friday 2023 …" / "… 2026 …")
            # are told apart by the matcher's year term: not duplicates.
            years_here = set(_YEAR_RE.findall(fold(normalize(q))))
            years_there = set(_YEAR_RE.findall(index.phrase_folded[j]))
            distinct_years = bool(years_here) and bool(years_there) and not years_here & years_there
            if others[j] >= NEAR_DUPLICATE and not distinct_years:
                other_entry = entries[other_id]
                k = j - int(index.starts[owner[j]])
                other_text = other_entry.title if k == 0 else other_entry.questions[k - 1]
                out.append(
                    Problem(
                        "error",
                        "question-overlaps-other",
                        files[entry.id],
                        entry.id,
                        f"questions[{qi}] '{q}' gần như trùng cách hỏi '{other_text}' của mục "
                        f"'{other_id}' ({files[other_id]}), độ giống {others[j]:.2f}",
                    )
                )
                continue
            # Whole hybrid score with this phrasing left out of the phrasing-level
            # signals (the entry-level channels still contain it, which favours
            # its own entry: losing anyway is a strong hint).
            per = np.maximum.reduceat(phr * total, index.starts) + p.w_entry * f.entry + p.w_answer * f.answer
            per = per / p.total_weight + p.w_year * f.year
            own = float(per[row])
            per[row] = -np.inf
            k = int(np.argmax(per))
            if per[k] > own:
                out.append(
                    Problem(
                        "warning",
                        "question-matches-other",
                        files[entry.id],
                        entry.id,
                        f"questions[{qi}] '{q}' khớp với mục '{ids[k]}' ({per[k]:.2f}) hơn mục của nó "
                        f"({own:.2f}) khi bỏ chính câu này; nên thêm cách hỏi tương tự hoặc viết rõ hơn",
                    )
                )
    return out


def check_entries(path: Path | None = None, *, overlap: bool = True) -> list[Problem]:
    """Check every entry file of *path*; returns errors and warnings."""
    folder = Path(path) if path is not None else DEFAULT_ENTRIES_DIR
    problems: list[Problem] = []
    try:
        files = list(iter_entry_files(folder))
    except KnowledgeError as exc:
        return [Problem("error", "no-folder", str(folder), None, str(exc))]
    if not files:
        return [Problem("error", "empty", str(folder), None, "thư mục không có tệp .yaml nào")]

    entries: dict[str, Entry] = {}
    origin: dict[str, str] = {}
    for file in files:
        try:
            raw = read_yaml(file)
            entry = parse_entry(raw, file)
        except KnowledgeError as exc:
            code = "yaml" if "YAML" in str(exc) else "schema"
            problems.append(Problem("error", code, file.name, None, str(exc).removeprefix(f"{file.name}: ")))
            continue
        if entry.id in entries:
            problems.append(
                Problem(
                    "error",
                    "duplicate-id",
                    file.name,
                    entry.id,
                    f"id '{entry.id}' trùng: khai báo ở cả {origin[entry.id]} và {file.name}",
                )
            )
            continue
        entries[entry.id] = entry
        origin[entry.id] = file.name
        problems.extend(_entry_rules(entry, raw, file.name))

    for entry in entries.values():
        if entry.replaced_by is not None and entry.replaced_by not in entries:
            msg = f"replaced_by trỏ đến id không tồn tại: '{entry.replaced_by}'"
            problems.append(Problem("error", "replaced-missing", origin[entry.id], entry.id, msg))
        for rid in entry.related:
            if rid not in entries and rid != entry.id:
                problems.append(
                    Problem(
                        "error",
                        "related-missing",
                        origin[entry.id],
                        entry.id,
                        f"related trỏ đến id không tồn tại: '{rid}'",
                    )
                )

    if overlap and entries:
        problems.extend(_overlap_problems(entries, origin))
    problems.sort(key=lambda p: (p.level != "error", p.file, p.code))
    return problems


def check_rules(folder: Path) -> list[Problem]:
    """Problems of the promotion rules in *folder* (``knowledge/rules`` beside the entries); none if absent."""
    if not folder.is_dir():
        return []
    return [Problem(p.level, p.code, p.file, p.rule_id, p.message) for p in validate_rules(folder)]


def check_situations(folder: Path) -> list[Problem]:
    """Problems of the told-situation kinds beside the entries *folder* (``situations.yaml``); none if absent."""
    path = situations_file(folder)
    try:
        ids: set[str] | None = set(load_entries(folder))
    except KnowledgeError:  # the entries' own errors are reported by check_entries
        ids = None
    return [Problem("error", "situation", path.name, kind, message) for kind, message in situation_problems(path, ids)]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the problems; exit code 1 when there is at least one error."""
    parser = argparse.ArgumentParser(prog="kb check", description="Kiểm tra các tệp tri thức")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_ENTRIES_DIR)
    parser.add_argument("--no-overlap", action="store_true", help="bỏ qua kiểm tra trùng lặp cách hỏi")
    parser.add_argument("--errors-only", action="store_true", help="chỉ in lỗi")
    args = parser.parse_args(argv)
    problems = check_entries(args.path, overlap=not args.no_overlap) + check_rules(args.path.parent / "rules")
    problems += check_situations(args.path)
    errors = [p for p in problems if p.level == "error"]
    warnings = [p for p in problems if p.level == "warning"]
    for p in problems:
        if p.level == "error" or not args.errors_only:
            print(p)
    print(f"Tổng cộng: {len(errors)} lỗi, {len(warnings)} cảnh báo.")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
