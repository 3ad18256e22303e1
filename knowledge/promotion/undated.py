"""A verdict that does not wait for the programme's dates when they cannot change it.

Two cases: no dates at all (:func:`undated_verdict`), and a start without an end for a form with no amount to
cap (:func:`open_end_verdict`: «từ 1/8 tích điểm đổi quà, chưa biết khi nào kết thúc» is notified whatever the
end; the end is asked at the end of the answer). :func:`early_verdict` is either.

«Nhà em nấu rượu 40 độ, muốn mua 5 tặng 1» or «cá tươi cuối ngày giảm 70 %» need no dates: spirits may never be
promoted, fresh food has no discount cap. The verdict is given at once when the goods are banned outright or have
no discount cap, nothing else is missing, and the rules that apply from today and from every cut-over of the next
year give the same cap, filing, authority and ban; otherwise the dates are asked as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from knowledge.promotion import texts
from knowledge.promotion.extract import NO_AMOUNT, banned_outright, missing_of, no_cap
from knowledge.promotion.rules import default_rules
from knowledge.promotion.verdict import CampaignWindow, Verdict, check_promotion

__all__ = ["early_verdict", "open_end_verdict", "undated_verdict"]

#: The summary fields that must not change with the dates.
_STABLE = ("cap", "filing", "authority", "banned")
#: How far ahead the cut-overs are looked at.
_AHEAD = timedelta(days=365)


def undated_verdict(plan: Mapping[str, Any], windows: Iterable[CampaignWindow], today: date) -> Verdict | None:
    """The verdict on a plan told without dates when no date could change it, else ``None``."""
    if not plan.get("forms") or (plan.get("start") and plan.get("end")):
        return None
    banned = banned_outright(dict(plan))
    if not banned and (plan.get("start") or plan.get("end") or not no_cap(dict(plan))):
        return None  # banned goods whatever part of the dates was told; uncapped goods with none told
    if set(missing_of(dict(plan))) - {"start", "end"}:
        return None
    windows = list(windows)
    first = date.fromisoformat(str(plan["start"])[:10]) if plan.get("start") else today
    days = [first, *(d for d in default_rules().cutovers() if first < d <= first + _AHEAD)]
    verdicts = [check_promotion({**plan, "start": d.isoformat(), "end": d.isoformat(), "undated": True}, windows, today)
                for d in days]  # fmt: skip
    first = verdicts[0].summary()
    if any(any(v.summary()[k] != first[k] for k in _STABLE) for v in verdicts[1:]):
        return None
    return verdicts[0] if verdicts[0].complete else None


def open_end_verdict(plan: Mapping[str, Any], windows: Iterable[CampaignWindow], today: date) -> Verdict | None:
    """The verdict so far on a programme of uncapped forms with a start and no end: its filing, goods and duties,
    then the question for the end (the result report of a draw waits for it)."""
    forms = plan.get("forms") or []
    if not plan.get("start") or plan.get("end") or not forms or set(forms) - set(NO_AMOUNT):
        return None
    if set(missing_of(dict(plan))) - {"end"}:
        return None
    verdict = check_promotion({**plan, "end": plan["start"], "open_end": True}, list(windows), today)
    if verdict.plan is None or verdict.regime is None:
        return None
    points = tuple(p for p in verdict.points if p.topic not in ("report", "warning"))
    return Verdict(verdict.plan, verdict.regime, points, (*verdict.questions, texts.Q_NO_END))


def early_verdict(plan: Mapping[str, Any], windows: Iterable[CampaignWindow], today: date) -> Verdict | None:
    """:func:`undated_verdict` or :func:`open_end_verdict`, whichever applies."""
    windows = list(windows)
    return undated_verdict(plan, windows, today) or open_end_verdict(plan, windows, today)
