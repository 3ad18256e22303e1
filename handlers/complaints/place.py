"""The area step under a configuration of today's communes and wards (``area_units``).

The reporter types a commune or ward of today, or an old address ("Bù Đăng", "phường Tân Phú, Đồng Xoài",
"huyện Lộc Ninh cũ"), with or without diacritics. One candidate is proposed to confirm (Đúng / Không); several are
offered as buttons (numbered lines on Zalo); «Ngoài tỉnh» is always a choice. The list of all communes is never
shown as buttons. Candidates waiting for an answer live in the draft (``area_pending``); ``area_was`` keeps the
old unit they come from, for the question.
"""

from __future__ import annotations

from typing import Any

from handlers.areas import Recognition, recognise
from handlers.complaints.answers import NO_WORDS, YES_WORDS, choice_arg, resolve_choice
from handlers.config import AppConfig
from handlers.core import Context, Flow
from handlers.matching import fold_text, pick_option
from handlers.text_safety import ascii_int
from handlers.types import Button

Rows = list[list[Button]]

RETYPE = "area:retype"
OUTSIDE_NOTE = (
    "🌏 Mình ghi nhận nơi mua ở ngoài tỉnh {province}: phản ánh vẫn được chuyển tới bộ phận điều phối của "
    "{department} để xem xét. Lưu ý: từ 01/07/2025, Sở Công Thương nơi người tiêu dùng cư trú giải quyết tranh "
    "chấp giữa người tiêu dùng và doanh nghiệp (Nghị định 146/2025/NĐ-CP), nên nếu bạn sống ở tỉnh khác, "
    "Sở Công Thương tỉnh bạn có thể là nơi có thẩm quyền."
)
UNKNOWN = (
    "Mình chưa nhận ra xã, phường này. Bạn gõ tên xã, phường hiện nay (ví dụ «Trấn Biên», «Bù Đăng») hoặc địa "
    "chỉ cũ kèm huyện (ví dụ «phường Tân Phú, Đồng Xoài»); mua ở tỉnh khác thì bấm «Ngoài tỉnh»."
)


def question(flow: Flow, ctx: Context, data: dict[str, Any], where: str) -> tuple[str, Rows]:
    """The area question: candidates to choose or confirm when some are waiting, else ask for a name."""
    config = ctx.config
    assert config.area_units is not None
    outside = config.area_units.outside
    outside_row = [flow.button(f"🌏 {_name(config, outside)}", choice_arg("area", _index(config, outside), outside))]
    nav = [flow.button("⬅️ Quay lại", "back"), flow.button("✖️ Hủy", "cancel")]
    pending = list(data.get("area_pending") or [])
    was = data.get("area_was") or ""
    before = f" (trước đây thuộc {was})" if was else ""
    if len(pending) == 1:
        only = pending[0]
        return (
            f"Có phải {_name(config, only)}{before}?",
            [
                [flow.button("✅ Đúng", choice_arg("area", _index(config, only), only))],
                [flow.button("✏️ Không, gõ lại", RETYPE)],
                outside_row,
                nav,
            ],
        )
    if pending:
        rows = [[flow.button(_name(config, key), choice_arg("area", _index(config, key), key))] for key in pending]
        return (
            f"Địa chỉ này nay thuộc một trong các xã, phường dưới đây{before}. Bạn chọn đúng nơi nhé:",
            [*rows, [flow.button("✏️ Không có, gõ lại", RETYPE)], outside_row, nav],
        )
    return (
        f"{where} xã, phường nào? Bạn gõ tên xã, phường hiện nay hoặc địa chỉ cũ trước sáp nhập "
        "(ví dụ «Bù Đăng», «phường Tân Phú, Đồng Xoài»), có dấu hay không dấu đều được.",
        [outside_row, nav],
    )


def answer(ctx: Context, data: dict[str, Any], arg: str, text: str) -> str | None:
    """Read the reporter's answer. Returns the chosen area id, or None when the step asks again (with
    candidates now waiting, or after a message saying why)."""
    config = ctx.config
    assert config.area_units is not None
    pending = list(data.get("area_pending") or [])
    if arg == RETYPE:
        forget(data)
        return None
    if arg.startswith("area:"):
        key = resolve_choice(arg[5:], [a.id for a in config.areas])
        if key is None:
            ctx.reply(UNKNOWN)
        return key
    folded = fold_text(text)
    if pending:
        if len(pending) == 1 and folded in YES_WORDS:
            return pending[0]
        if len(pending) == 1 and folded in NO_WORDS:
            forget(data)
            return None
        if ascii_int(folded) is not None:
            picked = pick_option(folded, [(key, _name(config, key)) for key in pending])
            if picked is None:
                ctx.reply(f"Bạn chọn số từ 1 đến {len(pending)} hoặc gõ lại tên xã, phường nhé.")
            return picked
    found = recognise(text, config.area_units.province)
    return _recognised(ctx, data, found)


def chosen(ctx: Context, data: dict[str, Any], key: str) -> None:
    """Record the chosen area; an area outside the province gets the note about the competent Sở."""
    config = ctx.config
    forget(data)
    data["area"] = key
    if config.area_units is not None and key == config.area_units.outside:
        ctx.reply(OUTSIDE_NOTE.format(province=config.department.province, department=config.department.name))


def _recognised(ctx: Context, data: dict[str, Any], found: Recognition) -> str | None:
    config = ctx.config
    assert config.area_units is not None
    if found.kind == "outside":
        return config.area_units.outside
    if found.kind in ("one", "several"):
        data["area_pending"] = list(found.ids)
        data["area_was"] = found.was
        return None
    forget(data)
    ctx.reply(UNKNOWN)
    return None


def forget(data: dict[str, Any]) -> bool:
    """Drop the candidates waiting for an answer; whether there were any."""
    data.pop("area_was", None)
    return bool(data.pop("area_pending", None))


def _name(config: AppConfig, key: str) -> str:
    area = config.area(key)
    return area.name if area else key


def _index(config: AppConfig, key: str) -> int:
    return next(i for i, area in enumerate(config.areas) if area.id == key)
