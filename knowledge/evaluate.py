"""Evaluation of a matcher on the labelled question set (``tests/data/qa_eval.yaml``).

Items: ``{q, expect: entry_id | null, split: dev | heldout, form: accented |
unaccented | typo}``; ``expect: null`` marks an out-of-scope question that must
not get a confident answer.

Metrics (``in`` = in-scope items, ``oos`` = out-of-scope items):

* ``top-1`` / ``top-3``: expected entry ranked first / among the first three
  (ranking only, whatever the confidence decision);
* ``MRR``: mean reciprocal rank of the expected entry within the first 10;
* ``answered``: share of in-scope items answered confidently;
* ``wrong``: share of in-scope items answered confidently with another entry;
* ``refusal``: share of out-of-scope items *not* answered confidently;
* latency p50 / p95 of one ``match`` call, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from knowledge.loader import KnowledgeError
from knowledge.matcher import MatchResult

__all__ = [
    "DEFAULT_EVAL_PATHS",
    "EvalItem",
    "Metrics",
    "Outcome",
    "compute_metrics",
    "format_latency_table",
    "format_metrics_table",
    "load_eval",
    "main",
    "run_matcher",
]

_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
#: The dev questions (tuned on; ``qa_dev_v3`` was written blind and calibrates the confidence rule) and the
#: held-out questions (written separately, only ever measured).
DEFAULT_EVAL_PATHS: tuple[Path, ...] = (
    _DATA / "qa_eval.yaml",
    _DATA / "qa_dev_v3.yaml",
    _DATA / "qa_heldout_v2.yaml",
)
SPLITS = ("dev", "heldout")
FORMS = ("accented", "unaccented", "typo")

Matcher = Callable[[str, int], MatchResult]


@dataclass(frozen=True, slots=True)
class EvalItem:
    q: str
    expect: str | None
    split: Literal["dev", "heldout"]
    form: Literal["accented", "unaccented", "typo"]


@dataclass(frozen=True, slots=True)
class Outcome:
    item: EvalItem
    ranked: tuple[str, ...]
    confident: bool
    latency_ms: float

    @property
    def rank(self) -> int | None:
        """1-based rank of the expected entry, ``None`` if absent or out of scope."""
        if self.item.expect is None:
            return None
        try:
            return self.ranked.index(self.item.expect) + 1
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Metrics:
    n_in: int
    top1: float
    top3: float
    mrr: float
    answered: float
    correct: float
    wrong: float
    n_oos: int
    refusal: float
    p50_ms: float
    p95_ms: float


def load_eval(paths: Path | Sequence[Path] | None = None, known_ids: Iterable[str] | None = None) -> list[EvalItem]:
    """Load and validate the evaluation file(s); by default the dev file and the held-out file."""
    if paths is None:
        files = [Path(p) for p in DEFAULT_EVAL_PATHS if Path(p).exists()]
    elif isinstance(paths, (str, Path)):
        files = [Path(paths)]
    else:
        files = [Path(p) for p in paths]
    ids = set(known_ids) if known_ids is not None else None
    items: list[EvalItem] = []
    for file in files:
        items += _load_file(file, ids)
    return items


def _load_file(file: Path, ids: set[str] | None) -> list[EvalItem]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{file.name}: không đọc được tệp đánh giá ({exc})") from exc
    if isinstance(data, dict):  # allow {items: [...]} as well as a bare list
        data = data.get("items", data.get("questions"))
    if not isinstance(data, list):
        raise KnowledgeError(f"{file.name}: cần một danh sách câu hỏi")
    items: list[EvalItem] = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict) or not isinstance(raw.get("q"), str):
            raise KnowledgeError(f"{file.name}: mục {i} thiếu trường 'q'")
        expect, split, form = raw.get("expect"), raw.get("split"), raw.get("form")
        if split not in SPLITS:
            raise KnowledgeError(f"{file.name}: mục {i}: split '{split}' không hợp lệ")
        if form not in FORMS:
            raise KnowledgeError(f"{file.name}: mục {i}: form '{form}' không hợp lệ")
        if expect is not None and (not isinstance(expect, str) or (ids is not None and expect not in ids)):
            raise KnowledgeError(f"{file.name}: mục {i}: expect '{expect}' không phải id của mục nào")
        items.append(EvalItem(raw["q"], expect, split, form))
    return items


def run_matcher(matcher: Matcher, items: Sequence[EvalItem], limit: int = 10) -> list[Outcome]:
    """Run *matcher* on every item, timing each call."""
    out: list[Outcome] = []
    clock = time.perf_counter_ns
    for item in items:
        t0 = clock()
        result = matcher(item.q, limit)
        elapsed = (clock() - t0) / 1e6
        out.append(Outcome(item, tuple(s.entry.id for s in result.ranked), result.confident, elapsed))
    return out


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def compute_metrics(outcomes: Sequence[Outcome]) -> Metrics:
    ins = [o for o in outcomes if o.item.expect is not None]
    oos = [o for o in outcomes if o.item.expect is None]
    n = len(ins)

    def share(count: int, total: int) -> float:
        return count / total if total else float("nan")

    ranks = [o.rank for o in ins]
    top1 = sum(1 for r in ranks if r == 1)
    top3 = sum(1 for r in ranks if r is not None and r <= 3)
    mrr = sum(1 / r for r in ranks if r is not None) / n if n else float("nan")
    answered = sum(1 for o in ins if o.confident)
    correct = sum(1 for o in ins if o.confident and o.rank == 1)
    lat = [o.latency_ms for o in outcomes]
    return Metrics(
        n_in=n,
        top1=share(top1, n),
        top3=share(top3, n),
        mrr=mrr,
        answered=share(answered, n),
        correct=share(correct, n),
        wrong=share(answered - correct, n),
        n_oos=len(oos),
        refusal=share(sum(1 for o in oos if not o.confident), len(oos)),
        p50_ms=_percentile(lat, 50),
        p95_ms=_percentile(lat, 95),
    )


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f}"


def format_metrics_table(rows: Sequence[tuple[str, str, str, Metrics]]) -> str:
    """Markdown table; each row is (matcher, split, form, metrics). Percentages."""
    head = (
        "| matcher | split | form | n in-scope | top-1 % | top-3 % | MRR | answered % | "
        "conf. wrong % | n OOS | OOS refusal % |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for name, split, form, m in rows:
        mrr = "–" if m.mrr != m.mrr else f"{m.mrr:.3f}"
        lines.append(
            f"| {name} | {split} | {form} | {m.n_in} | {_pct(m.top1)} | {_pct(m.top3)} | {mrr} | "
            f"{_pct(m.answered)} | {_pct(m.wrong)} | {m.n_oos} | {_pct(m.refusal)} |"
        )
    return "\n".join(lines)


def format_latency_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    lines = ["| matcher | p50 ms | p95 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {m.p50_ms:.3f} | {m.p95_ms:.3f} |" for name, m in rows]
    return "\n".join(lines)


def breakdown(
    name: str, outcomes: Sequence[Outcome], splits: Sequence[str] = SPLITS
) -> list[tuple[str, str, str, Metrics]]:
    """Rows per split: all forms, then each form."""
    rows = []
    for split in splits:
        part = [o for o in outcomes if o.item.split == split]
        if not part:
            continue
        rows.append((name, split, "all", compute_metrics(part)))
        for form in FORMS:
            sub = [o for o in part if o.item.form == form]
            if sub:
                rows.append((name, split, form, compute_metrics(sub)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from knowledge.matcher import KnowledgeBase

    parser = argparse.ArgumentParser(description="Evaluate the hybrid matcher")
    parser.add_argument("--entries", type=Path, default=None)
    parser.add_argument("--eval", type=Path, nargs="+", default=None, help="evaluation files (default: dev + held-out)")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    parser.add_argument("--errors", action="store_true", help="list the failures")
    args = parser.parse_args(argv)
    kb = KnowledgeBase.load(args.entries)
    items = load_eval(args.eval, kb.entries)
    if args.split != "all":
        items = [i for i in items if i.split == args.split]
    outcomes = run_matcher(kb.match, items)
    print(format_metrics_table(breakdown("hybrid", outcomes)))
    print()
    print(format_latency_table([("hybrid", compute_metrics(outcomes))]))
    if args.errors:
        for o in outcomes:
            ok_rank = (o.item.expect is None and not o.confident) or (o.rank == 1 and o.confident)
            if not ok_rank:
                print(
                    f"- [{o.item.form}] {o.item.q!r}: expect={o.item.expect} got={list(o.ranked[:3])} "
                    f"confident={o.confident}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
