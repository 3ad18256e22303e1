"""User-facing Vietnamese texts shared by the core and several handlers."""

from __future__ import annotations

from handlers.types import Button, MessageKind

MENU_QA = "❓ Hỏi đáp về khuyến mại (cho thương nhân)"
MENU_CHECK = "🧾 Kiểm tra chương trình khuyến mại"
MENU_REPORT = "🚨 Phản ánh hàng giả / hàng kém chất lượng"
MENU_COUNTDOWN = "⏳ Đếm ngược Online Friday"
MENU_TRACK = "🔎 Tra cứu phản ánh"
MENU_CONTACT = "☎️ Liên hệ"


def menu_buttons() -> list[list[Button]]:
    return [
        [Button(MENU_QA, "menu:qa")],
        [Button(MENU_REPORT, "menu:report")],
        [Button(MENU_COUNTDOWN, "menu:countdown")],
        [Button(MENU_TRACK, "menu:track"), Button(MENU_CONTACT, "menu:contact")],
        [Button(MENU_CHECK, "menu:check")],
    ]


def greeting(department: str, name: str) -> str:
    hello = f"Xin chào {name}!" if name else "Xin chào!"
    return (
        f"{hello} Mình là trợ lý của {department} trong Tuần lễ Thương mại điện tử quốc gia "
        "và Ngày mua sắm trực tuyến Online Friday.\n\n"
        "Mình có thể giúp bạn:\n"
        "• Giải đáp quy định khuyến mại cho thương nhân\n"
        "• Kiểm tra chương trình khuyến mại bạn định làm (mức tối đa, thông báo, đăng ký)\n"
        "• Tiếp nhận phản ánh hàng giả, hàng kém chất lượng (kèm ảnh)\n"
        "• Đếm ngược và nhắc lịch Online Friday\n\n"
        "Bạn chọn một mục bên dưới nhé:"
    )


HELP = (
    "Các lệnh bạn có thể dùng:\n"
    "/start – Lời chào và menu chính\n"
    "/menu – Hiện menu chính\n"
    "/hoidap – Hỏi đáp về khuyến mại\n"
    "/kiemtra – Kiểm tra một chương trình khuyến mại dự định làm\n"
    "/phananh – Phản ánh hàng giả, hàng kém chất lượng\n"
    "/tracuu MÃ – Tra cứu phản ánh theo mã\n"
    "/demnguoc – Đếm ngược Online Friday\n"
    "/nhacnho – Bật nhắc lịch Online Friday · /huynhacnho – Tắt nhắc lịch\n"
    "/lienhe – Thông tin liên hệ\n"
    "/vaitro – Chọn vai trò: thương nhân hay người tiêu dùng\n"
    "/cancel hoặc gõ «hủy» – Hủy thao tác đang làm\n"
    "/help – Danh sách lệnh"
)

COMING_SOON = "Mục «{item}» đang được hoàn thiện và sẽ sớm có mặt. Bạn có thể chọn mục khác trong menu nhé."
MENU_PROMPT = "Bạn chọn một mục bên dưới nhé:"
APOLOGY = (
    "Xin lỗi, mình vừa gặp lỗi khi xử lý tin nhắn của bạn. Thông tin bạn đã nhập trước đó vẫn được giữ nguyên; "
    "bạn vui lòng thử lại sau ít phút."
)
TOO_LONG = "Tin nhắn dài quá (tối đa {limit} ký tự). Bạn vui lòng viết ngắn gọn hơn hoặc chia thành nhiều tin."
TOO_LONG_KEPT = "✂️ Tin nhắn dài quá {limit} ký tự nên mình đọc {limit} ký tự đầu."
EMPTY = "Mình chưa nhận được nội dung nào. Bạn gõ câu hỏi hoặc chọn một mục trong menu nhé."
UNKNOWN_COMMAND = "Mình chưa biết lệnh {command}. Gõ /help để xem các lệnh, hoặc chọn trong menu:"
BUTTON_INVALID = "Nút này không hợp lệ hoặc đã hết hiệu lực. Bạn vui lòng chọn lại từ menu mới nhất."
BUTTON_STALE = "Nút này thuộc một bước đã qua nên không còn dùng được."
CANCELLED = "Đã hủy thao tác đang làm. Bạn cần gì tiếp theo?"
NOTHING_TO_CANCEL = "Hiện không có thao tác nào đang làm dở. Bạn cần gì nào?"
SESSION_EXPIRED = "Phiên trò chuyện trước đã hết hạn nên mình bắt đầu lại từ đầu nhé."

_KIND_NAMES = {
    MessageKind.STICKER: "nhãn dán (sticker)",
    MessageKind.DOCUMENT: "tệp",
    MessageKind.PHOTO: "ảnh",
    MessageKind.OTHER: "loại tin nhắn này",
}


def kind_not_understood(kind: MessageKind) -> str:
    name = _KIND_NAMES.get(kind, "loại tin nhắn này")
    return f"Mình chưa xử lý được {name} ở đây. Bạn gõ chữ hoặc chọn một mục trong menu nhé."


def kind_not_expected(kind: MessageKind) -> str:
    name = _KIND_NAMES.get(kind, "loại tin nhắn này")
    return f"Ở bước này mình chưa nhận {name}."
