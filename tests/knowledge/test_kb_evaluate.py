from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeError
from knowledge.evaluate import (
    EvalItem,
    breakdown,
    compute_metrics,
    format_latency_table,
    format_metrics_table,
    load_eval,
    run_matcher,
)

EVAL = """\
- q: "Online Friday được giảm giá tối đa bao nhiêu phần trăm?"
  expect: giam-gia-toi-da-online-friday
  split: dev
  form: accented
- q: "dang ky tham gia online friday o dau"
  expect: dang-ky-tham-gia-online-friday
  split: heldout
  form: unaccented
- q: "gia vang hom nay"
  expect: null
  split: dev
  form: unaccented
- q: "tb km vs sct ntn"
  expect: thong-bao-khuyen-mai-so-cong-thuong
  split: dev
  form: typo
"""


def test_load_eval_and_metrics(tmp_path: Path, fixture_kb: KnowledgeBase) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(EVAL, encoding="utf-8")
    items = load_eval(path, fixture_kb.entries)
    assert len(items) == 4
    assert items[2] == EvalItem("gia vang hom nay", None, "dev", "unaccented")

    outcomes = run_matcher(fixture_kb.match, items)
    m = compute_metrics(outcomes)
    assert m.n_in == 3 and m.n_oos == 1
    assert m.top1 == 1.0 and m.top3 == 1.0 and m.mrr == 1.0
    assert m.refusal == 1.0
    assert m.answered == 1.0 and m.wrong == 0.0
    assert 0 < m.p50_ms <= m.p95_ms

    rows = breakdown("hybrid", outcomes)
    assert [(r[1], r[2]) for r in rows] == [
        ("dev", "all"),
        ("dev", "accented"),
        ("dev", "unaccented"),
        ("dev", "typo"),
        ("heldout", "all"),
        ("heldout", "unaccented"),
    ]
    table = format_metrics_table(rows)
    assert table.startswith("| matcher | split | form |")
    assert "| hybrid | dev | all | 2 | 100.0 |" in table
    assert "| hybrid |" in format_latency_table([("hybrid", m)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {q: x, expect: khong-co, split: dev, form: accented}\n", "khong-co"),
        ("- {q: x, expect: null, split: test, form: accented}\n", "split"),
        ("- {q: x, expect: null, split: dev, form: teencode}\n", "form"),
        ("- {expect: null, split: dev, form: accented}\n", "'q'"),
        ("q: x\n", "danh sách"),
    ],
)
def test_load_eval_rejects_bad_items(tmp_path: Path, fixture_kb: KnowledgeBase, text: str, message: str) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_eval(path, fixture_kb.entries)
