"""The one verdict composer of a planned promotion: :func:`check_promotion`.

Every point is decided by the rule versions in force on the promotion's start date (a programme started
before a cut-over finishes under the rules it started with; the straddle is warned about). Caps are 100 %
only when the whole programme lies inside one concentrated window (a campaign passed in by the caller,
Tết, a statutory holiday's leave).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from knowledge.promotion import texts
from knowledge.promotion.calendar import TZ, Window, concentrated_windows, local, working_days_before
from knowledge.promotion.plan import Plan, parse_plan
from knowledge.promotion.rules import Regime, Rule, RuleSet, default_rules

__all__ = ["Point", "Verdict", "check_promotion"]

CampaignWindow = tuple[str, date | datetime, date | datetime]
_ORDER = {"over": 0, "banned": 0, "unknown": 1, "ok": 2, "info": 3}


@dataclass(frozen=True)
class Point:
    """One point of the verdict: topic, status, Vietnamese text, the basis and whether it is verified."""

    topic: str
    status: str
    text: str
    basis: str = ""
    verified: bool = True
    data: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> tuple[str, str, str]:
        text = self.text if self.verified else self.text + texts.VERIFY_SUFFIX
        return self.status, text, self.basis


@dataclass(frozen=True)
class Verdict:
    plan: Plan | None
    regime: Regime | None
    points: tuple[Point, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.plan is not None and self.regime is not None and not self.questions and not self.topic("open")

    @property
    def verify(self) -> bool:
        """True when a rule that may have changed ([VERIFY]) applies."""
        return any(not p.verified for p in self.points)

    def topic(self, name: str) -> list[Point]:
        return [p for p in self.points if p.topic == name]

    def summary(self) -> dict[str, Any]:
        """The structured fields the verdict cases assert on."""
        caps = self.topic("cap") + self.topic("cap-total")
        measured = [p for p in caps if "percent" in p.data]
        filings = self.topic("filing")
        goods = self.topic("goods")
        budget = self.topic("budget")
        return {
            "complete": self.complete,
            "regime": self.regime.id if self.regime else None,
            "cap": min((p.status for p in caps), key=_ORDER.__getitem__, default="none"),
            "limit": max((p.data["limit"] for p in caps if "limit" in p.data), default=None),
            "percent": max((p.data["percent"] for p in measured), default=None),
            "concentrated": next((p.data["window"] for p in caps if p.data.get("window")), None),
            "filing": sorted({p.data["duty"] for p in filings} - {"none"}) or ["none"],
            "authority": sorted({p.data["authority"] for p in filings if p.data.get("authority")}),
            "file_by": min((p.data["file_by"] for p in filings if p.data.get("file_by")), default=None),
            "report_by": next((p.data["report_by"] for p in self.topic("report")), None),
            "banned": any(p.status == "banned" for p in goods),
            "banned_items": sorted({g for p in goods for g in p.data.get("items", ())}),
            "budget_days": budget[0].data["counted"] if budget else None,
            "budget": budget[0].status if budget else None,
            "late": any(p.status == "over" for p in filings),
            "warnings": sorted(p.data["code"] for p in self.topic("warning")),
            "verify": self.verify,
        }

    def render(self) -> str:
        """The Vietnamese answer: each point with its basis and dates, then any questions."""
        if self.plan is None:
            return texts.render_lines("", [], self.questions).lstrip("\n")
        title = texts.T_TITLE.format(start=texts.vn_datetime(self.plan.start), end=texts.vn_end(self.plan.end))
        if self.plan.undated:
            title = texts.T_TITLE_UNDATED
        elif self.plan.open_end:
            title = texts.T_TITLE_OPEN_END.format(start=texts.vn_datetime(self.plan.start))
        return texts.render_lines(title, [p.line() for p in self.points], self.questions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "points": [
                {"topic": p.topic, "status": p.status, "text": p.line()[1], "basis": p.basis, "verified": p.verified}
                for p in self.points
            ],
            "questions": list(self.questions),
            "text": self.render(),
        }


@dataclass(frozen=True)
class _Context:
    plan: Plan
    rules: RuleSet
    day: date
    today: date
    fit: Window | None
    edges: tuple[Window, ...]

    def rule(self, rule_id: str) -> Rule:
        found = self.rules.rule(rule_id, self.day)
        if found is None:
            raise LookupError(f"no version of rule {rule_id} on {self.day}")
        return found

    def basis(self, rule: Rule) -> str:
        return texts.T_CITE.format(cite=self.rules.cite(rule), span=texts.span(rule.valid_from, rule.until))

    def point(self, topic: str, status: str, text: str, rule: Rule, **data: Any) -> Point:
        return Point(topic, status, text, self.basis(rule), rule.verified, data)


def _forms_text(forms: Iterable[str]) -> str:
    return ", ".join(texts.FORM_NAMES[f] for f in forms)


def _measure(plan: Plan, form: str) -> tuple[float, str] | None:
    """The promotion's percentage for *form* with its arithmetic, or ``None`` without the numbers."""
    n = plan.number
    price, percent, sale = n("price"), n("discount_percent"), n("sale_price")
    if form == "discount":
        if percent is not None:
            return percent, texts.pct(percent)
        if price and sale is not None:
            value = (1 - sale / price) * 100
            return value, texts.T_ARITH_DISCOUNT.format(
                price=texts.money(price), sale=texts.money(sale), pct=texts.pct(value)
            )
        return None
    buy, free = n("buy_quantity"), n("free_quantity")
    if form == "gift" and buy and free is not None:
        value = free / buy * 100
        return value, texts.T_ARITH_QTY.format(buy=f"{buy:g}", free=f"{free:g}", pct=texts.pct(value))
    voucher = form == "voucher"
    if voucher and n("voucher_value") is None and n("voucher_percent") is not None:  # "voucher giảm 30 %"
        return n("voucher_percent"), texts.pct(n("voucher_percent"))
    given = n("voucher_value") if voucher else n("gift_value")
    base = (n("order_value") or price) if voucher else price
    if given is None or not base:
        return None
    value = given / base * 100
    template = texts.T_ARITH_VOUCHER if voucher else texts.T_ARITH_GIFT
    return value, template.format(value=texts.money(given), price=texts.money(base), pct=texts.pct(value))


def _cap_points(ctx: _Context) -> list[Point]:
    plan = ctx.plan
    concentrated = ctx.rule("cap-concentrated")
    per_unit = ctx.rule("cap-per-unit")
    out: list[Point] = []
    no_cap = sorted(plan.goods & set(ctx.rule("cap-none").params["categories"]))
    exempt = [f for f in plan.forms if f in per_unit.params["exempt_forms"]]
    if exempt:
        out.append(ctx.point("cap", "ok", texts.T_EXEMPT.format(forms=_forms_text(exempt)), per_unit))
    for form in plan.forms:
        if form in exempt or form not in ("discount", "gift", "voucher"):
            continue
        if form == "discount" and no_cap:
            goods = ", ".join(texts.GOODS_NAMES[g] for g in no_cap)
            out.append(ctx.point("cap", "ok", texts.T_NO_CAP.format(goods=goods), ctx.rule("cap-none")))
            continue
        base = ctx.rule("cap-discount") if form == "discount" else per_unit
        out.append(_cap_point(ctx, form, base, concentrated))
    out.extend(_total_point(ctx, concentrated))
    return out


def _limit(ctx: _Context, base: Rule, concentrated: Rule) -> tuple[float, Rule, str]:
    if ctx.fit is not None:
        return concentrated.params["max_percent"], concentrated, texts.T_IN_WINDOW.format(name=ctx.fit.name)
    return base.params["max_percent"], base, texts.T_OUT_WINDOW


def _cap_point(ctx: _Context, form: str, base: Rule, concentrated: Rule) -> Point:
    limit, rule, where = _limit(ctx, base, concentrated)
    data: dict[str, Any] = {"form": form, "limit": limit, "window": ctx.fit.name if ctx.fit else None}
    measured = _measure(ctx.plan, form)
    name = texts.FORM_NAMES[form].capitalize()
    if measured is None:
        text = texts.T_CAP_UNKNOWN.format(form=name, limit=texts.pct(limit), where=where)
        return ctx.point("cap", "unknown", text, rule, **data)
    value, arith = measured
    status = "ok" if round(value, 6) <= limit else "over"
    template = texts.T_CAP_OK if status == "ok" else texts.T_CAP_OVER
    text = template.format(form=name, arith=arith, limit=texts.pct(limit), where=where)
    return ctx.point("cap", status, text, rule, percent=round(value, 1), **data)


def _total_point(ctx: _Context, concentrated: Rule) -> list[Point]:
    total_rule = ctx.rule("cap-programme-total")
    total, goods = ctx.plan.number("total_value"), ctx.plan.number("goods_value")
    capped = [f for f in ctx.plan.forms if f not in total_rule.params["exempt_forms"]]
    if not capped or total is None:
        return []
    limit, rule, _ = _limit(ctx, total_rule, concentrated)
    if not goods:  # the rule is said; the share needs the value of the promoted goods
        text = texts.T_TOTAL_RULE.format(total=texts.money(total), limit=texts.pct(limit))
        return [ctx.point("cap-total", "info", text, rule)]
    value = total / goods * 100
    status = "ok" if round(value, 6) <= limit else "over"
    template = texts.T_TOTAL_OK if status == "ok" else texts.T_TOTAL_OVER
    text = template.format(
        total=texts.money(total), goods=texts.money(goods), pct=texts.pct(value), limit=texts.pct(limit)
    )
    data = {"limit": limit, "percent": round(value, 1), "window": ctx.fit.name if ctx.fit else None}
    return [ctx.point("cap-total", status, text, rule, **data)]


def _places(plan: Plan) -> str:
    return f" ({', '.join(plan.provinces)})" if plan.provinces else ""


def _notify_point(ctx: _Context) -> list[Point]:
    plan = ctx.plan
    forms_rule, lead = ctx.rule("notify-forms"), ctx.rule("notify-lead")
    due = [f for f in plan.forms if f in forms_rule.params["forms"]]
    if not due:
        others = [f for f in plan.forms if f not in ("lucky_draw", "other_approved")]
        if not others:
            return []
        text = texts.T_NOTIFY_NONE.format(forms=_forms_text(others))
        return [ctx.point("filing", "ok", text, forms_rule, duty="none")]
    total, limit = plan.number("total_value"), lead.params["exempt_total_below"]
    under = lead.verified and total is not None and total < limit
    unsure = [f for f in due if f in lead.params.get("exempt_total_open_forms", ())] if under else []
    if under and not unsure:
        text = texts.T_NOTIFY_EXEMPT_TOTAL.format(limit=texts.money(limit))
        return [ctx.point("filing", "ok", text, lead, duty="exempt")]
    if lead.verified and plan.platform_only and lead.params["exempt_platform_only"]:
        return [ctx.point("filing", "ok", texts.T_NOTIFY_EXEMPT_PLATFORM, lead, duty="exempt")]
    if lead.verified and plan.platform_maybe and lead.params["exempt_platform_only"]:
        return [Point("filing", "unknown", texts.Q_PLATFORM_ONLY, ctx.basis(lead), data={"duty": "unknown"})]
    days = lead.params["working_days"]
    file_by = working_days_before(plan.start.date(), days)
    authority = texts.T_EACH_SO.format(places=_places(plan))
    text = texts.T_NOTIFY.format(forms=_forms_text(due), authority=authority, day=texts.vn_date(file_by), days=days)
    status = "ok"
    if file_by < ctx.today:
        text += texts.T_NOTIFY_LATE.format(today=texts.vn_date(ctx.today))
        status = "over"
    point = ctx.point("filing", status, text, forms_rule, duty="notify", authority="so", file_by=file_by.isoformat())
    out = [replace(point, verified=forms_rule.verified and lead.verified)]
    if unsure:  # the under-100-million exemption is written for prizes and gifts: open for discounts
        text = texts.T_OPEN_TOTAL.format(limit=texts.money(limit), forms=_forms_text(unsure))
        out.append(Point("open", "warning", text, ctx.basis(lead), data={"code": "open:exempt-total"}))
    return out


def _register_points(ctx: _Context) -> tuple[list[Point], list[str]]:
    plan = ctx.plan
    if not {"lucky_draw", "other_approved"} & set(plan.forms):
        return [], []
    rule = ctx.rule("lucky-draw-register")
    if "other_approved" in plan.forms:
        authority, who, why = "bo", texts.T_BO, texts.T_BO_WHY_FORM
    elif len(plan.provinces) >= 2 or plan.online or plan.platform_only:
        authority, who, why = "bo", texts.T_BO, texts.T_BO_WHY_PLACES
    elif len(plan.provinces) == 1:
        authority, who, why = "so", texts.T_SO.format(place=plan.provinces[0]), ""
    else:  # the duty is known, the authority depends on where: asked
        authority, who, why = "", texts.T_SO_OR_BO, ""
    days = rule.params["processing_working_days"]
    file_by = working_days_before(plan.start.date(), days)
    text = texts.T_REGISTER.format(authority=who + why, day=texts.vn_date(file_by), days=days)
    status = "over" if file_by < ctx.today else "ok"
    data = {"duty": "register", "authority": authority, "file_by": file_by.isoformat()}
    points = [ctx.point("filing", status, text, rule, **data)]
    if why == texts.T_BO_WHY_PLACES and rule.params.get("bo_open"):  # FACTS says the Bộ; checked with the Sở
        points.append(Point("caution", "warning", texts.T_OPEN_BO, ctx.basis(rule), data={"code": "open:bo"}))
    asked = [] if authority else [texts.Q_PLACE]
    if "lucky_draw" in plan.forms:
        report = ctx.rule("lucky-draw-report")
        deadline = plan.prize_deadline or (plan.end - timedelta(microseconds=1)).date()
        after = report.params["days_after_prize_deadline"]
        report_by = deadline + timedelta(days=after)
        text = texts.T_REPORT.format(day=texts.vn_date(report_by), days=after, deadline=texts.vn_date(deadline))
        points.append(ctx.point("report", "ok", text, report, report_by=report_by.isoformat()))
    return points, asked


def _goods_points(ctx: _Context) -> tuple[list[Point], list[str]]:
    plan = ctx.plan
    rule = ctx.rule("banned-goods")
    banned = set(plan.goods) & set(rule.params["categories"])
    if "medicine" in banned and plan.to_drug_traders:
        banned.discard("medicine")
    out: list[Point] = []
    if banned:
        goods = ", ".join(texts.GOODS_NAMES[g] for g in sorted(banned))
        out.append(ctx.point("goods", "banned", texts.T_BANNED.format(goods=goods), rule, items=sorted(banned)))
    alcohol = sorted({"spirits", "beer"} & plan.goods)
    questions: list[str] = []
    if alcohol:
        law = ctx.rules.rule("alcohol-law", ctx.day)
        degrees = plan.number("alcohol_degrees")
        if law is not None and degrees is not None and degrees >= law.params["min_degrees"]:
            goods = ", ".join(texts.GOODS_NAMES[g] for g in alcohol)
            text = texts.T_BANNED_ALCOHOL.format(degrees=law.params["min_degrees"], goods=goods)
            out.append(ctx.point("goods", "banned", text, law, items=alcohol))
        elif "beer" in alcohol and law is not None and degrees is not None:
            out.append(ctx.point("goods", "ok", texts.T_BEER_OK.format(degrees=f"{degrees:g}"), law, items=[]))
        elif "beer" in alcohol and law is not None and plan.strong_beer:  # craft, imported: may be 15° or more
            questions.append(texts.Q_BEER_DEGREES)
        elif "beer" in alcohol and law is not None:  # ordinary beer is brewed well under 15°: said, not asked
            out.append(ctx.point("goods", "ok", texts.T_BEER_USUAL.format(degrees=law.params["min_degrees"]), law,
                                 items=[]))  # fmt: skip
    if not out and not questions:
        text = texts.T_MEDICINE_TRADERS if "medicine" in plan.goods else texts.T_GOODS_OK
        out.append(ctx.point("goods", "ok", text, rule, items=[]))
    return out, questions


def _counted_days(ctx: _Context, windows: list[Window]) -> Counter[int]:
    """Days of the programme, per year, that are not wholly inside a concentrated window."""
    plan = ctx.plan
    counted: Counter[int] = Counter()
    windows = [w for w in windows if w.overlaps(plan.start, plan.end)]
    day = plan.start.date()
    while local(day) < plan.end:
        lo, hi = max(plan.start, local(day)), min(plan.end, local(day, end=True))
        if not any(w.contains(lo, hi) for w in windows):
            counted[day.year] += 1
        day += timedelta(days=1)
    return counted


def _budget_point(ctx: _Context, windows: list[Window]) -> list[Point]:
    if "discount" not in ctx.plan.forms or ctx.plan.undated or ctx.plan.open_end:
        return []
    rule = ctx.rule("discount-days")
    limit = rule.params["max_days"]
    counted = _counted_days(ctx, windows)
    used = int(ctx.plan.number("discount_days_used") or 0)
    year = ctx.plan.start.year
    first = counted[year] + used
    over = first > limit or any(n > limit for n in counted.values())
    extra = texts.T_BUDGET_USED.format(used=used, total=first, max=limit, year=year) if used else ""
    text = texts.T_BUDGET.format(max=limit, counted=sum(counted.values()), used=extra)
    text += texts.T_BUDGET_OVER if over else ""
    return [ctx.point("budget", "over" if over else "ok", text, rule, counted=sum(counted.values()))]


def _duty_points(ctx: _Context) -> list[Point]:
    publish = ctx.rule("publish")
    extra = texts.T_PUBLISH_DRAW if {"lucky_draw", "contest"} & set(ctx.plan.forms) else ""
    out = [
        ctx.point("publish", "info", texts.T_PUBLISH.format(extra=extra), publish),
        ctx.point("early-end", "info", texts.T_EARLY_END, ctx.rule("early-end")),
    ]
    if ctx.plan.online or ctx.plan.platform_only:
        ecommerce = ctx.rule("ecommerce")
        text = texts.T_ECOM_NEW if ecommerce.basis[0].document == "luat-tmdt-2025" else texts.T_ECOM_OLD
        out.append(ctx.point("ecommerce", "info", text, ecommerce))
    return out


def _warnings(ctx: _Context) -> list[Point]:
    plan = ctx.plan
    last = (plan.end - timedelta(microseconds=1)).date()
    out: list[Point] = []
    for day in ctx.rules.cutovers():
        if plan.start.date() < day <= last:
            what = texts.CUTOVER_WHAT.get(day.isoformat(), texts.T_CUTOVER_OTHER)
            text = texts.T_CUTOVER.format(day=texts.vn_date(day), what=what)
            starting = ctx.rules.regime(day)
            verified = starting is None or starting.valid_from != day or starting.verified
            out.append(
                Point("warning", "warning", text, verified=verified, data={"code": f"cutover:{day.isoformat()}"})
            )
    for window in ctx.edges:
        text = texts.T_WINDOW_EDGE.format(
            name=window.name, start=texts.vn_datetime(window.start), end=texts.vn_end(window.end)
        )
        out.append(Point("warning", "warning", text, data={"code": f"window-edge:{window.name}"}))
    return out


def _regime_point(ctx: _Context, regime: Regime) -> Point:
    text = texts.T_REGIME.format(day=texts.vn_date(ctx.day), name=regime.name)
    if not regime.verified:
        text += " " + texts.T_REGIME_VERIFY
    basis = texts.span(regime.valid_from, regime.until).capitalize()
    return Point("regime", "info" if regime.verified else "warning", text, basis, regime.verified, {"id": regime.id})


def check_promotion(
    plan: Plan | Mapping[str, Any],
    windows: Iterable[CampaignWindow] = (),
    today: date | None = None,
    rules: RuleSet | None = None,
) -> Verdict:
    """The verdict on *plan* given the caller's campaign *windows* (name, start, end) and *today*."""
    questions: list[str] = []
    if not isinstance(plan, Plan):
        parsed, questions = parse_plan(plan)
        if parsed is None:
            return Verdict(None, None, (), tuple(questions))
        plan = parsed
    rules = rules or default_rules()
    day = plan.start.date()
    regime = rules.regime(day)
    if regime is None:
        return Verdict(plan, None, (), (texts.T_NO_REGIME,))
    concentrated = rules.rule("cap-concentrated", day)
    tet_days = concentrated.params["tet_days"] if concentrated else 30
    found = concentrated_windows(windows, day, plan.end.date(), tet_days)
    # The narrowest window holding the whole programme names it (the 60 hours inside the e-commerce week).
    fit = min((w for w in found if w.contains(plan.start, plan.end)), key=lambda w: w.end - w.start, default=None)
    touched = [w for w in found if w.overlaps(plan.start, plan.end)]
    # A window inside a wider one (New Year's Day inside the Tết window) adds no edge of its own.
    edges = () if fit else tuple(w for w in touched if not any(o.encloses(w) and not w.encloses(o) for o in touched))
    now = today or datetime.now(TZ).date()
    ctx = _Context(plan, rules, day, now, fit, edges)
    caps = _cap_points(ctx)
    goods, asked_goods = _goods_points(ctx)
    banned = any(p.status == "banned" for p in goods)  # the programme cannot run: its amount is not asked
    unknown = set() if banned else {p.data["form"] for p in caps if p.status == "unknown"}
    questions += [texts.Q_DISCOUNT_AMOUNT] if "discount" in unknown else []
    questions += [texts.Q_GIFT_AMOUNT] if unknown - {"discount"} else []
    # "cuối tháng 11" across 29/11: the exact days asked only when a window's 100 % would change the answer
    straddled = plan.approximate and edges and any(p.status == "over" for p in caps)
    questions += [texts.Q_EXACT_DATES] if straddled else []
    points = [_regime_point(ctx, regime), *caps, *_notify_point(ctx)]
    register, asked = _register_points(ctx)
    points += [*register, *goods, *_budget_point(ctx, found), *_duty_points(ctx), *_warnings(ctx)]
    if any(p.data.get("duty") == "unknown" for p in points):  # sold only through platforms? asked
        questions.append(texts.Q_PLATFORM_ONLY)
        points = [p for p in points if p.data.get("duty") != "unknown"]
    return Verdict(plan, regime, tuple(points), tuple(questions + asked + asked_goods))
