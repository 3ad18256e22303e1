"""What people type, made safe to read, store and show: one place for every channel and every export.

- ``ascii_int``: a number typed by a person, ASCII digits only ('²', '①', '٣', '፩' are text, never a crash);
- ``clean_text`` / ``clean_message``: NUL, other control characters and lone surrogates removed at the
  channel boundary, so the database always takes the row and every stream can print it;
- ``mask_contacts``: phone numbers and e-mail addresses inside free text masked for staff-facing text;
- ``spreadsheet_cell``: a cell that would start a formula in a spreadsheet is written as text.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

from handlers.phone import mask_phone, normalise_phone
from handlers.types import IncomingMessage, MediaRef

_ASCII_NUMBER = re.compile(r"[0-9]{1,18}")  # at most 18 digits: fits a 64-bit column, never an overflow
_KEEP_CONTROLS = frozenset("\n\t")
# A phone number written in a sentence: 0 or +84/84, then 8–10 more digits with optional single separators.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+84|0084|84|0)(?:[ .\-]?[0-9]){8,10}(?![0-9])")
_EMAIL_IN_TEXT = re.compile(r"\b([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>«»\"]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>«»\"]*", re.IGNORECASE
)


def ascii_int(text: str | None) -> int | None:
    """'12' → 12; ' 3 ' → 3; '²', '①', '٣', '-1', '' or None → None (only ASCII digits make a number)."""
    if text is None:
        return None
    stripped = text.strip()
    return int(stripped) if _ASCII_NUMBER.fullmatch(stripped) else None


def _kept(ch: str) -> bool:
    if ch in _KEEP_CONTROLS:
        return True
    category = unicodedata.category(ch)
    return category not in ("Cc", "Cs")  # control characters (NUL included) and lone surrogates go


def clean_text(text: str | None) -> str:
    """Drop NUL, control characters (a line break and a tab stay; CR LF becomes LF) and lone surrogates."""
    if not text:
        return text or ""
    text = text.replace("\r\n", "\n")
    if text.isprintable():
        return text
    return "".join(ch for ch in text if _kept(ch))


def _clean_ref(ref: MediaRef) -> MediaRef:
    return dataclasses.replace(ref, file_name=clean_text(ref.file_name) or None) if ref.file_name else ref


def clean_message(msg: IncomingMessage) -> IncomingMessage:
    """The message with every field a person wrote cleaned (text, display name, file names); the same object."""
    msg.text = clean_text(msg.text)
    msg.display_name = clean_text(msg.display_name)
    if msg.button is not None:
        msg.button = clean_text(msg.button)
    msg.photos = [_clean_ref(ref) for ref in msg.photos]
    if msg.document is not None:
        msg.document = _clean_ref(msg.document)
    return msg


def _mask_phone_match(match: re.Match[str]) -> str:
    found = match.group(0)
    phone = normalise_phone(found)
    if phone is not None:
        return mask_phone(phone)
    digits = re.sub(r"[^0-9]", "", found)
    return digits[:2] + "x" * (len(digits) - 5) + digits[-3:]


def mask_contacts(text: str | None) -> str:
    """'gọi tôi 0987654321 hoặc an.nguyen@gmail.com' → 'gọi tôi 09xx xxx 321 hoặc a***@gmail.com'."""
    if not text:
        return text or ""
    text = _PHONE_IN_TEXT.sub(_mask_phone_match, text)
    return _EMAIL_IN_TEXT.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def spreadsheet_cell(value: object) -> object:
    """A text cell starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe, so CSV
    readers and Excel show it as text and never run it as a formula; other values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def find_link(text: str) -> str | None:
    """The first web link in ``text`` ('link đây nè https://shopee.vn/x' → 'https://shopee.vn/x'), or None."""
    match = _LINK.search(text)
    return match.group(0).rstrip(".,;:!?)") if match else None


def visible_length(text: str) -> int:
    """Characters that show something: letters, digits, emoji and other symbols (not spaces or punctuation)."""
    return sum(1 for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith(("P", "C", "Z")))


def vn_number(value: int) -> str:
    """A whole number the Vietnamese way: 6646 → '6.646'."""
    return f"{value:,}".replace(",", ".")
