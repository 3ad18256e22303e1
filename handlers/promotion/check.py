"""The promotion check shared by every way in (the guided flow, free text in the Q&A, ``python -m bot check`` and
``python -m bot ask``): the configured campaign windows, a message read into a plan, and the one verdict.

Windows: each configured campaign's events (the 60 hours of Online Friday and the e-commerce week around them; the
2024 plan states its 100 % caps for the whole programme) are the concentrated-programme windows the verdict allows
100 % in. Tết and the statutory holidays the library computes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from handlers.config import AppConfig
from handlers.promotion import texts
from knowledge.promotion import Verdict, check_promotion
from knowledge.promotion.calendar import SideWindow, local
from knowledge.promotion.extract import Reading, missing_of, read_plan
from knowledge.promotion.texts import Q_PLATFORM_ONLY
from knowledge.promotion.undated import early_verdict

__all__ = ["STEPS", "Outcome", "campaign_windows", "check_text", "outcome_of", "step_of"]

Window = tuple[str, datetime, datetime]
#: The guided flow's questions in order; free text asks only the first that is missing.
STEPS = ("form", "amount", "dates", "place", "goods", "degrees")
_STEP_OF = {
    "forms": "form",
    "amount": "amount",
    "start": "dates",
    "end": "dates",
    "place": "place",
    "degrees": "degrees",
}


def campaign_windows(config: AppConfig) -> list[Window]:
    """(name, start, end) of each configured campaign's main event, then, as :class:`SideWindow`, the campaign's
    other events that enclose it (the e-commerce week around its 60 hours): all concentrated programmes."""
    out: list = [(c.main_event.name, c.main_event.start, c.main_event.end) for c in config.campaigns]
    for c in config.campaigns:
        main = c.main_event
        wider = [e for e in c.events if e is not main and e.start <= main.start and main.end <= e.end]
        out += [SideWindow((e.name, e.start, e.end)) for e in wider]
    return out


@dataclass
class Outcome:
    """What the first reply to a plan is: the verdict when complete, else what was understood and one question."""

    plan: dict[str, Any]
    verdict: Verdict | None
    step: str | None  # the step to ask next, None when the verdict is complete
    text: str

    @property
    def complete(self) -> bool:
        return self.verdict is not None and self.verdict.complete

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "plan": self.plan,
            "missing": missing_of(self.plan),
            "ask": self.step,
            "verdict": self.verdict.to_dict() if self.verdict is not None else None,
            "text": self.text,
        }


def step_of(missing: list[str]) -> str | None:
    steps = [_STEP_OF[m] for m in missing if m in _STEP_OF]
    return min(steps, key=STEPS.index) if steps else None


def outcome_of(plan: dict[str, Any], windows: list[Window], today: date, problems: list[str] = (), notes=()) -> Outcome:
    """The verdict on *plan*, or (bad input, something missing) what to ask first."""
    early = None if problems else early_verdict(plan, windows, today)  # the dates could not change it (yet)
    if early is not None:
        return Outcome(plan, early, None if early.complete else "dates", early.render())
    missing = missing_of(plan)
    step = step_of(missing)
    if not problems and step not in ("form", "dates"):  # the verdict so far, its questions at the end
        verdict = check_promotion(plan, windows, today)
        if verdict.plan is not None:
            asked = "place" if Q_PLATFORM_ONLY in verdict.questions else "dates"  # "only through platforms?"
            return Outcome(plan, verdict, None if verdict.complete else (step or asked), verdict.render())
    lines = [texts.UNDERSTOOD.format(summary=texts.summary(plan))] if any(plan.get(k) for k in plan) else []
    lines += list(problems) + [_note(n) for n in notes if _note(n)]
    step = step or ("dates" if problems and plan.get("forms") else "form")  # a doubt on the window: dates again
    lines.append(question(step, plan))
    return Outcome(plan, None, step, "\n".join(lines))


def _note(code: str) -> str:
    if code.startswith("campaign-unknown:"):
        return texts.CAMPAIGN_UNKNOWN.format(name="Online Friday", year=code.split(":", 1)[1])
    return texts.AFTER_TET if code == "after-tet" else ""


def question(step: str, plan: dict[str, Any]) -> str:
    if step == "amount":
        form = next((f for f in plan.get("forms", []) if f in texts.Q_AMOUNT), "discount")
        return texts.Q_AMOUNT[form]
    return {
        "form": texts.Q_FORM,
        "dates": texts.Q_DATES,
        "place": texts.Q_PLACE,
        "goods": texts.Q_GOODS,
        "degrees": texts.Q_DEGREES,
    }[step]


def check_text(text: str, config: AppConfig, now: datetime) -> tuple[Reading, Outcome]:
    """A message read into a plan at *now* and its outcome: the one composer behind the chat and the CLI."""
    windows = campaign_windows(config)
    moment = local(now)
    reading = read_plan(text, moment, windows)
    outcome = outcome_of(reading.plan, windows, moment.date(), reading.problems, reading.notes)
    if outcome.verdict is not None and outcome.verdict.plan is not None:  # how the message was read, then the verdict
        outcome.text = texts.UNDERSTOOD.format(summary=texts.summary(reading.plan)) + "\n\n" + outcome.text
    return reading, outcome
