"""Vietnamese wording of the promotion verdict: names, numbers, dates, questions and the rendered answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

FORM_NAMES = {
    "sample": "đưa hàng mẫu, dịch vụ mẫu",
    "gift": "tặng hàng hóa, dịch vụ kèm khi mua",
    "gift_no_purchase": "tặng hàng hóa, dịch vụ không kèm mua",
    "discount": "giảm giá",
    "voucher": "phiếu mua hàng, phiếu sử dụng dịch vụ",
    "contest": "phiếu dự thi",
    "lucky_draw": "chương trình may rủi (quay số, bốc thăm)",
    "loyalty": "khách hàng thường xuyên",
    "event": "sự kiện văn hóa, nghệ thuật, giải trí",
    "other_approved": "hình thức khác được chấp thuận",
}

GOODS_NAMES = {
    "spirits": "rượu",
    "beer": "bia",
    "lottery": "vé xổ số",
    "tobacco": "thuốc lá",
    "breast_milk_substitute": "sản phẩm thay thế sữa mẹ",
    "medicine": "thuốc chữa bệnh cho người",
    "public_medical_service": "dịch vụ khám chữa bệnh công lập",
    "public_education_service": "dịch vụ giáo dục công lập",
    "public_vocational_service": "dịch vụ giáo dục nghề nghiệp công lập",
    "banned_goods": "hàng cấm lưu thông",
    "price_stabilisation": "hàng bình ổn giá",
    "fresh_food": "thực phẩm tươi sống",
    "bankruptcy": "hàng của doanh nghiệp phá sản",
    "dissolution": "hàng của doanh nghiệp giải thể",
    "relocation": "hàng do chuyển địa điểm kinh doanh",
    "change_of_line": "hàng do thay đổi ngành nghề kinh doanh",
}

ICONS = {"info": "📌", "ok": "✅", "over": "❌", "banned": "⛔", "unknown": "❓", "warning": "⚠️"}


def pct(value: float) -> str:
    """66.666… → ``66,7 %``; 50.0 → ``50 %``."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',')} %"


def money(value: float) -> str:
    """200000 → ``200.000 đ``."""
    return f"{round(value):,} đ".replace(",", ".")


def vn_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def vn_datetime(moment: datetime) -> str:
    return moment.strftime("%H:%M %d/%m/%Y")


def vn_end(moment: datetime) -> str:
    """An end instant; midnight reads as ``24:00`` of the day before (a programme "đến hết 01/12")."""
    if moment.hour == moment.minute == moment.second == 0:
        return f"24:00 {vn_date(moment.date() - timedelta(days=1))}"
    return vn_datetime(moment)


def span(valid_from: date, until: date | None) -> str:
    """``áp dụng từ 01/12/2024 đến 30/06/2025`` or ``áp dụng từ 01/07/2025``."""
    return f"áp dụng từ {vn_date(valid_from)}" + (f" đến {vn_date(until)}" if until else "")


# Questions and errors on the input (each one a line the chat can send back as it is).
Q_NO_FORMS = "Chương trình dùng hình thức khuyến mại nào (giảm giá, tặng quà, phiếu mua hàng, quay số…)?"
Q_UNKNOWN_FORM = "Mình chưa hiểu hình thức «{value}». Bạn chọn một trong: {names}."
Q_NO_START = "Chương trình bắt đầu từ ngày nào (ví dụ 29/11/2024)?"
Q_NO_END = "Chương trình kết thúc ngày nào?"
Q_BAD_DATE = "Ngày «{value}» không hợp lệ. Bạn ghi lại theo dạng ngày/tháng/năm (ví dụ 29/11/2024) nhé."
Q_END_BEFORE_START = "Ngày kết thúc ({end}) đang trước ngày bắt đầu ({start}). Bạn kiểm tra lại giúp mình nhé."
Q_PERCENT_RANGE = "Mức giảm {value} không hợp lệ: mức giảm phải từ 0 đến 100 %. Bạn kiểm tra lại nhé."
Q_NEGATIVE = "Giá trị «{field}» không được âm. Bạn kiểm tra lại nhé."
Q_NOT_NUMBER = "Giá trị «{field}» phải là một con số. Bạn kiểm tra lại nhé."
Q_SALE_ABOVE_PRICE = "Giá sau khuyến mại đang cao hơn giá gốc. Bạn kiểm tra lại nhé."
Q_DISCOUNT_AMOUNT = "Chương trình giảm bao nhiêu phần trăm (hoặc giá trước và sau khi giảm là bao nhiêu)?"
Q_GIFT_AMOUNT = "Quà (hoặc phiếu) trị giá bao nhiêu, và giá của sản phẩm hoặc đơn hàng được tặng là bao nhiêu?"
Q_PLACE = "Chương trình thực hiện ở tỉnh, thành phố nào (hoặc trực tuyến toàn quốc)?"
Q_NOT_A_PLAN = (
    "Bạn mô tả chương trình khuyến mại giúp mình: hình thức, mức giảm hoặc giá trị quà, ngày bắt đầu và kết thúc."
)


def render_lines(title: str, lines: Sequence[tuple[str, str, str]], questions: Sequence[str]) -> str:
    """The chat answer: a title, then one line per point (icon, text, basis), then any questions."""
    out = [title]
    for status, text, basis in lines:
        icon = ICONS.get(status, "•")
        out.append(f"{icon} {text}" + (f" ({basis})" if basis else ""))
    if questions:
        out.append("Để kiểm tra đầy đủ, bạn cho mình biết thêm:")
        out.extend(f"– {q}" for q in questions)
    return "\n".join(out)


FIELD_NAMES = {
    "discount_percent": "mức giảm (%)",
    "price": "giá gốc",
    "sale_price": "giá sau khuyến mại",
    "gift_value": "giá trị quà tặng",
    "buy_quantity": "số lượng phải mua",
    "free_quantity": "số lượng được tặng",
    "voucher_value": "giá trị phiếu mua hàng",
    "voucher_percent": "mức giảm của phiếu (%)",
    "order_value": "giá trị đơn hàng",
    "total_value": "tổng giá trị khuyến mại",
    "goods_value": "tổng giá trị hàng được khuyến mại",
    "alcohol_degrees": "độ cồn",
    "discount_days_used": "số ngày đã giảm giá trong năm",
}

# Point texts of the verdict (formatted by knowledge.promotion.verdict).
T_TITLE = "Kiểm tra chương trình khuyến mại {start} – {end}:"
T_TITLE_OPEN_END = "Kiểm tra chương trình khuyến mại từ {start} (chưa có ngày kết thúc):"
T_TITLE_UNDATED = (
    "Kiểm tra chương trình khuyến mại (bạn chưa cho biết đủ ngày chạy; các kết luận dưới đây không đổi theo ngày):"
)
T_REGIME = "Quy định áp dụng cho chương trình bắt đầu ngày {day}: {name}."
T_NO_REGIME = "Chương trình bắt đầu trước 15/07/2018: ngoài phạm vi các quy định mình có. Bạn kiểm tra lại ngày nhé."
T_ARITH_DISCOUNT = "giảm từ {price} còn {sale} = {pct}"
T_ARITH_QTY = "mua {buy} tặng {free} = {free}/{buy} = {pct}"
T_ARITH_VOUCHER = "phiếu {value} trên đơn {price} = {pct}"
T_ARITH_GIFT = "quà {value} trên giá {price} = {pct}"
T_CAP_OK = "{form}: {arith} — không vượt mức tối đa {limit}{where}."
T_CAP_OVER = "{form}: {arith} — vượt mức tối đa {limit}{where}."
T_CAP_UNKNOWN = "{form}: chưa đủ số liệu để tính mức khuyến mại (tối đa {limit}{where})."
T_IN_WINDOW = " vì nằm trọn trong «{name}» (chương trình khuyến mại tập trung)"
T_OUT_WINDOW = " (ngoài chương trình khuyến mại tập trung)"
T_NO_CAP = "Giảm giá {goods}: không bị giới hạn mức giảm tối đa."
T_EXEMPT = "Hình thức {forms}: không áp dụng mức trần 50 % giá trị cho mỗi đơn vị hàng."
T_TOTAL_RULE = (
    "Tổng giá trị giải thưởng, quà của chương trình ({total}) không được vượt {limit} tổng giá trị hàng hóa được "
    "khuyến mại."
)
T_TOTAL_OK = "Tổng giá trị khuyến mại {total} trên tổng giá trị hàng {goods} = {pct} — không vượt mức tối đa {limit}."
T_TOTAL_OVER = "Tổng giá trị khuyến mại {total} trên tổng giá trị hàng {goods} = {pct} — vượt mức tối đa {limit}."
T_WINDOW_EDGE = (
    "Chương trình chỉ nằm một phần trong «{name}» ({start} – {end}): chỉ trong khung đó mới được tới 100 %, "
    "ngoài khung tối đa 50 %."
)
T_CUTOVER = "Chương trình kéo qua ngày {day}, ngày quy định mới có hiệu lực: {what}"
CUTOVER_WHAT = {
    "2024-12-01": "Nghị định 128/2024/NĐ-CP sửa đổi Nghị định 81/2018 (chỉ còn phiếu dự thi và khách hàng thường "
    "xuyên phải thông báo).",
    "2025-07-01": "Thông tư 39/2025/TT-BCT quy định mức trần; chương trình bắt đầu trước ngày này được thực hiện "
    "tiếp theo quy định cũ đến khi kết thúc.",
    "2026-06-26": "Nghị định 239/2026/NĐ-CP (theo tin đưa) sửa đổi Nghị định 81/2018.",
    "2026-07-01": "Luật Thương mại điện tử số 122/2025/QH15 (áp dụng cho bán hàng trực tuyến).",
}
T_CUTOVER_OTHER = "quy định áp dụng có thay đổi, bạn kiểm tra lại phần chạy từ ngày đó."
T_NOTIFY = "Phải thông báo ({forms}) đến {authority} chậm nhất ngày {day} ({days} ngày làm việc trước ngày bắt đầu)."
T_NOTIFY_LATE = " Hạn này đã qua so với hôm nay ({today})."
T_NOTIFY_EXEMPT_TOTAL = "Không phải thông báo: tổng giá trị giải thưởng, quà tặng dưới {limit}."
T_NOTIFY_EXEMPT_PLATFORM = "Không phải thông báo: thương nhân chỉ bán qua sàn thương mại điện tử."
T_NOTIFY_NONE = "Không phải thông báo với hình thức {forms} theo quy định áp dụng cho ngày bắt đầu."
T_EACH_SO = "Sở Công Thương của từng tỉnh nơi thực hiện{places}"
T_SO = "Sở Công Thương {place}"
T_REGISTER = (
    "Chương trình may rủi phải đăng ký với {authority} và chỉ được thực hiện khi có văn bản xác nhận; nên nộp "
    "chậm nhất ngày {day} (thời hạn xử lý {days} ngày làm việc)."
)
T_BO = "Bộ Công Thương"
Q_PLATFORM_ONLY = (
    "Trước 01/12/2024, thương nhân chỉ bán qua sàn thương mại điện tử thì không phải thông báo: bạn chỉ bán trên "
    "sàn, hay còn bán ở cửa hàng, website hoặc trang mạng riêng?"
)
T_SO_OR_BO = "Sở Công Thương (chỉ trong một tỉnh) hoặc Bộ Công Thương (từ hai tỉnh trở lên, trực tuyến toàn quốc)"
Q_EXACT_DATES = (
    "Khung khuyến mại tập trung bắt đầu hoặc kết thúc giữa khoảng thời gian bạn nói, nên mức tối đa (100 % hay "
    "50 %) tùy ngày cụ thể: bạn cho mình ngày bắt đầu và kết thúc chính xác nhé."
)
T_BO_WHY_PLACES = " (chạy từ hai tỉnh trở lên hoặc trực tuyến toàn quốc)"
T_BO_WHY_FORM = " (hình thức khác được chấp thuận)"
T_REPORT = (
    "Báo cáo kết quả chương trình may rủi (Mẫu 07) gửi cơ quan đã xác nhận chậm nhất ngày {day} "
    "({days} ngày sau hạn trao giải {deadline})."
)
T_BANNED = "Không được khuyến mại hoặc dùng làm quà: {goods}."
T_BANNED_ALCOHOL = "Không được khuyến mại rượu, bia từ {degrees} độ trở lên ({goods})."
Q_BEER_DEGREES = "Bia có độ cồn bao nhiêu độ? Từ 15 độ trở lên thì không được khuyến mại."
T_BEER_USUAL = (
    "Bia thông thường dưới {degrees} độ nên không thuộc danh mục cấm khuyến mại; nếu loại bia của bạn từ {degrees} "
    "độ trở lên thì không được khuyến mại. Không khuyến mại cho người dưới 18 tuổi."
)
T_BEER_OK = "Bia {degrees} độ không thuộc danh mục cấm khuyến mại; không khuyến mại cho người dưới 18 tuổi."
T_GOODS_OK = "Hàng hóa không thuộc danh mục cấm khuyến mại."
T_MEDICINE_TRADERS = "Thuốc chữa bệnh chỉ được khuyến mại cho thương nhân kinh doanh thuốc: được phép."
T_BUDGET = (
    "Mỗi nhãn hiệu hàng hóa chỉ được giảm giá tối đa {max} ngày/năm (không tính ngày trong chương trình tập "
    "trung). Chương trình này tính {counted} ngày{used}."
)
T_BUDGET_USED = "; cộng {used} ngày đã dùng là {total}/{max} ngày năm {year}"
T_BUDGET_OVER = " Vượt hạn mức."
T_PUBLISH = (
    "Công bố cho khách hàng: tên chương trình, giá, tên, địa chỉ, điện thoại thương nhân, thời gian, địa bàn, "
    "điều kiện tham gia{extra}; niêm yết tại nơi bán hoặc trên hàng hóa, bao bì."
)
T_PUBLISH_DRAW = "; loại giải, giá trị giải, thể lệ và cách xác định trúng thưởng"
T_EARLY_END = (
    "Không được dừng chương trình trước thời hạn đã công bố, trừ bất khả kháng, hết hàng hoặc quà khuyến mại "
    "(phải báo cơ quan quản lý, bảo đảm quyền lợi khách hàng) hoặc bị cơ quan có thẩm quyền đình chỉ."
)
T_ECOM_OLD = (
    "Bán trực tuyến: thực hiện theo quy định về thương mại điện tử (thông tin người bán, giá, điều kiện giao dịch)."
)
T_ECOM_NEW = (
    "Bán trực tuyến: từ 01/07/2026 Luật Thương mại điện tử có hiệu lực (xác thực danh tính người bán, nghĩa vụ "
    "khi livestream, tiếp thị liên kết và của sàn)."
)
T_REGIME_VERIFY = "Quy định về khuyến mại được báo là đã sửa đổi từ 26/06/2026."
T_CITE = "Căn cứ: {cite}; {span}"
VERIFY_SUFFIX = " ⚠️ Có thể đã thay đổi, hãy kiểm tra với Sở Công Thương."
#: Points of the law left open (../shared/domain/FACTS.md): said plainly (the ⚠️ comes with the warning status) with
#: what to ask the Sở; a verdict with an open point is not complete (never answered with confidence).
T_OPEN_TOTAL = (
    "Chưa chắc: trước 01/12/2024, chương trình có tổng giá trị giải thưởng, quà tặng dưới {limit} không phải "
    "thông báo, nhưng văn bản không nói rõ hình thức {forms} có được miễn như vậy không. Bạn hỏi Sở Công "
    "Thương: «Chương trình giảm giá tổng giá trị dưới {limit} có phải thông báo không?»; an toàn nhất là vẫn "
    "thông báo đúng hạn."
)
T_OPEN_BO = (
    "Cần kiểm tra: văn bản mình có ghi chương trình may rủi từ hai tỉnh trở lên đăng ký với Bộ Công Thương, nhưng "
    "từ 01/07/2025 nhiều thủ tục được phân cấp cho địa phương (Nghị định 146/2025/NĐ-CP). Trước khi nộp, bạn hỏi Sở "
    "Công Thương nơi đặt trụ sở: «Chương trình may rủi ở nhiều tỉnh đăng ký ở Bộ hay ở Sở?»."
)
