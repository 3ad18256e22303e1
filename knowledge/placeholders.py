"""Placeholders in knowledge entries for the competent body, filled from the deployment's configuration.

An entry never names a Sở by hand: ``{{so}}`` is the department competent on the day the question is about
(today's Sở Công Thương Đồng Nai, or the 2024 plan's Sở Công Thương tỉnh Bình Phước for a question about 2024),
``{{tinh}}`` its province, ``{{so_web}}`` its portal, ``{{so_dkkm}}`` its online promotion-filing system; the
same names ending in ``_nay`` are today's, whatever day the question is about ("hiện nay là {{so_nay}}"). The
caller (``handlers/qa.py``) gives the values; a value it does not give reads as the neutral default.
``kb check`` reports an unknown placeholder and a Sở named by hand (:func:`problems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_BASE = {
    "so": "Sở Công Thương",
    "tinh": "tỉnh",
    "so_web": "cổng thông tin điện tử của Sở Công Thương",
    "so_dkkm": "hệ thống đăng ký khuyến mại trực tuyến của Sở Công Thương",
}
DEFAULTS = {**_BASE, **{f"{name}_nay": value for name, value in _BASE.items()}}
# A department or its sites typed by hand in an answer: what the placeholders are for.
HAND_WRITTEN = re.compile(r"Sở Công Thương (?:tỉnh )?Đồng Nai|sct\.dongnai\.gov\.vn|dkkm\.dongnai\.gov\.vn")


def fill(text: str, values: Mapping[str, str] | None = None) -> str:
    """*text* with each ``{{name}}`` replaced by ``values[name]`` (else its default; unknown names stay)."""
    given = {**DEFAULTS, **{k: v for k, v in (values or {}).items() if v}}
    return PLACEHOLDER.sub(lambda m: given.get(m.group(1), m.group(0)), text)


def problems(text: str) -> list[tuple[str, str]]:
    """(code, message) for each unknown placeholder and each department named by hand in *text*."""
    out = [
        ("unknown-placeholder", f"không có chỗ điền '{{{{{name}}}}}' (có: {', '.join(sorted(DEFAULTS))})")
        for name in PLACEHOLDER.findall(text)
        if name not in DEFAULTS
    ]
    out += [
        ("hand-written-authority", f"ghi tay '{found}': dùng {{{{so}}}}, {{{{so_web}}}}, {{{{so_dkkm}}}} (hoặc …_nay)")
        for found in HAND_WRITTEN.findall(text)
    ]
    return out
