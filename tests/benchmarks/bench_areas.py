"""Area recognition under today's Đồng Nai: accuracy on the dev and held-out tables, and time per input.

Run from the repository root::

    python -m tests.benchmarks.bench_areas      # or: make bench-areas

Accuracy: a row is right when the one proposed unit is allowed, when one of several candidates is, when an
outside row is answered "outside" and nonsense "unknown" (tests/support/areas_eval.py); a "one" the truth does
not allow is confident wrong. Time: each input recognised ``REPEAT`` times after the index is built (the index is
built once per process, its time shown apart).
"""

from __future__ import annotations

import platform
import statistics
import time

from handlers.areas import _index, recognise
from tests.support.areas_eval import PROVINCE, Row, Score, load, score

REPEAT = 20


def _timings(rows: list[Row]) -> list[float]:
    samples = []
    for _ in range(REPEAT):
        for row in rows:
            start = time.perf_counter()
            recognise(row.text, PROVINCE)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def _line(name: str, result: Score) -> str:
    groups = ", ".join(f"{group} {right}/{total}" for group, (right, total) in result.by_group.items())
    return (
        f"| {name} | {result.total} | {result.right} ({result.accuracy:.1%}) | {result.confident_wrong} | "
        f"{result.nonsense_confident_wrong} | {groups} |"
    )


def main() -> None:
    start = time.perf_counter()
    _index.cache_clear()
    _index(PROVINCE)
    build = (time.perf_counter() - start) * 1000
    dev, heldout = load("areas_dev.yaml"), load("areas_heldout.yaml")
    results = {"dev": score(dev), "held-out": score(heldout)}
    print(f"Python {platform.python_version()} on {platform.machine()}; index built in {build:.0f} ms (once)")
    print("| table | inputs | right | confident wrong | of which nonsense | by group (right/total) |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        print(_line(name, result))
    samples = sorted(_timings(dev + heldout))
    p50 = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95)]
    print(f"\nper input over {len(samples)} calls: p50 {p50:.3f} ms, p95 {p95:.3f} ms, max {samples[-1]:.3f} ms")
    for name, result in results.items():
        for text, kind, ids in result.misses:
            print(f"miss ({name}): {text!r} → {kind} {', '.join(ids)}")


if __name__ == "__main__":
    main()
