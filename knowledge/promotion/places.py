"""Provinces named in free text, by the map of the promotion's dates.

Nghị quyết 202/2025/QH15 merged 63 provinces into 34 from 01/07/2025. A place named the old way ("Bình Phước",
"Đồng Xoài") is today's province (Đồng Nai) for a promotion from that date, and itself before it. Names are
matched as whole words without diacritics; where the message carries diacritics on the matched words they must
be the name's own ("năm định" is not "Nam Định").
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import cache

from knowledge.normalize import fold

__all__ = ["MERGER_DAY", "find_places"]

MERGER_DAY = date(2025, 7, 1)

#: Today's province → the provinces merged into it (empty: unchanged).
PROVINCES: dict[str, tuple[str, ...]] = {
    "Hà Nội": (),
    "Huế": (),
    "Lai Châu": (),
    "Điện Biên": (),
    "Sơn La": (),
    "Lạng Sơn": (),
    "Quảng Ninh": (),
    "Thanh Hóa": (),
    "Nghệ An": (),
    "Hà Tĩnh": (),
    "Cao Bằng": (),
    "Tuyên Quang": ("Hà Giang",),
    "Lào Cai": ("Yên Bái",),
    "Thái Nguyên": ("Bắc Kạn",),
    "Phú Thọ": ("Vĩnh Phúc", "Hòa Bình"),
    "Bắc Ninh": ("Bắc Giang",),
    "Hưng Yên": ("Thái Bình",),
    "Hải Phòng": ("Hải Dương",),
    "Ninh Bình": ("Hà Nam", "Nam Định"),
    "Quảng Trị": ("Quảng Bình",),
    "Đà Nẵng": ("Quảng Nam",),
    "Quảng Ngãi": ("Kon Tum",),
    "Gia Lai": ("Bình Định",),
    "Khánh Hòa": ("Ninh Thuận",),
    "Lâm Đồng": ("Đắk Nông", "Bình Thuận"),
    "Đắk Lắk": ("Phú Yên",),
    "Hồ Chí Minh": ("Bình Dương", "Bà Rịa - Vũng Tàu"),
    "Đồng Nai": ("Bình Phước",),
    "Tây Ninh": ("Long An",),
    "Cần Thơ": ("Sóc Trăng", "Hậu Giang"),
    "Vĩnh Long": ("Bến Tre", "Trà Vinh"),
    "Đồng Tháp": ("Tiền Giang",),
    "Cà Mau": ("Bạc Liêu",),
    "An Giang": ("Kiên Giang",),
}

#: Other ways of naming a province (cities, former districts of the deploying province, chat shorthand).
ALIASES: dict[str, str] = {
    "TP HCM": "Hồ Chí Minh",
    "TPHCM": "Hồ Chí Minh",
    "HCM": "Hồ Chí Minh",
    "Sài Gòn": "Hồ Chí Minh",
    "Thừa Thiên Huế": "Huế",
    "Vũng Tàu": "Bà Rịa - Vũng Tàu",
    "Bà Rịa Vũng Tàu": "Bà Rịa - Vũng Tàu",
    "Đăk Lăk": "Đắk Lắk",
    "Đắc Lắc": "Đắk Lắk",
    "Đăk Nông": "Đắk Nông",
    "Biên Hòa": "Đồng Nai",
    "Long Khánh": "Đồng Nai",
    "Trảng Bom": "Đồng Nai",
    "Nhơn Trạch": "Đồng Nai",
    "Long Thành": "Đồng Nai",
    "Trấn Biên": "Đồng Nai",
    "Đồng Xoài": "Bình Phước",
    "Bình Long": "Bình Phước",
    "Phước Long": "Bình Phước",
    "Chơn Thành": "Bình Phước",
    "Bù Đăng": "Bình Phước",
    "Bù Đốp": "Bình Phước",
    "Bù Gia Mập": "Bình Phước",
    "Đồng Phú": "Bình Phước",
    "Hớn Quản": "Bình Phước",
    "Lộc Ninh": "Bình Phước",
    "Phú Riềng": "Bình Phước",
    "Thủ Dầu Một": "Bình Dương",
    "Nha Trang": "Khánh Hòa",
    "Đà Lạt": "Lâm Đồng",
    "Gia Nghĩa": "Đắk Nông",
    "Hạ Long": "Quảng Ninh",
}

_SHORT = {"HCM", "TPHCM"}  # written without diacritics anyway: matched on the folded text only
#: A place name right after these words names a brand of goods, not where the programme runs.
_BRAND_BEFORE = r"\b(?:bia|ruou|nuoc mam|nuoc suoi|banh|keo|tra|ca phe|sua|thuoc la|xi mang|thep|hieu|nhan hieu)"


def _successor() -> dict[str, str]:
    return {old: new for new, olds in PROVINCES.items() for old in olds}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", fold(name).lower()).strip()


@cache
def _table() -> tuple[re.Pattern[str], dict[str, tuple[tuple[str, ...], str]]]:
    """One pattern of every name (folded), and folded name → (its written forms, province of that time); an alias
    spelt like a province ("Đăk Nông", "Đắk Nông") adds a written form, never replaces the province's own."""
    names: dict[str, tuple[tuple[str, ...], str]] = {}
    for new, olds in PROVINCES.items():
        names[_key(new)] = ((new,), new)
        for old in olds:
            names[_key(old)] = ((old,), old)
    for alias, target in ALIASES.items():
        written, province = names.get(_key(alias), ((), target))
        names[_key(alias)] = ((*written, alias), province)
    keys = sorted(names, key=len, reverse=True)
    spaced = (r"\s*".join(re.escape(part) for part in key.split()) for key in keys)
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(spaced) + r")(?![a-z0-9])")
    return pattern, names


def _tone_free(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("oà", "òa").replace("oá", "óa"))


def find_places(text: str, day: date | None) -> list[str]:
    """Provinces named in *text*, in order, as on *day* (today's names from 01/07/2025; ``None``: today's)."""
    pattern, names = _table()
    text = unicodedata.normalize("NFC", text)
    folded = fold(text).lower()
    if len(folded) != len(text):
        return []
    successor = _successor()
    found: list[str] = []
    for match in pattern.finditer(folded):
        if re.search(_BRAND_BEFORE + r"\s*$", folded[: match.start()]):  # "bia Sài Gòn", "cà phê Trung Nguyên"
            continue
        written, province = names[re.sub(r"\s+", " ", match.group(0))]
        span = text[match.start() : match.end()]
        if fold(span) != span and not set(written) & _SHORT and all(_tone_free(span) != _tone_free(w) for w in written):
            continue
        if day is None or day >= MERGER_DAY:
            province = successor.get(province, province)
        if province not in found:
            found.append(province)
    return found
