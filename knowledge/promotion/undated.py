"""A verdict that does not wait for the programme's dates when they cannot change it.

«Nhà em nấu rượu 40 độ, muốn mua 5 tặng 1» or «cá tươi cuối ngày giảm 70 %» need no dates: spirits may never be
promoted, fresh food has no discount cap. The verdict is given at once when the goods are banned outright or have
no discount cap, nothing else is missing, and the rules that apply from today and from every cut-over of the next
year give the same cap, filing, authority and ban; otherwise the dates are asked as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from knowledge.promotion.extract import banned_outright, missing_of, no_cap
from knowledge.promotion.rules import default_rules
from knowledge.promotion.verdict import CampaignWindow, Verdict, check_promotion

__all__ = ["undated_verdict"]

#: The summary fields that must not change with the dates.
_STABLE = ("cap", "filing", "authority", "banned")
#: How far ahead the cut-overs are looked at.
_AHEAD = timedelta(days=365)


def undated_verdict(plan: Mapping[str, Any], windows: Iterable[CampaignWindow], today: date) -> Verdict | None:
    """The verdict on a plan told without dates when no date could change it, else ``None``."""
    if plan.get("start") or plan.get("end") or not plan.get("forms"):
        return None
    if not (banned_outright(dict(plan)) or no_cap(dict(plan))):
        return None
    if set(missing_of(dict(plan))) - {"start", "end"}:
        return None
    windows = list(windows)
    days = [today, *(d for d in default_rules().cutovers() if today < d <= today + _AHEAD)]
    verdicts = [check_promotion({**plan, "start": d.isoformat(), "end": d.isoformat(), "undated": True}, windows, today)
                for d in days]  # fmt: skip
    first = verdicts[0].summary()
    if any(any(v.summary()[k] != first[k] for k in _STABLE) for v in verdicts[1:]):
        return None
    return verdicts[0] if verdicts[0].complete else None
