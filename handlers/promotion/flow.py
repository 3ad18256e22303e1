"""The guided promotion check: form → amounts → dates → places → goods, then the verdict.

The draft plan is the conversation row (``data["plan"]``), so a restart resumes at the step. Every step takes a
button or a typed answer (read by the same free-text readers as a whole message), and offers «Quay lại» and
«Hủy». Started from free text (``data["guided"]`` false), the flow asks only what the verdict still needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from handlers import texts as core_texts
from handlers.core import Context, Flow
from handlers.matching import fold_text, pick_option
from handlers.promotion import texts
from handlers.promotion.check import STEPS, campaign_windows, outcome_of, question, step_of
from handlers.types import Button
from knowledge.promotion.calendar import local, main_events, tet_window
from knowledge.promotion.dates import read_dates
from knowledge.promotion.extract import folded, missing_of, read_amounts, read_forms, read_goods, validate
from knowledge.promotion.places import PROVINCES, find_places

FLOW = "check"
BACK_WORDS = frozenset({"quay lai", "tro lai", "back", "lui"})
RESUME_GAP = timedelta(minutes=30)
_PLACE_KEYS = ("provinces", "online", "platform_only", "platform_maybe")


class CheckFlow(Flow):
    name = FLOW

    def ttl(self, ctx: Context) -> timedelta:
        """A check half answered is kept like a complaint draft, so it survives a restart or a pause."""
        return timedelta(hours=ctx.config.limits.draft_hours)

    def goto(self, ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
        data = dict(data if data is not None else ctx.data)
        data["t"] = ctx.now.isoformat()
        super().goto(ctx, step, data)

    async def begin(self, ctx: Context) -> None:
        ctx.reply(texts.INTRO)
        self.goto(ctx, "form", {"plan": {}, "guided": True, "trail": []})
        await self.reprompt(ctx)

    async def resume_from(self, ctx: Context, plan: dict[str, Any], step: str, text: str) -> None:
        """Free text read into *plan*: say what was understood and continue at *step* (only what is missing)."""
        self.goto(ctx, step, {"plan": plan, "guided": False, "trail": []})
        ctx.reply(text, self._buttons(ctx, step, plan))

    async def reprompt(self, ctx: Context) -> None:
        assert ctx.state is not None
        plan = ctx.data.get("plan", {})
        ctx.reply(question(ctx.state.step, plan), self._buttons(ctx, ctx.state.step, plan))

    # -- buttons ------------------------------------------------------------------------------------------
    def _buttons(self, ctx: Context, step: str, plan: dict[str, Any]) -> list[list[Button]]:
        province = ctx.config.department.province
        rows: list[list[Button]] = []
        if step == "form":
            rows = [[self.button(label, f"f:{key}")] for key, label in texts.FORM_BUTTONS]
        elif step == "amount":
            form = next((f for f in plan.get("forms", []) if f in texts.AMOUNT_BUTTONS), "discount")
            choices = texts.AMOUNT_BUTTONS[form]
            rows = [[self.button(label, f"a:{key}") for key, label in choices]] if choices else []
        elif step == "dates":
            rows = [[self.button(name, f"d:{code}")] for name, code in self._occasions(ctx)]
        elif step == "place":
            rows = [[self.button(label.format(province=province), f"p:{key}")] for key, label in texts.PLACE_BUTTONS]
        elif step == "goods":
            rows = [[self.button(label, f"g:{key}")] for key, label in texts.GOODS_BUTTONS]
        return [*rows, [self.button(texts.BACK, "back"), self.button(texts.CANCEL, "cancel")]]

    def _occasions(self, ctx: Context) -> list[tuple[str, str]]:
        """Upcoming configured campaign windows and the next Tết window, as (label, code)."""
        now = local(ctx.now)
        found = [(name, s, e) for name, s, e in main_events(campaign_windows(ctx.config)) if local(e) > now][:2]
        tet = tet_window(now.year) if tet_window(now.year).end > now else tet_window(now.year + 1)
        found.append((f"Dịp {tet.name} (30 ngày trước mùng 1)", tet.start, tet.end))
        out = []
        for name, start, end in found:
            start, end = local(start), local(end)
            last = end - timedelta(microseconds=1) if end.time() == dtime(0) else end  # 24:00 is the day before
            out.append((f"📅 {name}: {start:%d/%m} – {last:%d/%m/%Y}", f"{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"))
        return out

    # -- answers ------------------------------------------------------------------------------------------
    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        step, data = ctx.state.step, ctx.data
        answer = ctx.arg if ctx.payload else ""
        last = data.get("t")
        if last and ctx.now - datetime.fromisoformat(last) >= RESUME_GAP:
            ctx.reply(texts.RESUMED)
        if answer == "cancel":
            ctx.finish()
            ctx.reply(texts.CANCELLED, core_texts.menu_buttons())
            return
        if answer == "back" or (not answer and fold_text(ctx.text) in BACK_WORDS):
            trail = list(data.get("trail", []))
            previous = trail.pop() if trail else step
            self.goto(ctx, previous, {**data, "trail": trail})
            await self.reprompt(ctx)
            return
        plan = dict(data.get("plan", {}))
        problem = _READERS[step](ctx, plan, answer, ctx.text, data)
        if problem:
            ctx.reply(problem)
            await self.reprompt(ctx)
            return
        await self._advance(ctx, step, plan, data)

    async def _advance(self, ctx: Context, step: str, plan: dict[str, Any], data: dict[str, Any]) -> None:
        guided = bool(data.get("guided"))
        following = _next_guided(step, plan, data) if guided else step_of(missing_of(plan))
        trail = [*data.get("trail", []), step]
        if following is None:
            today = local(ctx.now).date()
            outcome = outcome_of(plan, campaign_windows(ctx.config), today, validate(dict(plan)))
            if outcome.complete:
                ctx.finish()
                ctx.reply(outcome.text, core_texts.menu_buttons())
                return
            following = outcome.step or "dates"
            ctx.reply(outcome.text.rsplit("\n", 1)[0] if outcome.verdict is None else outcome.text)
        self.goto(ctx, following, {**data, "plan": plan, "trail": trail})
        await self.reprompt(ctx)


def _next_guided(step: str, plan: dict[str, Any], data: dict[str, Any]) -> str | None:
    missing = missing_of(plan)
    wanted = {
        "form": "forms" in missing,
        "amount": "amount" in missing,
        "dates": "start" in missing or "end" in missing,
        "place": not any(plan.get(k) for k in _PLACE_KEYS) and not plan.get("place_asked"),
        "goods": not plan.get("goods_asked"),
        "degrees": "beer" in (plan.get("goods") or []) and plan.get("alcohol_degrees") is None,  # asked here only
    }
    return next((s for s in STEPS[STEPS.index(step) + 1 :] if wanted[s]), None)


# -- step readers: fill *plan*, or return the problem to say ---------------------------------------------------
def _form(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    forms = [answer[2:]] if answer.startswith("f:") else read_forms(folded(text))
    if not forms:
        key = pick_option(text, dict(texts.FORM_BUTTONS))
        forms = [key] if key else []
    if not forms or any(f not in dict(texts.FORM_BUTTONS) for f in forms):
        return texts.NOT_FORM
    plan["forms"] = forms
    if not answer:
        numbers, _ = read_amounts(folded(text), forms)
        plan.update(numbers)
    return None


def _amount(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    if answer.startswith("a:"):
        key = answer[2:]
        if "-" in key:
            buy, free = key.split("-")
            plan.update(buy_quantity=float(buy), free_quantity=float(free))
        else:
            plan["discount_percent"] = float(key)
        return None
    numbers, problems = read_amounts(folded(text), plan.get("forms", []))
    if problems:
        return problems[0]
    if not numbers:
        return texts.NOT_AMOUNT
    plan.update(numbers)
    return None


def _dates(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    if answer.startswith("d:"):
        start, _, end = answer[2:].partition("-")
        plan["start"] = datetime.strptime(start, "%Y%m%d%H%M").strftime("%Y-%m-%dT%H:%M")
        plan["end"] = datetime.strptime(end, "%Y%m%d%H%M").strftime("%Y-%m-%dT%H:%M")
        return None
    found = read_dates(folded(text), local(ctx.now), campaign_windows(ctx.config))
    if found.problems:
        return found.problems[0]
    if not found.start or not found.end:
        return texts.NOT_DATES
    trial = {**plan, "start": found.start, "end": found.end}
    problems = validate(trial)
    if problems:
        return problems[0]
    plan.update(start=found.start, end=found.end)
    return None


def _place(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    for key in _PLACE_KEYS:
        plan.pop(key, None)
    province = ctx.config.department.province
    if answer.startswith("p:"):
        choice = answer[2:]
        plan["provinces"] = [province] if choice in ("home", "online") else []
        plan["online"] = choice in ("platform", "online")
        plan["platform_only"] = choice == "platform"
        if choice == "nation":
            plan["provinces"] = list(PROVINCES)
        plan["place_asked"] = True
        return None
    day = plan.get("start", "")[:10] or None
    places = find_places(text, datetime.fromisoformat(day).date() if day else None)
    f = folded(text)
    online = any(w in f for w in ("online", "truc tuyen", "shopee", "lazada", "tiktok", "san", "website"))
    if not places and not online and "toan quoc" not in f:
        return texts.NOT_PLACE
    plan["provinces"] = places or (list(PROVINCES) if "toan quoc" in f and not online else [])
    plan["online"] = online
    plan["platform_only"] = online and "chi" in f.split()
    plan["place_asked"] = True
    return None


def _goods(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    if answer.startswith("g:"):
        key = answer[2:]
        plan["goods"] = [] if key == "none" else [key]
    else:
        goods, degrees = read_goods(folded(text))
        plan["goods"] = goods
        if degrees is not None:
            plan["alcohol_degrees"] = degrees
    plan["goods_asked"] = True
    return None


def _degrees(ctx: Context, plan: dict[str, Any], answer: str, text: str, data: dict[str, Any]) -> str | None:
    f = folded(text).replace(",", ".")
    digits = "".join(ch for ch in f if ch in "0123456789.").strip(".")
    try:
        value = float(digits)
    except ValueError:
        return texts.NOT_DEGREES
    if not 0 <= value <= 100:
        return texts.NOT_DEGREES
    plan["alcohol_degrees"] = value
    return None


_READERS = {
    "form": _form,
    "amount": _amount,
    "dates": _dates,
    "place": _place,
    "goods": _goods,
    "degrees": _degrees,
}
