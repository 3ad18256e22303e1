"""Vietnamese phone numbers: validate, normalise to E.164, format, mask for staff-facing text."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()/]")
# Mobile: 03[2-9], 05[2-9], 07[06-9], 08[1-9], 09x then 7 digits (10 digits in all).
_MOBILE = re.compile(r"^0(3[2-9]|5[2-9]|7[06-9]|8[1-9]|9\d)\d{7}$")
# Landline since 2017: 02 + area code + subscriber number, 11 digits in all (e.g. 0271 3xxx xxx).
_LANDLINE = re.compile(r"^02\d{9}$")


def normalise_phone(text: str) -> str | None:
    """'0912 345 678', '+84 912.345.678', '84912345678' → '+84912345678'; None when not a valid number."""
    raw = _SEPARATORS.sub("", text.strip())
    if raw.startswith("+84"):
        raw = "0" + raw[3:]
    elif raw.startswith("0084"):
        raw = "0" + raw[4:]
    elif raw.startswith("84") and len(raw) in (11, 12):
        raw = "0" + raw[2:]
    if not raw.isascii() or not raw.isdigit():
        return None
    if _MOBILE.match(raw) or _LANDLINE.match(raw):
        return "+84" + raw[1:]
    return None


def national(phone: str) -> str:
    """'+84912345678' → '0912345678'."""
    return "0" + phone[3:] if phone.startswith("+84") else phone


def _group(digits: str) -> str:
    # 10 digits: 4-3-3 (0912 345 678); 11 digits: 4-3-4 (0271 387 9123).
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


def format_phone(phone: str) -> str:
    """'+84912345678' → '0912 345 678' (how the reporter sees their own number)."""
    return _group(national(phone))


def mask_phone(phone: str | None) -> str:
    """'+84912345678' → '09xx xxx 678': what staff-facing text shows (group chats, lists, exports)."""
    if not phone:
        return ""
    digits = national(phone)
    masked = digits[:2] + "x" * (len(digits) - 5) + digits[-3:]
    return _group(masked)
