"""Reading the reporter's typed answers: the known words of each option (for ``handlers.matching.pick_option``),
an area, a purchase date, and the button arguments that name an option."""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers.config import AppConfig
from handlers.matching import fold_text, pick_option
from handlers.text_safety import ascii_int

MAX_PAYLOAD_ARG = 40  # "complaint:" + arg + "~" + signature must fit Telegram's 64 bytes

PLATFORM_WORDS = {
    "shopee": ("shopee", "shoppee", "sopee"),
    "lazada": ("lazada", "lazda"),
    "tiktok": ("tiktok", "tik tok", "tiktok shop"),
    "tiki": ("tiki",),
    "social": ("facebook", "fb", "zalo", "messenger", "mang xa hoi", "instagram"),
    "website": ("website", "web", "trang web", "trang mang", "online khac"),
    "store": ("cua hang", "cho", "sieu thi", "tiem", "tap hoa", "dai ly", "sap", "shop ngoai"),
}
# Extra words for the default categories (configured ids); labels and numbers always work.
CATEGORY_WORDS = {
    "hang-gia": ("hang gia", "gia", "hang nhai", "nhai", "fake", "dom"),
    "kem-chat-luong": ("kem chat luong", "chat luong kem", "hong", "kem"),
    "khong-ro-nguon-goc": ("nguon goc", "xuat xu", "khong ro nguon goc", "khong nhan mac"),
    "so-huu-tri-tue": ("so huu tri tue", "nhan hieu", "thuong hieu", "ban quyen", "tri tue"),
    "khuyen-mai": ("khuyen mai", "giam gia ao", "giam gia", "sale ao", "gia ao"),
    "khac": ("khac", "van de khac"),
}
# The kind of problem named inside a sentence ("tôi muốn phản ánh hàng kém chất lượng"): only words that cannot
# mean anything else; the category's configured name counts too when it has two words or more.
SENTENCE_CATEGORY_WORDS = {
    "hang-gia": ("hang gia", "hang nhai", "hang fake", "gia mao"),
    "kem-chat-luong": ("kem chat luong", "chat luong kem", "hang kem", "hang hong"),
    "khong-ro-nguon-goc": ("khong ro nguon goc", "khong nhan mac", "khong ro xuat xu"),
    "so-huu-tri-tue": ("so huu tri tue", "vi pham nhan hieu", "ban quyen"),
    "khuyen-mai": ("khuyen mai", "giam gia ao", "sale ao", "quang cao sai", "quang cao gian doi"),
}
_AREA_PREFIXES = ("thanh pho", "thi xa", "thi tran", "huyen", "phuong", "xa", "quan", "tp", "tx", "tt", "h", "q", "p")

BACK_WORDS = frozenset({"quay lai", "tro lai", "back", "lui lai"})
DONE_WORDS = frozenset({"xong", "xong roi", "done", "het", "du roi", "da du", "ok", "okay", "tiep", "tiep tuc"})
SKIP_WORDS = frozenset({"bo qua", "khong co anh", "khong co", "ko co", "khong", "skip", "khong anh"})
YES_WORDS = frozenset({"dong y", "co", "ok", "okay", "yes", "u", "uh", "vang", "da", "duoc"})
NO_WORDS = frozenset({"khong", "ko", "k", "no", "khong dong y", "thoi"})
SEND_WORDS = frozenset({"gui", "gui di", "gui phan anh", "dong y", "ok", "xac nhan", "co", "send"})
EDIT_WORDS = frozenset({"sua", "chinh sua", "sua lai", "edit"})
ANONYMOUS_WORDS = frozenset({"an danh", "gui an danh", "khong", "khong de lai", "khong co", "ko"})
UNKNOWN_DATE_WORDS = frozenset({"khong nho", "khong nho ro", "khong ro", "quen", "khong biet"})


def category_in_sentence(text: str, config: AppConfig) -> str | None:
    """The one category a sentence names, if it names exactly one; None for none or several."""
    folded = fold_text(text)
    found = [
        c.id
        for c in config.categories
        if any(
            re.search(rf"\b{re.escape(words)}\b", folded)
            for words in (fold_text(c.name), *SENTENCE_CATEGORY_WORDS.get(c.id, ()))
            if " " in words  # one word ("khác") says too little
        )
    ]
    return found[0] if len(found) == 1 else None


def _core_area(folded: str) -> str:
    for prefix in _AREA_PREFIXES:
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1 :]
    return folded


def pick_area(text: str, config: AppConfig) -> str | None:
    options = [(a.id, a.name) for a in config.areas]
    found = pick_option(text, options)
    if found:
        return found
    wanted = _core_area(fold_text(text))
    if len(wanted) < 2:
        return None
    exact = [a.id for a in config.areas if _core_area(fold_text(a.name)) == wanted]
    if len(exact) == 1:
        return exact[0]
    partial = [a.id for a in config.areas if f" {wanted} " in f" {_core_area(fold_text(a.name))} "]
    return partial[0] if len(partial) == 1 else None


_DATE = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})(?:\s*[/\-.]\s*(\d{2}|\d{4}))?$", re.ASCII)


class DateError(ValueError):
    pass


def parse_purchase_date(text: str, today: date) -> date | None:
    """A typed purchase date; None means "not remembered". Raises :class:`DateError` with the reason."""
    folded = fold_text(text)
    if folded in UNKNOWN_DATE_WORDS:
        return None
    relative = {"hom nay": 0, "nay": 0, "hom qua": 1, "qua": 1, "hom kia": 2}
    if folded in relative:
        return today - timedelta(days=relative[folded])
    match = re.match(r"^(\d{1,3}) ngay truoc$", folded, re.ASCII)
    if match:
        return today - timedelta(days=int(match.group(1)))
    match = _DATE.match(text.strip())
    if not match:
        raise DateError("format")
    day, month = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else today.year
    if year < 100:
        year += 2000
    try:
        value = date(year, month, day)
    except ValueError as exc:
        raise DateError("format") from exc
    if value > today and not match.group(3):
        value = value.replace(year=year - 1)  # "28/12" typed in January means last December
    if value > today:
        raise DateError("future")
    if value.year < today.year - 10:
        raise DateError("old")
    return value


def choice_arg(prefix: str, index: int, key: str) -> str:
    """A button argument naming an option by id, or by position when the id is too long for a payload."""
    arg = f"{prefix}:{key}"
    return arg if len(arg) <= MAX_PAYLOAD_ARG else f"{prefix}:#{index}"


def resolve_choice(value: str, keys: list[str]) -> str | None:
    if value.startswith("#"):
        number = ascii_int(value[1:])
        return keys[number] if number is not None and number < len(keys) else None
    return value if value in keys else None
