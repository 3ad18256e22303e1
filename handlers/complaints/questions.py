"""The steps of the complaint report in order, and the question each one asks (with its buttons)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from handlers.complaints import place
from handlers.complaints.answers import choice_arg
from handlers.complaints.photos import MAX_PHOTOS
from handlers.complaints.vocabulary import ONLINE, PLATFORMS, area_name, category_name, contact_text, date_text
from handlers.core import Context, Flow
from handlers.phone import format_phone
from handlers.types import Button

PRIVACY = (
    "🔒 Số điện thoại chỉ dùng để cơ quan chức năng liên hệ xác minh phản ánh này, không công khai; trong nhóm "
    "cán bộ số được che bớt (ví dụ 09xx xxx 678). Phản ánh ẩn danh không lưu số điện thoại hay tên của bạn."
)


class Step(enum.StrEnum):
    CATEGORY = "category"
    PLATFORM = "platform"
    SELLER = "seller"
    SELLER_WHERE = "seller_where"
    PRODUCT = "product"
    PURCHASE_DATE = "purchase_date"
    DESCRIPTION = "description"
    PHOTOS = "photos"
    AREA = "area"
    CONTACT = "contact"
    CONSENT = "consent"
    CONFIRM = "confirm"
    EDIT = "edit"


ORDER = [
    Step.CATEGORY,
    Step.PLATFORM,
    Step.SELLER,
    Step.SELLER_WHERE,
    Step.PRODUCT,
    Step.PURCHASE_DATE,
    Step.DESCRIPTION,
    Step.PHOTOS,
    Step.AREA,
    Step.CONTACT,
    Step.CONSENT,
    Step.CONFIRM,
]
EDITABLE = {
    Step.CATEGORY: "Loại vi phạm",
    Step.PLATFORM: "Nơi mua",
    Step.SELLER: "Người bán",
    Step.SELLER_WHERE: "Link / địa chỉ",
    Step.PRODUCT: "Sản phẩm",
    Step.PURCHASE_DATE: "Ngày mua",
    Step.DESCRIPTION: "Nội dung",
    Step.PHOTOS: "Ảnh",
    Step.AREA: "Địa bàn",
    Step.CONTACT: "Liên hệ",
}
NUMBERED = 10  # steps shown as "Bước n/10" (consent is part of step 10)

Rows = list[list[Button]]


def nav(flow: Flow, *, back: bool = True) -> list[Button]:
    row = [flow.button("⬅️ Quay lại", "back")] if back else []
    return [*row, flow.button("✖️ Hủy", "cancel")]


def photo_buttons(flow: Flow, count: int) -> Rows:
    if count:
        rows = [[flow.button(f"✅ Xong ({count} ảnh)", "done")], [flow.button("🗑 Xóa ảnh đã gửi", "clear")]]
    else:
        rows = [[flow.button("⏭ Bỏ qua, không có ảnh", "skip")]]
    return [*rows, nav(flow)]


def delete_buttons(flow: Flow, count: int) -> Rows:
    """Which photo to take out: one button per photo, all of them, or none."""
    ones = [flow.button(f"Ảnh {i}", f"del:{i}") for i in range(1, count + 1)]
    rows = [ones[i : i + 5] for i in range(0, len(ones), 5)]
    return [*rows, [flow.button("🗑 Bỏ tất cả ảnh", "del:all")], [flow.button("↩️ Giữ nguyên", "keep")]]


def ask(flow: Flow, ctx: Context) -> None:
    """Ask the question of the step in ``ctx.state`` (the summary at the end, the field list when editing)."""
    assert ctx.state is not None
    step = Step(ctx.state.step)
    data = ctx.data
    if step is Step.CONFIRM:
        summary(flow, ctx, data)
        return
    if step is Step.EDIT:
        fields = list(EDITABLE.items())
        rows = [
            [flow.button(label, f"edit:{key.value}") for key, label in fields[i : i + 2]]
            for i in range(0, len(fields), 2)
        ]
        ctx.reply("Bạn muốn sửa mục nào?", [*rows, [flow.button("⬅️ Quay lại bản tóm tắt", "back")]])
        return
    number = min(ORDER.index(step) + 1, NUMBERED)
    head = f"({'Sửa' if data.get('editing') else f'Bước {number}/{NUMBERED}'}) "
    question, rows = QUESTIONS[step](flow, ctx, data)
    ctx.reply(head + question, rows)


def _category(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    rows = [[flow.button(c.name, choice_arg("cat", i, c.id))] for i, c in enumerate(ctx.config.categories)]
    return "Bạn muốn phản ánh về vấn đề gì?", [*rows, nav(flow, back=bool(data.get("editing")))]


def _platform(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    items = list(PLATFORMS.items())
    rows = [[flow.button(label, f"plat:{key}") for key, label in items[i : i + 2]] for i in range(0, len(items), 2)]
    return "Bạn mua hàng ở đâu?", [*rows, nav(flow)]


def _seller(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return "Tên người bán hoặc tên gian hàng là gì? (ví dụ: «Shop Mỹ Phẩm Hoa Hồng»)", [nav(flow)]


def _seller_where(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    if data.get("platform") in ONLINE:
        question = "Bạn dán đường link gian hàng hoặc sản phẩm (sao chép từ ứng dụng) nhé."
    else:
        question = "Địa chỉ cửa hàng hoặc vị trí sạp ở chợ là gì?"
    return question, [[flow.button("🤷 Không nhớ / bỏ qua", "skip")], nav(flow)]


def _product(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return "Sản phẩm bạn mua là gì? (tên sản phẩm, nhãn hiệu nếu có)", [nav(flow)]


def _purchase_date(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return (
        "Bạn mua hàng ngày nào? Bạn chọn nút hoặc gõ ngày, ví dụ 25/11/2024.",
        [
            [flow.button("Hôm nay", "date:today"), flow.button("Hôm qua", "date:yesterday")],
            [flow.button("🤷 Không nhớ rõ", "date:unknown")],
            nav(flow),
        ],
    )


def _description(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return (
        "Bạn kể ngắn gọn chuyện gì đã xảy ra: hàng có dấu hiệu gì (giả, kém chất lượng, khác quảng cáo, giảm giá "
        "không thật…), giá mua, người bán trả lời thế nào…",
        [nav(flow)],
    )


def _photos(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return (
        f"📷 Bạn gửi ảnh làm bằng chứng: sản phẩm, nhãn mác, hóa đơn, ảnh chụp đoạn chat… (tối đa {MAX_PHOTOS} "
        "ảnh, gửi nhiều ảnh một lần cũng được). Đủ ảnh thì bấm «Xong»; không có ảnh thì bấm «Bỏ qua».",
        photo_buttons(flow, len(data.get("photos", []))),
    )


def _area(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    where = "Bạn đang ở" if data.get("platform") in ONLINE else "Nơi bán thuộc"
    if ctx.config.area_units is not None:  # today's communes: typed, never one button each
        return place.question(flow, ctx, data, where)
    buttons = [flow.button(a.name, choice_arg("area", i, a.id)) for i, a in enumerate(ctx.config.areas)]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return f"{where} địa bàn nào?", [*rows, nav(flow)]


def _contact(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return (
        "Số điện thoại để cán bộ liên hệ khi cần xác minh là số nào? Không muốn để lại liên hệ thì bấm «Gửi ẩn "
        "danh».\n" + PRIVACY,
        [[flow.button("🙈 Gửi ẩn danh", "anonymous")], nav(flow)],
    )


def _consent(flow: Flow, ctx: Context, data: dict[str, Any]) -> tuple[str, Rows]:
    return (
        f"Bạn đồng ý để cán bộ gọi hoặc nhắn tin tới số {format_phone(data['phone'])} về phản ánh này chứ?",
        [
            [flow.button("✅ Đồng ý", "consent:yes")],
            [flow.button("❌ Không, tôi theo dõi bằng mã", "consent:no")],
            nav(flow),
        ],
    )


QUESTIONS: dict[Step, Callable[[Flow, Context, dict[str, Any]], tuple[str, Rows]]] = {
    Step.CATEGORY: _category,
    Step.PLATFORM: _platform,
    Step.SELLER: _seller,
    Step.SELLER_WHERE: _seller_where,
    Step.PRODUCT: _product,
    Step.PURCHASE_DATE: _purchase_date,
    Step.DESCRIPTION: _description,
    Step.PHOTOS: _photos,
    Step.AREA: _area,
    Step.CONTACT: _contact,
    Step.CONSENT: _consent,
}


def summary(flow: Flow, ctx: Context, data: dict[str, Any]) -> None:
    """The whole draft to check before it is sent, with Gửi / Sửa / Hủy."""
    config = ctx.config
    photos = len(data.get("photos", []))
    lines = [
        "📋 Bạn kiểm tra lại phản ánh nhé:",
        f"• Loại: {category_name(config, data['category'])}",
        f"• Nơi mua: {PLATFORMS[data['platform']]}",
        f"• Người bán: {data['seller']}",
        f"• Link / địa chỉ: {data.get('seller_where') or 'không có'}",
        f"• Sản phẩm: {data['product']}",
        f"• Ngày mua: {date_text(data.get('purchase_date'))}",
        f"• Nội dung: {data['description']}",
        f"• Ảnh: {photos} ảnh" if photos else "• Ảnh: không có",
    ]
    if data.get("note"):
        lines.append(f"• Ghi chú kèm ảnh: {data['note']}")
    lines += [
        f"• Địa bàn: {area_name(config, data['area'])}",
        "• Liên hệ: "
        + contact_text(bool(data.get("anonymous")), data.get("phone"), bool(data.get("consent")), masked=False),
        "",
        "🔒 Thông tin chỉ dùng để cơ quan chức năng xác minh, xử lý phản ánh.",
        "Bấm «Gửi phản ánh» để gửi, «Sửa» để chỉnh một mục, hoặc «Hủy».",
    ]
    ctx.reply(
        "\n".join(lines),
        [
            [flow.button("📨 Gửi phản ánh", "send")],
            [flow.button("✏️ Sửa", "edit"), flow.button("✖️ Hủy", "cancel")],
        ],
    )
