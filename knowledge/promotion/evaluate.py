"""Evaluation of the first reply to situation messages (the promotion check and the Q&A together).

Items (``tests/data/situations_*.yaml``): ``{id, kind, today, message, expect}`` with ``kind`` one of
``promotion_check``, ``situation``, ``out_of_scope``, ``near_miss`` and ``expect`` holding any of ``cap``,
``limit``, ``filing``, ``authority``, ``banned``, ``fields {forms, discount_percent | percent, start, end,
provinces_count}``, ``missing``, ``entries``, ``refuse`` (absent keys are not graded).

The reply is what the chat sends first: a message that :func:`looks_like_plan` gets the verdict (confident only when
complete) or a question for what is missing; anything else goes to the knowledge base (confident or not). Metrics:

* extraction accuracy per field (the reader run on every item that names the field);
* verdict accuracy: items with verdict keys whose verdict has them all right;
* answered and right: in-scope items (promotion_check, situation) answered as expected — a complete verdict with
  the right fields, the right question when something is missing, a confident answer from an expected entry;
* confidently wrong: items given a confident reply that is not right (out of scope included);
* refusal on out-of-scope and near-miss items; latency p50 / p95 of one reply (milliseconds).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import yaml

from knowledge.promotion import Verdict, check_promotion
from knowledge.promotion.calendar import TZ, local
from knowledge.promotion.dates import CampaignWindow
from knowledge.promotion.extract import Reading, looks_like_plan, read_plan
from knowledge.promotion.undated import early_verdict

__all__ = ["Result", "SituationItem", "Summary", "evaluate", "format_summary", "load_situations", "reply"]

KINDS = ("promotion_check", "situation", "out_of_scope", "near_miss")
VERDICT_KEYS = ("cap", "limit", "filing", "authority", "banned")
FIELDS = ("forms", "discount_percent", "start", "end", "provinces_count")
_MISSING_ALIASES = {
    "form": "forms",
    "forms": "forms",
    "start": "dates",
    "end": "dates",
    "date": "dates",
    "dates": "dates",
    "time": "dates",
    "place": "place",
    "places": "place",
    "provinces": "place",
    "provinces_count": "place",
    "province": "place",
    "degrees": "degrees",
    "alcohol_degrees": "degrees",
    **dict.fromkeys(
        ("amount", "amounts", "percent", "discount_percent", "value", "gift_value", "voucher_value", "price"),
        "amount",
    ),
    **dict.fromkeys(("order_value", "sale_price", "buy_quantity", "free_quantity", "quantity"), "amount"),
}


@dataclass(frozen=True)
class SituationItem:
    id: str
    kind: str
    today: datetime
    message: str
    expect: dict[str, Any]


@dataclass
class Result:
    item: SituationItem
    plan: bool  # taken by the promotion check
    confident: bool
    right: bool
    latency_ms: float
    reading: Reading | None = None
    verdict: Verdict | None = None
    entry: str | None = None
    wrong: list[str] = field(default_factory=list)  # what did not match, for the report


def _moment(value: Any) -> datetime:
    """The item's clock: a date is 09:00 that day in Vietnam."""
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, date):
        return datetime.combine(value, clock(9), tzinfo=TZ)
    text = str(value)
    return _moment(datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text))


def load_situations(path: Path | str) -> list[SituationItem]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    items = raw.get("items", []) if isinstance(raw, dict) else raw
    out = []
    for row in items:
        if row.get("kind") not in KINDS:
            raise ValueError(f"{row.get('id')}: unknown kind {row.get('kind')!r}")
        moment = _moment(row["today"])
        out.append(SituationItem(str(row["id"]), row["kind"], moment, str(row["message"]), row["expect"] or {}))
    return out


def reply(
    message: str, now: datetime, windows: Sequence[CampaignWindow], kb: Any
) -> tuple[Reading | None, Verdict | None, Any]:
    """The chat's first reply: (reading, verdict or None) for a plan, else (None, None, the KB's match)."""
    if looks_like_plan(message, now):
        reading = read_plan(message, now, windows)
        verdict = None
        if not reading.problems and reading.plan.get("forms") and reading.plan.get("start") and reading.plan.get("end"):
            verdict = check_promotion(reading.plan, windows, now.date())
        elif not reading.problems:  # banned or uncapped goods: the dates change nothing
            verdict = early_verdict(reading.plan, windows, now.date())
        return reading, verdict, None
    return None, None, kb.match(message) if kb is not None else None


def _norm_missing(values: Sequence[str]) -> set[str]:
    return {_MISSING_ALIASES.get(str(v), str(v)) for v in values}


def _same_day(expected: Any, got: Any, *, end: bool) -> bool:
    """Dates compare by the day (and the time when the expectation gives one); an end at 00:00 is the day before."""
    if expected is None or got is None:
        return expected == got
    exp, value = str(expected), str(got)
    if end and value.endswith("T00:00") and "T" not in exp:
        value = (date.fromisoformat(value[:10]) - timedelta(days=1)).isoformat()
    return value[: len(exp)] == exp if "T" in exp else value[:10] == exp[:10]


def field_right(name: str, expected: Any, got: Any) -> bool:
    if name == "forms":
        return sorted(expected or []) == sorted(got or [])
    if name in ("discount_percent", "percent"):
        if expected is None or got is None:
            return expected is None and got is None
        return abs(float(expected) - float(got)) < 0.05
    if name in ("start", "end"):
        return _same_day(expected, got, end=name == "end")
    return expected == got


def verdict_right(expect: dict[str, Any], verdict: Verdict | None) -> list[str]:
    """The verdict keys of *expect* that the verdict gets wrong (all of them without a verdict)."""
    keys = [k for k in VERDICT_KEYS if k in expect]
    if verdict is None:
        return keys
    summary = verdict.summary()
    wrong = []
    for key in keys:
        want, got = expect[key], summary.get(key)
        if key in ("filing", "authority"):
            want = sorted([want] if isinstance(want, str) else want)
        if key == "filing":  # an exemption is a "none" duty with its reason (the notify / register / none)
            want, got = _duties(want), _duties(got)
        ok = got is not None and abs(float(got) - float(want)) < 0.05 if key == "limit" else got == want
        if not ok:
            wrong.append(f"{key}: want {want!r}, got {got!r}")
    return wrong


def _duties(values: Any) -> list[str] | None:
    return None if values is None else sorted({"none" if v == "exempt" else v for v in values})


def grade(item: SituationItem, windows: Sequence[CampaignWindow], kb: Any) -> Result:
    started = time.perf_counter()
    reading, verdict, match = reply(item.message, item.today, windows, kb)
    latency = (time.perf_counter() - started) * 1000
    expect = item.expect
    plan = reading is not None
    complete = verdict is not None and verdict.complete
    entry = match.best.id if match is not None and match.best is not None else None
    confident = complete if plan else entry is not None
    result = Result(item, plan, confident, False, latency, reading, verdict, entry)
    wrong = result.wrong
    if expect.get("refuse"):
        result.right = not confident
        return result
    if item.kind == "situation":
        result.right = confident and entry in expect.get("entries", [])
        return result
    wrong += verdict_right(expect, verdict)
    if "missing" in expect:
        got = _norm_missing(reading.missing) if reading else {"(not a plan)"}
        if got != _norm_missing(expect["missing"]) or complete:
            wrong.append(f"missing: want {sorted(_norm_missing(expect['missing']))}, got {sorted(got)}")
    elif not complete and any(k in expect for k in VERDICT_KEYS):
        wrong.append("no complete verdict")
    result.right = plan and not wrong
    return result


@dataclass
class Summary:
    n: int
    fields: dict[str, tuple[int, int]]  # field -> (right, graded)
    verdict: tuple[int, int]
    answered_right: tuple[int, int]
    confidently_wrong: tuple[int, int]
    refusal: tuple[int, int]
    p50_ms: float
    p95_ms: float
    results: list[Result]


def _fields(items: Sequence[SituationItem], windows: Sequence[CampaignWindow]) -> dict[str, tuple[int, int]]:
    counts = {name: [0, 0] for name in FIELDS}
    for item in items:
        expected = item.expect.get("fields") or {}
        if not expected:
            continue
        got = read_plan(item.message, item.today, windows).fields()
        for name, want in expected.items():
            key = "discount_percent" if name == "percent" else name
            if key in counts:
                counts[key][1] += 1
                counts[key][0] += field_right(key, want, got.get(key))
    return {k: (v[0], v[1]) for k, v in counts.items()}


def evaluate(items: Sequence[SituationItem], windows: Sequence[CampaignWindow], kb: Any) -> Summary:
    for item in items[:5]:  # warm the caches before timing
        reply(item.message, item.today, windows, kb)
    results = [grade(item, windows, kb) for item in items]
    in_scope = [r for r in results if r.item.kind in ("promotion_check", "situation")]
    refusing = [r for r in results if r.item.expect.get("refuse") or r.item.kind in ("out_of_scope", "near_miss")]
    with_verdict = [r for r in results if any(k in r.item.expect for k in VERDICT_KEYS)]
    latencies = sorted(r.latency_ms for r in results)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0
    return Summary(
        n=len(results),
        fields=_fields(items, windows),
        verdict=(sum(not verdict_right(r.item.expect, r.verdict) for r in with_verdict), len(with_verdict)),
        answered_right=(sum(r.right for r in in_scope), len(in_scope)),
        confidently_wrong=(sum(r.confident and not r.right for r in results), len(results)),
        refusal=(sum(not r.confident for r in refusing), len(refusing)),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=p95,
        results=results,
    )


def _pct(pair: tuple[int, int]) -> str:
    right, total = pair
    return f"{100 * right / total:.1f} % ({right}/{total})" if total else "–"


def format_summary(name: str, summary: Summary, *, failures: bool = False) -> str:
    lines = [
        f"### situations: {name} ({summary.n} messages)",
        "",
        "| metric | value |",
        "|---|---:|",
        *(f"| extraction: {field_name} | {_pct(pair)} |" for field_name, pair in summary.fields.items()),
        f"| verdict accuracy | {_pct(summary.verdict)} |",
        f"| answered and right (in scope) | {_pct(summary.answered_right)} |",
        f"| confidently wrong (all) | {_pct(summary.confidently_wrong)} |",
        f"| refusal (out of scope, near misses) | {_pct(summary.refusal)} |",
        f"| latency p50 / p95 (ms, one reply) | {summary.p50_ms:.2f} / {summary.p95_ms:.2f} |",
    ]
    if failures:
        for r in summary.results:
            if not r.right:
                how = "plan" if r.plan else f"qa:{r.entry}"
                lines.append(f"- {r.item.id} [{how}, confident={r.confident}] {'; '.join(r.wrong)}")
    return "\n".join(lines)
