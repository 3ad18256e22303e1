"""A planned promotion, read from plain values (a chat flow, the CLI's JSON, a test case).

:func:`parse_plan` never raises on bad input: it returns the questions to ask back, in Vietnamese.
Goods are category keys (``spirits``, ``beer``, ``tobacco``…) or free text read by keywords.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from knowledge.normalize import fold
from knowledge.promotion import texts
from knowledge.promotion.calendar import local

__all__ = ["FORMS", "GOODS", "Plan", "classify_goods", "parse_plan"]

FORMS = tuple(texts.FORM_NAMES)
GOODS = tuple(texts.GOODS_NAMES)
NUMBER_FIELDS = tuple(texts.FIELD_NAMES)

#: Fresh food (thực phẩm tươi sống: meat, eggs, fish, seafood, vegetables, tubers, fresh fruit — Luật An toàn thực
#: phẩm 2010 Đ.2 k.21), folded: the words themselves, or a food named with "tươi" after it ("thịt heo tươi",
#: "sầu riêng, chôm chôm tươi"); "tươi" folds like "tuổi", so a number before it is an age, not freshness.
FRESH_FOOD = (
    r"tuoi song|thuc pham tuoi|rau cu|rau qua|"
    r"(?<!keo )(?<!banh )(?<!nuoc )(?<!tra )(?<!vi )(?<!huong )"
    r"\b(?:trai cay|hoa qua|rau xanh|trung ga|trung vit)\b(?! (?:say|kho|dong hop|ngam|muoi|mut|nhua|gia))|"
    r"\b(?:thit|ca|tom|cua|muc|oc|ngheu|so|hai san|thuy san|rau|cu|qua|"
    r"trai cay|hoa qua|trung|sau rieng|chom chom|xoai|buoi|mit|nhan|chuoi|thanh long|dua hau)(?:[ ,]+[a-z]+){0,2}[ ,]+"
    r"(?<!cao )(?<!nguoi trung )tuoi\b"
)
#: Folded keywords → goods category; checked in order, the first match of a span wins.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"thuoc la|xi ga|thuoc lao", "tobacco"),
    (r"ruou", "spirits"),
    (r"\bbia\b", "beer"),
    (r"xo so|ve so", "lottery"),
    (r"thay the sua me|sua cong thuc", "breast_milk_substitute"),
    (r"thuoc chua benh|thuoc tay|duoc pham|\bthuoc\b", "medicine"),
    (r"binh on gia", "price_stabilisation"),
    (FRESH_FOOD, "fresh_food"),
    (r"pha san", "bankruptcy"),
    (r"giai the", "dissolution"),
    (r"chuyen dia diem", "relocation"),
    (r"(?:thay doi|chuyen doi) nganh", "change_of_line"),
)
#: Years the calendars know (the lunar calendar of ``holidays`` ends in 2100).
YEARS = range(1900, 2099)
_DATE_FORMATS = ("%d/%m/%Y %H:%M", "%H:%M %d/%m/%Y", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


@dataclass(frozen=True)
class Plan:
    forms: tuple[str, ...]
    start: datetime
    end: datetime
    numbers: Mapping[str, float]
    goods: frozenset[str] = frozenset()
    provinces: tuple[str, ...] = ()
    online: bool = False
    platform_only: bool = False
    to_drug_traders: bool = False
    prize_deadline: date | None = None
    platform_maybe: bool = False  # a platform named and nothing else: "only through platforms" is not said
    approximate: bool = False  # the dates were told loosely ("cuối tháng 11"): a window edge inside is asked
    undated: bool = False  # no dates told, none could change the verdict (knowledge.promotion.undated)
    open_end: bool = False  # a start told and no end: the verdict so far (knowledge.promotion.undated)
    strong_beer: bool = False  # a beer that may be 15° or more (craft, imported, strong): its degrees are asked

    def number(self, name: str) -> float | None:
        return self.numbers.get(name)


def classify_goods(text: str) -> set[str]:
    """Goods categories named in free text ("rượu vang", "bia 5 độ", "thuốc lá điện tử"…)."""
    folded = fold(text).lower()
    found: set[str] = set()
    for pattern, category in _KEYWORDS:
        if re.search(pattern, folded):
            found.add(category)
            folded = re.sub(pattern, " ", folded)
    return found


def _moment(value: Any, *, end: bool) -> datetime | None:
    """A local instant, or ``None`` for what is not a date of :data:`YEARS`."""
    if isinstance(value, date) and value.year not in YEARS:
        return None
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, date):
        return local(value, end=end)
    if not isinstance(value, str):
        return None
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _moment(parsed if "%H" in fmt else parsed.date(), end=end)
    return None


def _number(raw: Mapping[str, Any], name: str, questions: list[str]) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip().replace(",", ".")
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or math.isinf(number):
        questions.append(texts.Q_NOT_NUMBER.format(field=texts.FIELD_NAMES[name]))
        return None
    if name == "discount_percent" and not 0 <= number <= 100:
        questions.append(texts.Q_PERCENT_RANGE.format(value=texts.pct(number)))
        return None
    if number < 0:
        questions.append(texts.Q_NEGATIVE.format(field=texts.FIELD_NAMES[name]))
        return None
    return number


def _strings(value: Any) -> list[str]:
    """A list of texts from a text, a list of texts or anything else given."""
    if value in (None, ""):
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return [str(value)]


def _forms(raw: Mapping[str, Any], questions: list[str]) -> tuple[str, ...]:
    given = _strings(raw.get("forms"))
    forms: list[str] = []
    for form in given:
        if form not in FORMS:
            names = ", ".join(texts.FORM_NAMES.values())
            questions.append(texts.Q_UNKNOWN_FORM.format(value=form, names=names))
        elif form not in forms:
            forms.append(form)
    if not given:
        questions.append(texts.Q_NO_FORMS)
    return tuple(forms)


def _dates(raw: Mapping[str, Any], questions: list[str]) -> tuple[datetime | None, datetime | None]:
    moments: list[datetime | None] = []
    for key, missing in (("start", texts.Q_NO_START), ("end", texts.Q_NO_END)):
        value = raw.get(key)
        moment = None if value in (None, "") else _moment(value, end=key == "end")
        if value in (None, ""):
            questions.append(missing)
        elif moment is None:
            questions.append(texts.Q_BAD_DATE.format(value=value))
        moments.append(moment)
    start, end = moments
    if start is not None and end is not None and end <= start:
        questions.append(texts.Q_END_BEFORE_START.format(start=texts.vn_datetime(start), end=texts.vn_end(end)))
    return start, end


def _goods(raw: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for item in _strings(raw.get("goods")):
        found |= {item} if item in GOODS else classify_goods(item)
    return frozenset(found)


def parse_plan(raw: Mapping[str, Any]) -> tuple[Plan | None, list[str]]:
    """The plan and no questions, or ``None`` and what to ask (end before start, 300 %, a negative price…)."""
    if not isinstance(raw, Mapping):
        return None, [texts.Q_NOT_A_PLAN]
    questions: list[str] = []
    forms = _forms(raw, questions)
    start, end = _dates(raw, questions)
    numbers = {name: n for name in NUMBER_FIELDS if (n := _number(raw, name, questions)) is not None}
    price, sale = numbers.get("price"), numbers.get("sale_price")
    if price is not None and sale is not None and sale > price:
        questions.append(texts.Q_SALE_ABOVE_PRICE)
    deadline = _moment(raw.get("prize_deadline"), end=False) if raw.get("prize_deadline") else None
    if raw.get("prize_deadline") and deadline is None:
        questions.append(texts.Q_BAD_DATE.format(value=raw["prize_deadline"]))
    if questions or start is None or end is None:
        return None, questions
    plan = Plan(
        forms=forms,
        start=start,
        end=end,
        numbers=numbers,
        goods=_goods(raw),
        provinces=tuple(_strings(raw.get("provinces"))),
        online=bool(raw.get("online", False)),
        platform_only=bool(raw.get("platform_only", False)),
        to_drug_traders=bool(raw.get("to_drug_traders", False)),
        prize_deadline=deadline.date() if deadline else None,
        approximate=bool(raw.get("approximate", False)),
        platform_maybe=bool(raw.get("platform_maybe", False)),
        undated=bool(raw.get("undated", False)),
        open_end=bool(raw.get("open_end", False)),
        strong_beer=bool(raw.get("strong_beer", False)),
    )
    return plan, []
