"""The numbers of a planned promotion read from folded text: %, quantities ("mua 2 tặng 1"), amounts by the words
before them (price, sale price, gift, voucher and order values, the programme's total), with what cannot be read
safely asked back (a gift that is not the item bought, several values for one amount, a percentage over 100).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from knowledge.promotion import texts
from knowledge.promotion.numbers import spelled_numbers

__all__ = ["MEASURED", "OTHER_GIFT", "SEVERAL_AMOUNTS", "read_amounts"]

MEASURED = ("discount", "gift", "voucher")

_PERCENT = r"(\d{1,4}(?:[.,]\d+)?)\s*(?:%|phan tram\b|pt\b)(?!\s*(?:vol|con|alc|do con))"
_BARE_PERCENT = (
    r"\bgiam\s*(?:gia\s*)?(?:toi da\s*|den\s*|len den\s*|len toi\s*|soc\s*|manh\s*)?(\d{1,3})"
    r"(?![\d.,%]|\s*(?:k|nghin|ngan|tr|trieu|d|dong|vnd|ty|ti|cu|ngay|tuan|thang|gio|h|nua|phan)(?:\b|\d))"
)
_MONEY = (
    r"(?<![\d/])(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)\s*(k|nghin|ngan|tr|trieu|cu|ty|ti|d|dong|vnd)?"
    r"(?:((?<=[a-z])\d{1,3}(?!\d)|\s*\d(?!\d)))?(?![a-z0-9%])"
)
_UNITS = {"k": 1e3, "nghin": 1e3, "ngan": 1e3, "tr": 1e6, "trieu": 1e6, "cu": 1e6, "ty": 1e9, "ti": 1e9}
_QTY = (
    r"\b(?:mua|lay|dat|nhap|uong|an)\s*(?:tu |tren |it nhat )?"
    r"(\d+)(?![\d.,]|\s*(?:k|nghin|ngan|tr|trieu|d|dong|vnd)\b)\s*"
    r"((?:[a-z]+\s*|\([^()]{0,15}\)\s*){0,6}?)(?:thi\s*)?"
    r"(?:(?:toi|tui|em|minh|shop|ben em|cua hang|se|duoc)\s*)?"
    r"(?:tang|duoc tang|free|km|khuyen mai)\s*(?:them\s*)?(\d+)"
    r"(?:\s*([a-z]+))?|\b(\d+)\s*tang\s*(\d+)\b|buy\s*(\d+)\s*get\s*(\d+)"
)
#: "mua 1 thùng 24 lon tặng 2 lon", "mua 2 thùng (48 lon) tặng thêm 6 lon": packs bought, the units given.
_PACK = (
    r"mua\s*(\d+)\s*(?:thung|loc|ket|hop|bich|block|cay|bao|hu|goi|vi|day)\b[^.;()]{0,40}?\s*(\(|gom|=)?\s*"
    r"(\d+)\s*(lon|chai|goi|hop|cai|bich|ly|chiec|vien|tui|cuon|banh|qua|hu)\b\)?[^.;]{0,30}?"
    r"\btang\s*(?:them\s*|kem\s*)?(\d+)\s*(lon|chai|goi|hop|cai|bich|ly|chiec|vien|tui|cuon|banh|qua|hu)\b"
)
#: Words that count a thing rather than name it ("2 ly cà phê": the goods follow the counter).
_COUNTERS = r"ly|cai|chiec|phan|hop|goi|chai|lon|thung|bo|doi|cuon|tui|hu|to|dia|suat|ve|sp|san|mon|cay|qua|con"
#: Words before an amount → what the amount is (the nearest, then the longest, wins).
ROLE_WORDS: tuple[tuple[str, str], ...] = (
    ("voucher_value", r"voucher|phieu(?: mua hang| giam gia| qua tang)?|ma giam(?: gia)?|coupon|\bma\b"),
    ("order_value", r"don hang|don tu|hoa don|don toi thieu|\bdon\b|\bbill\b|mua hang tu|mua tu"),
    ("sale_price", r"\bcon\b|xuong con|chi con|xuong|gia ban|gia khuyen mai|gia sale|dong gia|(?:gio|nay) ban"),
    ("price", r"gia goc|gia niem yet|\bgia\b|san pham|\bmon\b|\bmua\b|niem yet|\bmau\b|dang ban|hien ban"),
    (
        "gift_value",
        # "tặng 1 chai nước mắm giá 35k": the gift's price, tried before "tặng" alone
        r"\btang (?:(?!giam\b|ma\b|phieu\b|voucher\b)\w+ ){1,5}(?:gia|tri gia|gia tri)\b|"
        r"qua tang|\btang\b|tri gia|\bqua (?:tri gia|co gia|gia tri)|\bqua\s*$",
    ),
    ("total_value", r"tong (?:gia tri )?(?:giai|giai thuong|qua|khuyen mai)|ngan sach|tong tri gia giai|co cau giai"),
    ("goods_value", r"tong (?:gia tri )?hang|doanh thu"),
    ("discount_amount", r"\bgiam gia\b|\bgiam\b|\bbot\b|\btru\b"),
)
_ORDER_OF = {
    "discount": ("price", "sale_price"),
    "gift": ("gift_value", "price"),
    "voucher": ("voucher_value", "order_value"),
}


def _money(number: str, unit: str | None, tail: str | None) -> float | None:
    if unit is None and not re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number) and (len(number) < 5 or "." in number):
        return None
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):
        value = float(re.sub(r"[.,]", "", number))
    else:
        value = float(number.replace(",", "."))
    scale = _UNITS.get(unit or "", 1.0)
    if tail and scale >= 1e6:  # "1tr5" = 1,5 triệu, "2tr490" = 2,49 triệu
        tail = tail.strip()
        value += int(tail) / 10 ** len(tail)
    return value * scale


def _goods_nouns(text: str) -> dict[str, str]:
    """«mua tủ lạnh tặng quạt đứng»: the goods bought and the gift, named, so that «tủ lạnh … 8tr5, quạt … 650k»
    gives each amount to its goods whatever other words stand before it."""
    m = re.search(
        r"\bmua (?:1 |mot )?([a-z]{2,}(?: [a-z]{2,})?) (?:thi |se )?(?:duoc )?tang (?:kem |them )?(?:1 |mot )?"
        r"([a-z]{2,}(?: [a-z]{2,})?)\b",
        text,
    )
    if not m or m.group(1) == m.group(2):
        return {}
    out: dict[str, str] = {}
    for noun, role in ((m.group(1), "price"), (m.group(2), "gift_value")):
        words = noun.split()
        out[noun] = role
        if len(words[0]) >= 4:  # "quạt đứng" is also "quạt"
            out.setdefault(words[0], role)
    return out


def _noun_role(before: str, nouns: dict[str, str]) -> str | None:
    """The role of the goods named nearest before an amount (see :func:`_goods_nouns`)."""
    best = max(
        ((m.end(), role) for noun, role in nouns.items() for m in re.finditer(rf"\b{noun}\b", before)), default=None
    )
    return best[1] if best else None


def _role(before: str) -> str | None:
    best: tuple[int, int, str] | None = None
    for role, pattern in ROLE_WORDS:
        for m in re.finditer(pattern, before):
            key = (m.end(), m.end() - m.start(), role)
            if best is None or key[:2] > best[:2]:
                best = key
    return best[2] if best else None


def read_amounts(text: str, forms: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """Numbers of the plan in folded *text* for *forms*: %, quantities, amounts by the words before them."""
    text = spelled_numbers(text)
    numbers: dict[str, float] = {}
    problems: list[str] = []
    percents = [p for m in re.finditer(_PERCENT, text) if (p := _percent(m, text)) is not None]
    percents += [float(p) for p in re.findall(_BARE_PERCENT, text)] if not percents else []
    if re.search(r"(?:mot|1) nua|nua gia|1/2 gia|50/50", text) and not percents:
        percents.append(50.0)
    if percents:
        value = max(percents)
        if value > 100:
            problems.append(texts.Q_PERCENT_RANGE.format(value=texts.pct(value)))
        else:
            numbers["discount_percent"] = value
    qty = re.search(_QTY, text)
    pack = re.search(_PACK, text)
    if pack and pack.group(4) == pack.group(6):  # the units of the pack are the units given
        packs, inner, free = int(pack.group(1)), int(pack.group(3)), int(pack.group(5))
        numbers["buy_quantity"] = float(inner if pack.group(2) else packs * inner)
        numbers["free_quantity"] = float(free)
    elif qty and not _other_goods(qty):
        buy, free = (g for g in qty.groups() if g is not None and g.isdigit())
        numbers["buy_quantity"], numbers["free_quantity"] = float(buy), float(free)
    elif qty:
        problems.append(OTHER_GIFT)
    elif back := re.search(r"tang\s*(\d+)\s*(?:\w+\s*){0,4}?(?:khi|cho|neu)\s*(?:khach\s*)?mua\s*(\d+)", text):
        numbers["buy_quantity"], numbers["free_quantity"] = float(back.group(2)), float(back.group(1))
    if total := re.search(_TOTAL, text):  # "tổng giá trị quà tặng khoảng 30 triệu": the programme's total
        value = _money(total.group(1), total.group(2), total.group(3))
        if value is not None:
            numbers["total_value"] = value
            text = text[: total.start()] + " # " + text[total.end() :]
    if goods := re.search(_GOODS_VALUE, text):  # "doanh thu hàng khuyến mại dự kiến 500 triệu"
        value = _money(goods.group(1), goods.group(2), goods.group(3))
        if value is not None:
            numbers["goods_value"] = value
            text = text[: goods.start()] + " # " + text[goods.end() :]
    if instead := re.search(_INSTEAD, text):  # "giá 199k thay vì 300k": the first is the new price
        sale, price = (_money(*instead.group(1, 2), None), _money(*instead.group(3, 4), None))
        if sale is not None and price is not None:
            numbers["price"], numbers["sale_price"] = price, sale
            text = text[: instead.start()] + " # " + text[instead.end() :]
    loose: list[float] = []
    clash = False
    nouns = _goods_nouns(text) if "gift" in forms else {}
    previous = 0  # the words that name an amount stand between it and the amount before
    for m in re.finditer(_MONEY, text):
        value = _money(m.group(1), m.group(2), m.group(3))
        if value is None:
            continue
        before = text[max(previous, m.start() - 32) : m.start()]
        previous = m.end()
        role = _noun_role(before, nouns) or _role(before)
        if role in numbers and numbers[role] != value and role != "total_value":  # "giá gốc từ 100k đến 200k"
            clash = True
        if role is None or role in numbers:
            loose.append(value)
        else:
            numbers[role] = value
    if clash and set(forms) & set(MEASURED):  # which amount goes with which: asked, not guessed
        problems.append(SEVERAL_AMOUNTS)
        return {k: v for k, v in numbers.items() if k in _NOT_MONEY}, problems
    _place_loose(numbers, loose, forms)
    if "gift" in forms and numbers.get("gift_value") and not numbers.get("price") and numbers.get("order_value"):
        numbers["price"] = numbers["order_value"]  # a gift on an order: its value against the order's
    if "voucher" in forms and "gift" not in forms and "gift_value" in numbers and "voucher_value" not in numbers:
        numbers["voucher_value"] = numbers.pop("gift_value")  # "tặng phiếu mua hàng trị giá 300 nghìn"
    amount = numbers.pop("discount_amount", None)
    base = numbers.get("price") or numbers.get("order_value")
    if amount is not None and base and "sale_price" not in numbers and amount <= base:
        numbers["price"], numbers["sale_price"] = base, base - amount
    return numbers, problems


_TOTAL = (
    r"\b(?:tong (?:cong )?(?:gia tri |tri gia |so tien |tien )?(?:cac )?"
    r"(?:giai(?: thuong)?|qua(?: tang)?|khuyen mai|km|hang mau|giam)|"
    r"ngan sach(?: khuyen mai| km| qua(?: tang)?| hang mau| giai thuong)?|co cau giai(?: thuong)?)"
    r"[^.;,\d]{0,25}?" + _MONEY
)
_GOODS_VALUE = (
    r"\b(?:tong (?:gia tri |tri gia )?(?:hang|hang hoa|san pham)|doanh thu|doanh so)(?: (?:hang|hang hoa|san pham|"
    r"khuyen mai|duoc khuyen mai|du kien|uoc tinh|cua chuong trinh))*[^.;,\d]{0,15}?" + _MONEY
)
_MONEY_UNIT = r"(\d+(?:[.,]\d+)?)\s*(k|nghin|ngan|tr|trieu|d|dong|vnd)\b"
_INSTEAD = _MONEY_UNIT + r"\s*(?:\(\s*)?(?:thay vi|thay cho|so voi|tu gia)\s*(?:gia\s*)?" + _MONEY_UNIT
#: A percentage that is not the promotion's: tax, deposit, interest, commission, alcohol.
_OTHER_PERCENT = r"(?:vat|thue|coc|lai suat|lai|hoa hong|doanh thu|doanh so|tang truong|do con)\s*(?:la\s*)?$"

#: "quá 50 %", "trên 50 %": a threshold asked about, not the programme's own percentage (that is asked back).
_THRESHOLD = r"\b(?:tren|qua|vuot|vuot qua|hon|duoi|it nhat|toi thieu|khong qua)\s*$"
_OPEN_ENDED = r"\s*(?:\+(?=\s*(?:$|[.,;!?)+]))|tro len\b|tro di\b)"  # "50 %++", "50 % trở lên": how far up is not said


def _percent(match: re.Match[str], text: str) -> float | None:
    """The discount a percentage says: "giảm 30 %" is 30, "chỉ còn 30 %" of the price is 70; tax and the like none."""
    value = float(match.group(1).replace(",", "."))
    before = text[max(0, match.start() - 16) : match.start()]
    if re.search(_OTHER_PERCENT, before) or re.search(_THRESHOLD, before) or re.match(_OPEN_ENDED, text[match.end() :]):
        return None
    if re.match(r"\s*(?:phi|tien) (?:van chuyen|ship|giao hang)", text[match.end() :]):  # freeship: a service given
        return None
    if re.search(r"\b(?:chi |xuong |gia )?con\s*$", before) and value <= 100:
        return 100 - value
    return value


def _other_goods(qty: re.Match[str]) -> bool:
    """«mua 2 áo tặng 1 đôi tất»: the free item is not the one bought, so 1/2 is not the gift's share of the price."""
    if qty.group(1) is None:
        return False
    bought, given = re.findall(r"[a-z]+", re.sub(r"\([^()]*\)", " ", qty.group(2) or "")), qty.group(4)
    if not bought or given is None or given in ("va", "cho", "khi", "tu", "den", "trong", "tai", "o", "nhe", "nha"):
        return False
    first = bought[0]
    if first in _COUNTERS.split("|") and given == first:
        return False
    return given not in bought


def _place_loose(numbers: dict[str, float], loose: list[float], forms: Sequence[str]) -> None:
    """Amounts without a telling word go to the first form's slots in order (voucher, then order value…)."""
    measured = [f for f in forms if f in _ORDER_OF]
    if not measured:
        return
    for slot in _ORDER_OF[measured[0]]:
        if loose and slot not in numbers:
            numbers[slot] = loose.pop(0)


_NOT_MONEY = ("discount_percent", "buy_quantity", "free_quantity")
SEVERAL_AMOUNTS = (
    "Tin nhắn có nhiều mức giá hoặc giá trị cho cùng một thứ, nên mình chưa biết tính theo mức nào. "
    "Bạn cho mình mức khuyến mại lớn nhất (ví dụ «giá 200k còn 50k») nhé."
)
#: A programme decided by a state agency (100 % caps) that the campaign calendar does not know.

OTHER_GIFT = (
    "Món tặng khác với món khách mua, nên «mua mấy tặng mấy» chưa cho biết quà bằng bao nhiêu phần trăm giá hàng."
)
