"""Question-matching benchmark: hybrid matcher vs. the two single-signal baselines.

Run from the repository root::

    python -m tests.benchmarks.bench_qa                # dev and held-out tables, latency
    python -m tests.benchmarks.bench_qa --write-docs   # also print the block for docs/benchmarks.md
    python -m tests.benchmarks.bench_qa --tune         # grid search on the DEV split only

The held-out split is reported, never used for tuning: ``--tune`` reads only
``split: dev`` items. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import itertools
import platform
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
from rapidfuzz import fuzz, process, utils

from knowledge.evaluate import (
    EvalItem,
    Metrics,
    breakdown,
    compute_metrics,
    format_latency_table,
    format_metrics_table,
    load_eval,
    run_matcher,
)
from knowledge.matcher import KnowledgeBase, MatchParams, MatchResult, ScoredEntry

MATCHERS = ("hybrid", "bm25-only", "fuzzy-only")


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
    top1, mrr, p, scores = results[0]
    # The confidence rule also needs p.min_terms known query words: apply it before tuning.
    index = KnowledgeBase(base.entries, params=p).index
    known = [index.features(i.q, p).known_terms for i in items]
    scores = [s if k >= p.min_terms else np.zeros_like(s) for s, k in zip(scores, known, strict=True)]
    t, m, stats = tune_thresholds(scores, expect, min_refusal)
    print(f"\nhybrid: threshold={t} margin={m} {stats}")
    print(f"  -> {replace(p, threshold=t, margin=m)}")

    for name, bp in (("bm25-only", base.bm25_params), ("fuzzy-only", base.fuzzy_params)):
        index = KnowledgeBase(base.entries, params=bp).index
        scores = [index.combine(index.features(i.q, bp), bp) for i in items]
        t, m, stats = tune_thresholds(scores, expect, min_refusal)
        top1, mrr = _ranking_quality(scores, expect)
        print(f"{name}: top1={100 * top1:.1f} threshold={t} margin={m} {stats}")


def calibrate(entries_path: Path | None, eval_path: Sequence[Path] | None, min_refusal: float, folds: int = 5) -> None:
    """Re-fit only the confidence rule (threshold, margin, min_terms) of the current weights on dev questions.

    Prints the current rule and the best rule on the whole file, then a k-fold cross-validation (fit on
    k-1 folds, measure the held fold) so that the gain can be judged on questions the fit did not see.
    """
    kb = KnowledgeBase.load(entries_path)
    p = kb.params
    items = [i for i in load_eval(eval_path, kb.entries) if i.split == "dev"]
    order = sorted(kb.entries)
    expect = [None if i.expect is None else order.index(i.expect) for i in items]
    index = kb.index
    feats = [index.features(i.q, p) for i in items]
    raw = [index.combine(f, p) for f in feats]
    known = np.array([f.known_terms for f in feats])
    print(f"calibrating on {len(items)} dev questions ({sum(e is not None for e in expect)} in scope)")

    def gated(min_terms: int, idx: Sequence[int]) -> list[np.ndarray]:
        return [raw[k] if known[k] >= min_terms else np.zeros_like(raw[k]) for k in idx]

    def stats(t: float, m: float, min_terms: int, idx: Sequence[int]) -> dict[str, float]:
        best, s1, s2 = _decide_arrays(gated(min_terms, idx))
        exp = np.array([-1 if expect[k] is None else expect[k] for k in idx])
        conf = (s1 >= t) & (s1 - s2 >= m)
        ins = exp >= 0
        return {
            "answered": float(conf[ins].mean()),
            "correct": float((conf & ins & (best == exp)).sum() / max(ins.sum(), 1)),
            "wrong": float((conf & ins & (best != exp)).sum() / max(ins.sum(), 1)),
            "refusal": float((~conf[~ins]).mean()) if (~ins).any() else 1.0,
        }

    def fit(idx: Sequence[int]) -> tuple[float, float, int]:
        best: tuple[float, tuple[float, float, int]] | None = None
        for min_terms in (1, 2, 3):
            t, m, st = tune_thresholds(gated(min_terms, idx), [expect[k] for k in idx], min_refusal)
            if st:
                objective = st["correct"] - 2 * st["wrong"] + 0.5 * st["refusal"]
                if best is None or objective > best[0] + 1e-9:
                    best = (objective, (t, m, min_terms))
        return best[1] if best else (p.threshold, p.margin, p.min_terms)

    def show(label: str, st: dict[str, float]) -> None:
        print(f"  {label}: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in st.items()))

    everything = range(len(items))
    show(
        f"current  threshold={p.threshold} margin={p.margin} min_terms={p.min_terms}",
        stats(p.threshold, p.margin, p.min_terms, everything),
    )
    t, m, mt = fit(everything)
    show(f"best fit threshold={t} margin={m} min_terms={mt}", stats(t, m, mt, everything))
    rng = np.random.default_rng(0)
    fold_of = rng.permutation(len(items)) % folds
    cur: list[dict[str, float]] = []
    new: list[dict[str, float]] = []
    for k in range(folds):
        train = [i for i in everything if fold_of[i] != k]
        test = [i for i in everything if fold_of[i] == k]
        ft, fm, fmt = fit(train)
        print(f"  fold {k}: fitted threshold={ft} margin={fm} min_terms={fmt}")
        cur.append(stats(p.threshold, p.margin, p.min_terms, test))
        new.append(stats(ft, fm, fmt, test))
    for label, runs in (("cross-validated, current rule", cur), ("cross-validated, refitted rule", new)):
        show(label, {key: float(np.mean([r[key] for r in runs])) for key in runs[0]})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=Path, default=None, help="entries folder (default: knowledge/entries)")
    parser.add_argument("--eval", type=Path, nargs="+", default=None, help="evaluation files (default: dev + held-out)")
    parser.add_argument("--write-docs", action="store_true", help="print the block for docs/benchmarks.md")
    parser.add_argument("--tune", action="store_true", help="grid-search weights/thresholds on dev")
    parser.add_argument("--calibrate", action="store_true", help="re-fit only the confidence rule on dev (k-fold)")
    parser.add_argument("--min-refusal", type=float, default=0.95, help="dev refusal floor when tuning")
    args = parser.parse_args(argv)

    if args.tune:
        tune(args.entries, args.eval, args.min_refusal)
        return 0
    if args.calibrate:
        calibrate(args.entries, args.eval, args.min_refusal)
        return 0

    kb = KnowledgeBase.load(args.entries)
    items = load_eval(args.eval, kb.entries)
    results = run_benchmark(kb, items)
    text, delta = report(results, len(kb.entries))
    text += (
        "\n\n### off the shelf (information: the tools without this project's normaliser; ranking only)\n\n"
        + off_the_shelf_table(kb, items)
    )
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
