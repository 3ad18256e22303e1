"""Numbers written in words, in folded Vietnamese ("ba trăm năm mươi triệu", "hai chục phần trăm", "ngày mười lăm
tháng tư"), rewritten as the figures the readers understand ("350tr", "20%", "ngay 15 thang 4")."""

from __future__ import annotations

import re

__all__ = ["spelled_dates", "spelled_numbers", "words_value"]

_DIGITS = {
    "khong": 0, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5, "sau": 6, "bay": 7, "tam": 8,
    "chin": 9,
}  # fmt: skip
_WORD = r"(?:khong|mot|hai|ba|bon|tu|nam|lam|sau|bay|tam|chin|muoi|chuc|tram|linh|le)"
#: A run of number words; it never starts with a word that is mostly something else ("từ", "lăm", "lẻ", "không").
_RUN = rf"\b(?!tu |lam |linh |le |khong ){_WORD}(?: {_WORD})*\b"
_SCALE = {"nghin": "k", "ngan": "k", "trieu": "tr", "ty": "ty", "ti": "ty"}
_MONTHS = {"gieng": 1, "chap": 12}


def words_value(words: list[str]) -> int | None:
    """The value of number words ("ba tram nam muoi" → 350, "muoi lam" → 15, "hai chuc" → 20), or None."""
    total, seen = 0, False
    if "tram" in words:  # hundreds
        k = words.index("tram")
        head = _DIGITS.get(words[0]) if k == 1 else (1 if k == 0 else None)
        if head is None:
            return None
        total, seen, words = head * 100, True, words[k + 1 :]
        words = words[1:] if words[:1] in (["linh"], ["le"]) else words
    if words[:1] == ["muoi"]:  # tens: "mười", "mười lăm"
        total, seen, words = total + 10, True, words[1:]
    elif len(words) >= 2 and words[1] in ("muoi", "chuc") and words[0] in _DIGITS:
        total, seen, words = total + _DIGITS[words[0]] * 10, True, words[2:]
    if len(words) > 1 or (words and words[0] not in _DIGITS):
        return None
    if words:  # units
        total, seen = total + _DIGITS[words[0]], True
    return total if seen else None


def _value(text: str | None) -> int | None:
    return words_value(text.split()) if text else None


def spelled_numbers(text: str) -> str:
    """Amounts and percentages in words as figures: "hai triệu rưỡi" → "2tr5", "ba trăm năm mươi triệu" → "350tr",
    "bảy mươi phần trăm" → "70%", "năm chục nghìn" → "50k", "nửa triệu" → "500k"."""

    def money(m: re.Match[str]) -> str:
        value = _value(m.group(1))
        if value is None:
            return m.group(0)
        unit, tail = _SCALE[m.group(2)], m.group(3)
        if unit == "tr" and tail:  # "một triệu hai", "hai triệu rưỡi"
            return f"{value}tr{5 if tail in ('ruoi', 'ruou') else _DIGITS[tail]}"
        return f"{value}{unit}" + (f" {tail}" if tail else "")

    def compound(m: re.Match[str]) -> str:  # "một triệu hai trăm năm mươi nghìn"
        millions, thousands = _value(m.group(1)), _value(m.group(2))
        return m.group(0) if millions is None or thousands is None else f"{millions * 1000 + thousands}k"

    def hundreds_and_half(m: re.Match[str]) -> str:  # "bảy trăm rưỡi" (nghìn understood)
        value = _value(m.group(1))
        return m.group(0) if value is None or value > 9 else f"{value * 100 + 50}k"

    text = re.sub(rf"({_RUN}) trieu ({_RUN}) (?:nghin|ngan)\b", compound, text)
    text = re.sub(rf"({_RUN}) tram ruoi\b", hundreds_and_half, text)
    scaled = rf"({_RUN}) (nghin|ngan(?! sach| hang)|trieu|ty|ti)\b"
    tail = r"(?: (ruoi|ruou|mot|hai|ba|bon|nam|sau|bay|tam|chin)\b(?! (?:nghin|ngan|trieu|tram|muoi|chuc|phan)))?"
    text = re.sub(scaled + tail, money, text)
    text = re.sub(r"\bnua trieu\b", "500k", text)

    def percent(m: re.Match[str]) -> str:
        value = _value(m.group(1))
        return m.group(0) if value is None else f"{value}%"

    return re.sub(rf"({_RUN}) phan tram\b", percent, text)


def spelled_dates(text: str) -> str:
    """ "ngày mười lăm tháng tư" → "ngay 15 thang 4"; "mùng năm" → "mung 5" (months "giêng" and "chạp" too)."""

    def day(m: re.Match[str]) -> str:
        value = _value(m.group(2))
        month = _MONTHS.get(m.group(3) or "") or _value(m.group(3))
        if value is None or not 1 <= value <= 31 or (m.group(3) and not (month and 1 <= month <= 12)):
            return m.group(0)
        return f"{m.group(1)} {value}" + (f" thang {month}" if m.group(3) else "")

    dated = rf"\b(ngay) ({_RUN}) thang (gieng|chap|tu|{_RUN})\b"  # "tháng tư"
    text = re.sub(dated, day, text)
    text = re.sub(rf"\b(mung|mong) ({_RUN})()\b", day, text)
    text = re.sub(r"\bthang (gieng|chap)\b", lambda m: f"thang {_MONTHS[m.group(1)]}", text)
    # "tháng tư" only where "tư" cannot be "từ" (from): "hết tháng tư", "tháng tư này", "tháng tư năm 2026"
    return re.sub(r"\b(het|cuoi|dau|giua|trong|suot) thang tu\b(?! \d)|\bthang tu (?=nay\b|toi\b|nam \d)",
                  lambda m: f"{m.group(1)} thang 4" if m.group(1) else "thang 4 ", text)  # fmt: skip
