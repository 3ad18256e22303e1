"""Told situations as data (knowledge/situations.yaml) and the scope review: kinds combined, off-topic refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeError
from knowledge.check import check_situations
from knowledge.check import main as check_main
from knowledge.scope import is_off_topic, is_situation
from knowledge.situations import check, kinds_for, load_kinds, situations_file

ONE_KIND = """
kinds:
  - id: prize-not-awarded
    who: consumer
    when:
      - ["trung (?:giai|thuong)"]
      - ["(?:khong|ko) trao"]
    entries: [{entries}]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "situations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_kinds_are_valid_and_checked_by_kb_check(
    real_entries: Path, real_kb: KnowledgeBase, capsys
) -> None:
    assert situations_file(real_entries) == real_entries.parent / "situations.yaml"
    assert len(real_kb.kinds) >= 15
    assert check_situations(real_entries) == []
    assert check_main([str(real_entries), "--no-overlap"]) == 0
    assert "0 lỗi" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ONE_KIND.format(entries="khong-co-muc-nay"), "id không tồn tại: 'khong-co-muc-nay'"),
        (ONE_KIND.format(entries="a, b, c, d"), "1 đến 3 mục"),
        (ONE_KIND.replace("trung (?:giai|thuong)", "trúng giải"), "không dấu"),
        (ONE_KIND.replace("trung (?:giai|thuong)", "trung (giai"), "không hợp lệ"),
        (ONE_KIND.replace("who: consumer", "who: buyer"), "who phải là"),
        (ONE_KIND + ONE_KIND.split("kinds:")[1], "trùng"),
        ("kinds: {}", "danh sách"),
    ],
)
def test_check_reports_a_malformed_kinds_file(tmp_path: Path, text: str, message: str) -> None:
    text = text.replace("{entries}", "noi-khieu-nai-nguoi-tieu-dung")
    problems = check(_write(tmp_path, text), {"noi-khieu-nai-nguoi-tieu-dung", "a", "b", "c", "d"})
    assert problems and any(message in text for _, text in problems), problems


def test_a_malformed_kinds_file_stops_the_load_and_a_fixture_without_one_loads(
    entries_dir: Path, fixture_entries: Path
) -> None:
    assert KnowledgeBase.load(fixture_entries).kinds == ()  # no situations.yaml beside the fixture entries
    _write(entries_dir.parent, "kinds: [1]")
    with pytest.raises(KnowledgeError, match=r"situations\.yaml"):
        KnowledgeBase.load(entries_dir)


def test_kinds_keep_only_the_entries_the_knowledge_base_has(tmp_path: Path) -> None:
    path = _write(tmp_path, ONE_KIND.format(entries="noi-khieu-nai-nguoi-tieu-dung, quyen-loi-nguoi-tieu-dung"))
    (kind,) = load_kinds(path, {"quyen-loi-nguoi-tieu-dung"})
    assert kind.entries == ("quyen-loi-nguoi-tieu-dung",)
    assert load_kinds(path, set()) == ()
    assert [k.id for k in kinds_for("Toi trung giai ma ho ko trao", [kind])] == ["prize-not-awarded"]
    assert kinds_for("tôi trúng giải rồi", [kind]) == []  # every group must match


@pytest.mark.parametrize(
    ("message", "first"),
    [
        # buyers, with and without diacritics, chat abbreviations
        ("mk đặt cái ví trên mạng, về thì là hàng fake, shop chặn luôn, giờ làm sao", "phan-anh-hang-gia-qua-tro-ly"),
        ("e ck 300k cho page ban giay roi ma ko giao, nhan tin ko tra loi", "noi-khieu-nai-nguoi-tieu-dung"),
        ("Tôi trúng giải xe máy mà đại lý hẹn mãi không trao, khiếu nại ở đâu", "noi-khieu-nai-nguoi-tieu-dung"),
        ("mua bếp từ bị lỗi mà lỡ làm mất hóa đơn, cửa hàng không đổi", "doi-tra-khong-hoa-don"),
        ("bảng ghi giảm 50% còn 500k mà tuần trước tôi thấy bán có 480k", "nhan-biet-giam-gia-ao"),
        ("mua bánh ở tạp hóa toàn chữ Trung Quốc không có nhãn phụ", "hang-khong-ro-nguon-goc"),
        ("được tặng kèm hộp sữa mà về thấy hết hạn rồi, quầy không đổi", "quyen-loi-nguoi-tieu-dung"),
        # shop owners after an inspection or with a running programme
        ("Tiệm em bị quản lý thị trường tạm giữ mấy chục áo in logo hãng, phạt nặng không", "xu-phat-hang-gia"),
        ("shop e dang chay tang qua ma het qua roi, dung som chuong trinh dc ko", "cham-dut-khuyen-mai-truoc-thoi-han"),
        ("quay số xong rồi mà còn 2 giải không ai đến nhận, bên em xử lý sao", "giai-thuong-khong-co-nguoi-trung"),
        ("e bán livestream, nghe nói từ 1/7 luật mới bắt xác thực danh tính, đúng ko", "luat-thuong-mai-dien-tu-moi"),
    ],
)
def test_a_told_situation_of_a_known_kind_gets_its_entries_combined(
    real_kb: KnowledgeBase, message: str, first: str
) -> None:
    result = real_kb.match(message)
    assert result.confident and not result.off_topic
    assert result.best is not None and result.best.id == first
    assert result.combined[0].id == first and 2 <= len(result.combined) <= 3
    assert [s.entry.id for s in result.ranked[: len(result.combined)]] == [e.id for e in result.combined]


def test_a_confident_plain_question_keeps_its_answer_first(real_kb: KnowledgeBase) -> None:
    result = real_kb.match("Doanh nghiệp có được ngừng khuyến mại sớm khi gặp thiên tai không?")
    assert result.best is not None and result.best.id == "cham-dut-khuyen-mai-truoc-thoi-han"


@pytest.mark.parametrize(
    "message",
    [
        "Lịch thi đấu V-League vòng này của đội Bình Phước với đội Đồng Nai",
        "tối nay đội tuyển đá mấy giờ, tỉ số trận trước bao nhiêu",
        "Hộ kinh doanh bán hàng online trên shopee năm 2026 phải đóng thuế bao nhiêu phần trăm",
        "quyết toán thuế thu nhập cá nhân online thế nào",
        "thuê mặt bằng ở chợ giá bao nhiêu",
        "đăng ký xe máy ở đâu",
        "thu tuc sang ten xe may cu can giay to gi",
        "đk hộ kinh doanh cá thể mất phí bn",
        "em muốn mua sữa bột giảm giá 30% cho con ở đâu",
        "nên mua nồi chiên hãng nào tốt",
        "giảm 5kg trong 1 tháng có được không",
    ],
)
def test_other_domains_are_refused(real_kb: KnowledgeBase, message: str) -> None:
    result = real_kb.match(message)
    assert is_off_topic(message) and result.off_topic
    assert result.best is None and result.combined == ()


@pytest.mark.parametrize(
    "message",
    [
        "Tôi trúng xe máy trong chương trình quay số của đại lý mà họ không trao",
        "chương trình bốc thăm của cty em còn 1 giải xe máy không ai nhận",
        "có phiếu trúng thưởng hẳn hoi mà siêu thị không trao giải ô tô",
        "vé số có được dùng làm giải thưởng khuyến mại không",
    ],
)
def test_prize_stories_are_not_off_topic(message: str) -> None:
    assert not is_off_topic(message)


def test_a_planned_promotion_is_not_a_told_situation() -> None:
    assert is_situation("Hôm qua em mua son trên mạng, nhận hàng thì thấy là hàng giả, em báo ở đâu")
    assert not is_situation("cửa hàng của em muốn tổ chức bốc thăm trúng thưởng từ 1/9 đến 31/10, thủ tục ra sao")


def test_a_named_bank_scam_calls_and_staff_bonuses_are_other_domains() -> None:
    assert is_off_topic("Ngân hàng Vietcombank hoàn tiền 10% khi thanh toán thẻ có thật không")
    assert is_off_topic("Tôi bị lừa đảo qua điện thoại giả danh công an thì báo ai")
    assert is_off_topic("Công ty em thưởng Tết cho nhân viên bằng giỏ quà, có phải báo Sở Công Thương không?")
    assert not is_off_topic("ngân hàng nào giảm giá khi thanh toán trực tuyến dịp Online Friday")
    assert is_off_topic("Nhóm thiện nguyện tụi em phát 300 phần quà cho bà con bị lũ, có cần xin phép gì không")
