"""Vietnamese texts of the promotion check in the chat."""

from __future__ import annotations

from knowledge.promotion.texts import FORM_NAMES, GOODS_NAMES, Q_BEER_DEGREES, Q_DISCOUNT_AMOUNT, Q_NO_FORMS

INTRO = (
    "🧾 Kiểm tra chương trình khuyến mại\n"
    "Mình hỏi vài câu ngắn rồi cho bạn biết mức tối đa, việc phải thông báo hay đăng ký và căn cứ pháp lý. "
    "Bấm «Quay lại» để sửa câu trước, hoặc gõ «hủy» bất cứ lúc nào."
)
UNDERSTOOD = "Mình hiểu chương trình của bạn: {summary}."
TO_CHECK = "Để kiểm tra giúp bạn, cho mình biết thêm:"
Q_FORM = Q_NO_FORMS + " Bạn bấm một nút hoặc gõ (có thể nhiều hình thức)."
Q_AMOUNT = {
    "discount": Q_DISCOUNT_AMOUNT + " Ví dụ «70 %» hoặc «giá 500k còn 200k».",
    "gift": "Mua mấy tặng mấy (ví dụ «mua 2 tặng 1»), hoặc quà trị giá bao nhiêu cho sản phẩm giá bao nhiêu "
    "(ví dụ «quà 60k cho sản phẩm 100k»)?",
    "voucher": "Phiếu mua hàng trị giá bao nhiêu, áp dụng cho đơn hàng bao nhiêu (ví dụ «phiếu 200k cho đơn 300k»)?",
}
Q_DATES = (
    "Chương trình chạy từ ngày nào đến ngày nào? Ví dụ «29/11 đến 1/12», «cuối tháng 11», «tuần sau», "
    "«3 tuần trước Tết», hoặc bấm một dịp bên dưới."
)
Q_PLACE = "Chương trình thực hiện ở đâu? Bấm một nút, hoặc gõ tên các tỉnh, thành phố."
Q_GOODS = "Hàng hóa, dịch vụ được khuyến mại thuộc loại nào?"
Q_DEGREES = Q_BEER_DEGREES + " Bạn gõ số độ, ví dụ «5 độ»."
NOT_FORM = "Mình chưa nhận ra hình thức khuyến mại trong câu trả lời."
NOT_AMOUNT = "Mình chưa đọc được con số nào trong câu trả lời."
NOT_DATES = "Mình chưa đọc được ngày bắt đầu và ngày kết thúc."
NOT_PLACE = "Mình chưa nhận ra tỉnh, thành phố hay kênh bán nào."
NOT_DEGREES = "Bạn gõ độ cồn bằng số nhé, ví dụ «5 độ»."
CAMPAIGN_UNKNOWN = "Lịch {name} năm {year} chưa được công bố trong cấu hình của Sở, nên mình chưa tính theo dịp đó."
AFTER_TET = "«Sau Tết» chưa đủ để biết ngày cụ thể."
BACK = "⬅️ Quay lại"
CANCEL = "✖️ Hủy"
CANCELLED = "Đã hủy kiểm tra chương trình khuyến mại. Bạn cần gì tiếp theo?"
RESUMED = "🧾 Bạn đang kiểm tra dở một chương trình khuyến mại — mình tiếp tục từ câu trước nhé."

FORM_BUTTONS = (
    ("discount", "💸 Giảm giá"),
    ("gift", "🎁 Mua … tặng … / quà kèm khi mua"),
    ("voucher", "🎟 Phiếu mua hàng, mã giảm giá"),
    ("lucky_draw", "🎰 Quay số, bốc thăm trúng thưởng"),
    ("contest", "📝 Cuộc thi, phiếu dự thi"),
    ("loyalty", "⭐ Khách hàng thân thiết, tích điểm"),
    ("sample", "🧪 Hàng mẫu, dùng thử"),
    ("gift_no_purchase", "🎀 Tặng quà không cần mua"),
    ("event", "🎤 Sự kiện văn hóa, giải trí"),
)
AMOUNT_BUTTONS = {
    "discount": (("30", "30 %"), ("50", "50 %"), ("70", "70 %"), ("100", "100 %")),
    "gift": (("1-1", "Mua 1 tặng 1"), ("2-1", "Mua 2 tặng 1"), ("3-1", "Mua 3 tặng 1")),
    "voucher": (),
}
PLACE_BUTTONS = (
    ("home", "📍 Chỉ tại {province}"),
    ("nation", "🇻🇳 Nhiều tỉnh / toàn quốc"),
    ("platform", "🛒 Chỉ bán trên sàn TMĐT"),
    ("online", "🌐 Bán trực tuyến (và tại cửa hàng ở {province})"),
)
GOODS_BUTTONS = (
    ("none", "📦 Hàng thông thường"),
    ("spirits", "🍶 Rượu"),
    ("beer", "🍺 Bia"),
    ("tobacco", "🚬 Thuốc lá"),
    ("breast_milk_substitute", "🍼 Sữa thay thế sữa mẹ (trẻ dưới 24 tháng)"),
    ("medicine", "💊 Thuốc chữa bệnh"),
    ("fresh_food", "🥬 Thực phẩm tươi sống"),
)


def summary(plan: dict) -> str:
    """«giảm giá 70 %, từ 29/11/2024 đến 01/12/2024, tại Đồng Nai, trực tuyến» from a plan read so far."""
    parts = [", ".join(FORM_NAMES[f] for f in plan.get("forms", []) if f in FORM_NAMES)]
    if plan.get("discount_percent") is not None:
        parts.append(f"mức giảm {plan['discount_percent']:g} %")
    if plan.get("voucher_percent") is not None:
        parts.append(f"phiếu giảm {plan['voucher_percent']:g} %")
    if plan.get("buy_quantity"):
        parts.append(f"mua {plan['buy_quantity']:g} tặng {plan.get('free_quantity', 0):g}")
    for key, label in (("voucher_value", "phiếu"), ("gift_value", "quà"), ("price", "giá"), ("order_value", "đơn")):
        if plan.get(key):
            parts.append(f"{label} {round(plan[key]):,} đ".replace(",", "."))
    if plan.get("start"):
        parts.append(f"từ {_day(plan['start'])}" + (f" đến {_day(plan['end'])}" if plan.get("end") else ""))
    places = plan.get("provinces") or []
    if places:
        parts.append("tại " + (", ".join(places) if len(places) <= 5 else f"{len(places)} tỉnh, thành phố"))
    if plan.get("platform_only"):
        parts.append("chỉ bán trên sàn thương mại điện tử")
    elif plan.get("online"):
        parts.append("có bán trực tuyến")
    goods = [GOODS_NAMES[g] for g in plan.get("goods", []) if g in GOODS_NAMES]
    if goods:
        parts.append("hàng: " + ", ".join(goods))
    return ", ".join(p for p in parts if p) or "chưa rõ"


def _day(value: str) -> str:
    day = f"{value[8:10]}/{value[5:7]}/{value[:4]}"
    return f"{value[11:16]} {day}" if len(value) > 10 else day
