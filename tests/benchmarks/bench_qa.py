"""Question-matching benchmark: hybrid matcher vs. the two single-signal baselines.

Run from the repository root::

    python -m tests.benchmarks.bench_qa                # dev and held-out tables, latency
    python -m tests.benchmarks.bench_qa --write-docs   # also print the block for docs/benchmarks.md
    python -m tests.benchmarks.bench_qa --tune         # grid search of the weights on the DEV split only
    python -m tests.benchmarks.bench_qa --calibrate    # fit the confidence rule on the DEV split only

The held-out split is reported, never used for tuning: ``--tune`` and ``--calibrate`` read only
``split: dev`` items. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import bm25s
import numpy as np
from rapidfuzz import fuzz, process, utils

from handlers.promotion.check import campaign_windows
from knowledge.evaluate import (
    DEFAULT_EVAL_PATHS,
    EvalItem,
    Metrics,
    breakdown,
    compute_metrics,
    format_latency_table,
    format_metrics_table,
    load_eval,
    run_matcher,
)
from knowledge.matcher import LENGTH_CAP, KnowledgeBase, MatchParams, MatchResult, ScoredEntry
from knowledge.promotion.calendar import TZ
from knowledge.promotion.evaluate import evaluate, format_summary, load_situations, reply
from tests.support.configs import plan_2024

MATCHERS = ("hybrid", "bm25-only", "fuzzy-only")
SITUATIONS_DEV = Path(__file__).resolve().parents[1] / "data" / "situations_dev.yaml"
SITUATIONS_DEV_V2 = SITUATIONS_DEV.with_name("situations_dev_v2.yaml")
SITUATIONS_DEV_V3 = SITUATIONS_DEV.with_name("situations_dev_v3.yaml")
SITUATIONS_DEV_V4 = SITUATIONS_DEV.with_name("situations_dev_v4.yaml")
#: Written blind by separate engineers (stop 23), tuned on since; v5s: told situations and out of scope only.
SITUATIONS_DEV_V5 = SITUATIONS_DEV.with_name("situations_dev_v5.yaml")
SITUATIONS_DEV_V5S = SITUATIONS_DEV.with_name("situations_dev_v5s.yaml")
SITUATIONS_DEV_V6 = SITUATIONS_DEV.with_name("situations_dev_v6.yaml")
SITUATIONS_DEV_V7 = SITUATIONS_DEV.with_name("situations_dev_v7.yaml")
#: Held-out sets measured once blind (docs/benchmarks.md) and spent since: dev sets now.
SITUATIONS_SPENT_V3 = SITUATIONS_DEV.with_name("situations_heldout_v3.yaml")
SITUATIONS_SPENT_V4 = SITUATIONS_DEV.with_name("situations_heldout_v4.yaml")
SITUATIONS_SPENT_V5 = SITUATIONS_DEV.with_name("situations_heldout_v5.yaml")
SITUATIONS_SPENT_V6 = SITUATIONS_DEV.with_name("situations_heldout_v6.yaml")
#: How a situation file is named in the report.
SITUATION_LABELS = {
    SITUATIONS_SPENT_V3.name: "held-out v3 (spent, used as dev)",
    SITUATIONS_SPENT_V4.name: "held-out v4 (spent, used as dev)",
    SITUATIONS_SPENT_V5.name: "held-out v5 (spent, used as dev)",
    SITUATIONS_SPENT_V6.name: "held-out v6 (spent)",
    SITUATIONS_DEV_V5.name: "dev v5 (written blind, tuned on)",
    SITUATIONS_DEV_V6.name: "dev v6 (written blind, tuned on)",
    SITUATIONS_DEV_V7.name: "dev v7 (written blind, tuned on)",
}


def _matchers(kb: KnowledgeBase) -> dict[str, object]:
    return {"hybrid": kb.match, "bm25-only": kb.match_bm25_only, "fuzzy-only": kb.match_fuzzy_only}


def run_benchmark(kb: KnowledgeBase, items: Sequence[EvalItem]) -> dict[str, list]:
    funcs = _matchers(kb)
    warm = [i for i in items if i.split == "dev"][:20] or list(items[:20])
    for f in funcs.values():  # warm caches before timing
        for item in warm:
            f(item.q, 10)  # type: ignore[operator]
    return {name: run_matcher(funcs[name], items) for name in MATCHERS}  # type: ignore[arg-type]


class OffTheShelf:
    """The two tools as they come, without this project's Vietnamese normaliser (information only).

    ``bm25s-plain``: bm25s's own tokenizer (lower case, words of 2+ characters, no stop words) and default
    k1/b over one document per entry (title + questions). ``WRatio-plain``: rapidfuzz WRatio with its
    ``default_process`` against every title and question, best per entry. No refusal rule, so only the
    ranking metrics are reported. The issue's criterion is judged against the shared-normaliser baselines.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.entries = [kb.entries[i] for i in sorted(kb.entries)]
        docs = [" ".join((e.title, *e.questions)) for e in self.entries]
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False)
        self.phrases = [(n, text) for n, e in enumerate(self.entries) for text in (e.title, *e.questions)]

    def _ranked(self, scores: np.ndarray, limit: int) -> MatchResult:
        top = np.argsort(-scores, kind="stable")[:limit]
        return MatchResult([ScoredEntry(self.entries[i], float(scores[i])) for i in top if scores[i] > 0], False)

    def bm25(self, text: str, limit: int) -> MatchResult:
        query = bm25s.tokenize([text], stopwords=None, return_ids=False, show_progress=False)[0]
        return self._ranked(self.index.get_scores(query), limit)

    def wratio(self, text: str, limit: int) -> MatchResult:
        best = np.zeros(len(self.entries))
        hits = process.extract(
            text, [t for _, t in self.phrases], scorer=fuzz.WRatio, processor=utils.default_process, limit=None
        )
        for _, score, k in hits:
            n = self.phrases[k][0]
            best[n] = max(best[n], score)
        return self._ranked(best, limit)


def off_the_shelf_table(kb: KnowledgeBase, items: Sequence[EvalItem]) -> str:
    plain = OffTheShelf(kb)
    lines = ["| matcher | split | form | n in-scope | top-1 % | top-3 % | MRR |", "|---|---|---|---:|---:|---:|---:|"]
    for name, func in (("bm25s-plain", plain.bm25), ("WRatio-plain", plain.wratio)):
        for split, form, m in _rank_rows(run_matcher(func, [i for i in items if i.expect is not None])):
            lines.append(
                f"| {name} | {split} | {form} | {m.n_in} | {100 * m.top1:.1f} | {100 * m.top3:.1f} | {m.mrr:.3f} |"
            )
    return "\n".join(lines)


def _rank_rows(outcomes: list) -> list[tuple[str, str, Metrics]]:
    return [(split, form, m) for _, split, form, m in breakdown("", outcomes) if form == "all" or split == "heldout"]


def report(results: dict[str, list], n_entries: int) -> tuple[str, float]:
    parts: list[str] = []
    for split in ("dev", "heldout"):
        rows = []
        for name in MATCHERS:
            rows += breakdown(name, results[name], splits=(split,))
        if rows:
            parts.append(f"### {split}\n\n{format_metrics_table(rows)}")
    lat_rows: list[tuple[str, Metrics]] = [(name, compute_metrics(results[name])) for name in MATCHERS]
    parts.append("### latency (one match call, all questions)\n\n" + format_latency_table(lat_rows))

    def top1(name: str) -> float:
        held = [o for o in results[name] if o.item.split == "heldout"]
        return compute_metrics(held).top1 if held else float("nan")

    best_base = max(top1("bm25-only"), top1("fuzzy-only"))
    delta = 100 * (top1("hybrid") - best_base)
    n_items = len(results["hybrid"])
    header = f"{n_entries} entries, {n_items} questions; Python {platform.python_version()}, {platform.machine()}"
    return header + "\n\n" + "\n\n".join(parts), delta


# ---------------------------------------------------------------------------
# Tuning (dev split only).
# ---------------------------------------------------------------------------


def _decide_arrays(scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    best = np.array([int(np.argmax(s)) for s in scores])
    s_sorted = [np.sort(s)[::-1] for s in scores]
    s1 = np.array([s[0] for s in s_sorted])
    s2 = np.array([s[1] if s.size > 1 else 0.0 for s in s_sorted])
    return best, s1, s2


def tune_thresholds(
    scores: list[np.ndarray], expect: list[int | None], min_refusal: float
) -> tuple[float, float, dict[str, float]]:
    """Best (threshold, margin) on precomputed per-entry scores."""
    best_idx, s1, s2 = _decide_arrays(scores)
    exp = np.array([-1 if e is None else e for e in expect])
    ins = exp >= 0
    oos = ~ins
    best: tuple[float, float, float, dict[str, float]] | None = None
    for t in np.round(np.arange(0.20, 0.95, 0.01), 2):
        for m in (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15):
            conf = (s1 >= t) & (s1 - s2 >= m)
            refusal = float((~conf[oos]).mean()) if oos.any() else 1.0
            correct = float((conf & ins & (best_idx == exp)).sum() / max(ins.sum(), 1))
            wrong = float((conf & ins & (best_idx != exp)).sum() / max(ins.sum(), 1))
            if refusal < min_refusal:
                continue
            objective = correct - 2 * wrong + 0.5 * refusal
            if best is None or objective > best[2] + 1e-9:
                best = (float(t), float(m), objective, {"correct": correct, "wrong": wrong, "refusal": refusal})
    if best is None:
        return 0.99, 0.5, {}
    return best[0], best[1], best[3]


def _ranking_quality(scores: list[np.ndarray], expect: list[int | None]) -> tuple[float, float]:
    top1 = mrr = 0.0
    n = 0
    for s, e in zip(scores, expect, strict=True):
        if e is None:
            continue
        n += 1
        # Same tie-breaking as the matcher (stable sort: lower index first).
        rank = int((s > s[e]).sum() + (s[:e] == s[e]).sum()) + 1
        top1 += rank == 1
        mrr += 1 / rank
    return top1 / max(n, 1), mrr / max(n, 1)


def tune(entries_path: Path | None, eval_path: Sequence[Path] | None, min_refusal: float) -> None:
    """Grid search on the dev split; prints the best parameters to paste in matcher.py."""
    base = KnowledgeBase.load(entries_path)
    items = [i for i in load_eval(eval_path, base.entries) if i.split == "dev"]
    order = sorted(base.entries)
    expect = [None if i.expect is None else order.index(i.expect) for i in items]
    print(f"tuning on {len(items)} dev questions ({sum(e is not None for e in expect)} in scope)")

    scorers = ("ratio", "token_sort_ratio", "token_set_ratio", "token_ratio")
    weight_grid = list(
        itertools.product(
            scorers,
            (0.5, 1.0),  # w_uni
            (0.0, 0.25),  # w_bi
            (0.0, 0.15, 0.3),  # w_acc
            (0.5, 1.0, 1.5),  # w_fuzzy
            (1.0, 1.5, 2.0),  # w_entry
            (0.5, 1.0),  # w_answer
            (0.0, 0.05, 0.1, 0.15),  # w_year
        )
    )
    results = []
    for k1, b, oov, repair in itertools.product((0.9, 1.2, 1.5), (0.5, 0.75, 0.9), (0.4, 0.8), (0.5, 0.8)):
        index_params = MatchParams(k1=k1, b=b, oov_weight=oov, repair_weight=repair)
        index = KnowledgeBase(base.entries, params=index_params).index
        feats = [index.features(i.q, index_params, scorers, every_channel=True) for i in items]
        for scorer, w_uni, w_bi, w_acc, w_fz, w_entry, w_answer, w_year in weight_grid:
            p = replace(
                index_params,
                fuzzy_scorer=scorer,
                w_uni=w_uni,
                w_bi=w_bi,
                w_acc=w_acc,
                w_fuzzy=w_fz,
                w_entry=w_entry,
                w_answer=w_answer,
                w_year=w_year,
            )
            scores = [index.combine(f, p) for f in feats]
            top1, mrr = _ranking_quality(scores, expect)
            results.append((top1, mrr, p, scores))
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    print("best ranking configurations (dev):")
    for top1, mrr, p, _ in results[:15]:
        print(f"  top1={100 * top1:.1f} mrr={mrr:.3f} {p}")
    print("\nthen fit the hybrid's confidence rule for the chosen weights: --calibrate")
    for name, bp in (("bm25-only", base.bm25_params), ("fuzzy-only", base.fuzzy_params)):
        index = KnowledgeBase(base.entries, params=bp).index
        scores = [index.combine(index.features(i.q, bp), bp) for i in items]
        t, m, stats = tune_thresholds(scores, expect, min_refusal)
        top1, mrr = _ranking_quality(scores, expect)
        print(f"{name}: top1={100 * top1:.1f} threshold={t} margin={m} {stats}")


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights (bias first) of an L2-regularised logistic regression, by Newton's method."""
    xb = np.c_[np.ones(len(x)), x]
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        prob = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (prob - y) + l2 * w
        hess = (xb.T * (prob * (1 - prob))) @ xb + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def calibrate(
    entries_path: Path | None,
    eval_path: Sequence[Path] | None,
    min_refusal: float,
    probability: float = 0.85,
    folds: int = 5,
) -> None:
    """Fit the confidence rule of the current weights on the dev questions and print it.

    A logistic regression predicts "the top entry is right" from s1, s1 − s2 and ln(1 + words); a question
    is answered when that probability reaches *probability*, which is a linear rule on the three (what
    :func:`knowledge.matcher.decision_score` computes). Printed: the current rule, a k-fold cross-validation
    (fit on k-1 folds, measure the held fold) of the current and the refitted rule, per evaluation file, and
    the parameters to paste into ``DEFAULT_PARAMS``. The floor ``threshold`` and ``min_terms`` are kept.
    """
    kb = KnowledgeBase.load(entries_path)
    p = kb.params
    files = list(eval_path) if eval_path else [Path(f) for f in DEFAULT_EVAL_PATHS]
    items: list[EvalItem] = []
    source: list[str] = []
    for file in files:
        part = [i for i in load_eval(file, kb.entries) if i.split == "dev"]
        items += part
        source += [Path(file).name] * len(part)
    order = sorted(kb.entries)
    x, right, in_scope, gate = [], [], [], []
    for item in items:
        f = kb.index.features(item.q, p)
        scores = kb.index.combine(f, p)
        top = np.argsort(-scores, kind="stable")
        s1, s2 = float(scores[top[0]]), float(scores[top[1]])
        x.append((s1, s1 - s2, math.log1p(min(len(f.query.split()), LENGTH_CAP))))
        right.append(item.expect is not None and order[top[0]] == item.expect)
        in_scope.append(item.expect is not None)
        gate.append(f.known_terms >= p.min_terms and s1 >= p.threshold and s1 - s2 >= p.margin)
    xa, ya, ins, ok = np.array(x), np.array(right, dtype=float), np.array(in_scope), np.array(gate)
    src = np.array(source)
    cut = math.log(probability / (1 - probability))

    def rule(w: np.ndarray) -> tuple[float, float, float]:
        """(conf_margin, conf_length, decision) of the linear rule equivalent to logistic weights *w*."""
        return w[2] / w[1], w[3] / w[1], (cut - w[0]) / w[1]

    def confident(r: tuple[float, float, float], idx: np.ndarray) -> np.ndarray:
        score = xa[idx, 0] + r[0] * xa[idx, 1] + r[1] * xa[idx, 2]
        return ok[idx] & (score >= r[2])

    def stats(conf: np.ndarray, idx: np.ndarray) -> str:
        i, y = ins[idx], ya[idx]
        answered = conf[i].mean()
        wrong = (conf & i & (y == 0)).sum() / max(i.sum(), 1)
        refusal = (~conf[~i]).mean() if (~i).any() else 1.0
        return f"answered {100 * answered:.1f} %, wrong {100 * wrong:.1f} %, OOS refusal {100 * refusal:.1f} %"

    current = (p.conf_margin, p.conf_length, p.decision)
    print(f"calibrating on {len(items)} dev questions ({int(ins.sum())} in scope) from {', '.join(set(source))}")
    fold_of = np.random.default_rng(0).permutation(len(items)) % folds
    cv_conf = np.zeros(len(items), dtype=bool)
    for k in range(folds):
        train, test = (fold_of != k) & ok, fold_of == k
        cv_conf[test] = confident(rule(_logistic(xa[train], ya[train])), np.flatnonzero(test))
    everything = np.arange(len(items))
    for name in [*sorted(set(source)), "all"]:
        idx = everything if name == "all" else np.flatnonzero(src == name)
        print(f"  {name}: current rule {stats(confident(current, idx), idx)}")
        print(f"  {name}: refitted, {folds}-fold cross-validated {stats(cv_conf[idx], idx)}")
    fitted = rule(_logistic(xa[ok], ya[ok]))
    refusal = stats(confident(fitted, everything), everything)
    print(f"fitted on all (P ≥ {probability}): {refusal}")
    if (~ins).any() and (~confident(fitted, everything)[~ins]).mean() < min_refusal:
        print(f"  note: OOS refusal below the floor {100 * min_refusal:.0f} %; consider a higher --probability")
    print(f"  -> conf_margin={fitted[0]:.3f}, conf_length={fitted[1]:.3f}, decision={fitted[2]:.3f}")


def situations_section(kb: KnowledgeBase, files: Sequence[Path], items: Sequence[EvalItem]) -> str:
    """The promotion check and the Q&A together on situation messages, and the latency of one reply (check + Q&A)
    over every short question too."""
    windows = campaign_windows(plan_2024())
    parts = [
        format_summary(SITUATION_LABELS.get(Path(f).name, Path(f).stem), evaluate(load_situations(f), windows, kb))
        for f in files
    ]
    now = datetime(2026, 12, 7, 9, tzinfo=TZ)
    latencies = []
    for item in items:
        started = time.perf_counter()
        reply(item.q, now, windows, kb)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0
    parts.append(f"one reply (check + Q&A) over the {len(latencies)} short questions: p95 {p95:.2f} ms")
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=Path, default=None, help="entries folder (default: knowledge/entries)")
    parser.add_argument("--eval", type=Path, nargs="+", default=None, help="evaluation files (default: dev + held-out)")
    parser.add_argument("--write-docs", action="store_true", help="print the block for docs/benchmarks.md")
    parser.add_argument("--tune", action="store_true", help="grid-search weights/thresholds on dev")
    parser.add_argument("--calibrate", action="store_true", help="re-fit only the confidence rule on dev (k-fold)")
    parser.add_argument("--probability", type=float, default=0.85, help="--calibrate: answer when P(right) ≥ this")
    parser.add_argument("--min-refusal", type=float, default=0.95, help="dev refusal floor when tuning")
    parser.add_argument(
        "--situations",
        type=Path,
        nargs="*",
        default=[
            SITUATIONS_DEV,
            SITUATIONS_DEV_V2,
            SITUATIONS_DEV_V3,
            SITUATIONS_DEV_V4,
            SITUATIONS_DEV_V5,
            SITUATIONS_DEV_V5S,
            SITUATIONS_DEV_V6,
            SITUATIONS_DEV_V7,
            SITUATIONS_SPENT_V3,
            SITUATIONS_SPENT_V4,
            SITUATIONS_SPENT_V5,
            SITUATIONS_SPENT_V6,
        ],
        help="situation files (default: the dev sets and the spent held-out v3; a fresh held-out is measured once "
        "by name)",
    )
    args = parser.parse_args(argv)

    if args.tune:
        tune(args.entries, args.eval, args.min_refusal)
        return 0
    if args.calibrate:
        calibrate(args.entries, args.eval, args.min_refusal, args.probability)
        return 0

    kb = KnowledgeBase.load(args.entries)
    items = load_eval(args.eval, kb.entries)
    results = run_benchmark(kb, items)
    text, delta = report(results, len(kb.entries))
    text += (
        "\n\n### off the shelf (information: the tools without this project's normaliser; ranking only)\n\n"
        + off_the_shelf_table(kb, items)
    )
    text += "\n\n" + situations_section(kb, args.situations, items)
    print(text)
    line = f"hybrid top-1 − best baseline top-1 = {delta:.1f} points (heldout)"
    print()
    print(line)
    if args.write_docs:
        print("\n<!-- BEGIN bench_qa (generated by python -m tests.benchmarks.bench_qa --write-docs) -->")
        print(text)
        print()
        print(line)
        print("<!-- END bench_qa -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
