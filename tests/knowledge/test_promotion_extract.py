"""Reading a planned promotion from a chat message: forms, numbers, dates relative to the clock, goods, places, bad
input, and the cheap detector that must not take ordinary knowledge-base questions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from handlers.promotion.check import campaign_windows
from knowledge import KnowledgeBase
from knowledge.promotion.calendar import TZ
from knowledge.promotion.evaluate import evaluate, load_situations
from knowledge.promotion.extract import MAX_CHARS, looks_like_plan, read_plan
from tests.support.configs import plan_2024

DATA = Path(__file__).resolve().parents[1] / "data"
WINDOWS = campaign_windows(plan_2024())
NOV_2024 = datetime(2024, 11, 10, 9, tzinfo=TZ)
DEC_2026 = datetime(2026, 12, 7, 9, tzinfo=TZ)


def plan_of(text: str, now: datetime = NOV_2024) -> dict:
    return read_plan(text, now, WINDOWS).plan


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        ("giảm giá 30% từ 1/12 đến 3/12", ["discount"]),
        ("giam gia 30% tu 1/12 den 3/12", ["discount"]),
        ("sale 30% tu 1/12 den 3/12", ["discount"]),
        ("mua 1 tặng 1 từ 1/12", ["gift"]),
        ("mua 2 duoc tang 1", ["gift"]),
        ("tặng quà trị giá 50k", ["gift"]),
        ("phát hàng mẫu dùng thử", ["sample"]),
        ("tặng voucher 200k", ["voucher"]),
        ("phiếu mua hàng 100k", ["voucher"]),
        ("mã giảm giá 50k", ["voucher"]),
        ("phiếu dự thi cuộc thi ảnh", ["contest"]),
        ("quay số trúng thưởng", ["lucky_draw"]),
        ("boc tham may rui", ["lucky_draw"]),
        ("khách hàng thân thiết tích điểm", ["loyalty"]),
        ("tổ chức sự kiện ca nhạc", ["event"]),
        ("tặng quà không cần mua hàng", ["gift_no_purchase"]),
        ("doanh thu tăng gấp đôi", []),  # "tăng" is not "tặng"
    ],
)
def test_forms(text: str, forms: list[str]) -> None:
    assert plan_of(text)["forms"] == forms


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("giảm 70 %", {"discount_percent": 70}),
        ("giam 70 phan tram", {"discount_percent": 70}),
        ("giảm một nửa giá", {"discount_percent": 50}),
        ("giảm 30-50%", {"discount_percent": 50}),
        ("mua 2 tặng 1", {"buy_quantity": 2, "free_quantity": 1}),
        ("tặng 1 ly khi khách mua 2 ly", {"buy_quantity": 2, "free_quantity": 1}),
        ("voucher 200k cho đơn 300k", {"voucher_value": 200_000, "order_value": 300_000}),
        ("phiếu 500.000đ cho đơn từ 1tr", {"voucher_value": 500_000, "order_value": 1_000_000}),
        ("giá gốc 500k giảm còn 200k", {"price": 500_000, "sale_price": 200_000}),
        ("quà trị giá 60k cho sản phẩm giá 100k", {"gift_value": 60_000, "price": 100_000}),
        ("giảm giá 1tr5 cho đơn 5 triệu", {"price": 5_000_000, "sale_price": 3_500_000}),
        ("tổng giải thưởng 300 triệu", {"total_value": 300_000_000}),
    ],
)
def test_numbers(text: str, numbers: dict) -> None:
    plan = plan_of(text)
    assert {key: plan.get(key) for key in numbers} == pytest.approx(numbers)


@pytest.mark.parametrize(
    ("text", "now", "start", "end"),
    [
        ("giảm 30% từ 29/11 đến 1/12", NOV_2024, "2024-11-29", "2024-12-01"),
        ("giảm 30% 29-30/11", NOV_2024, "2024-11-29", "2024-11-30"),
        ("giảm 30% ngày 5/12/2024", NOV_2024, "2024-12-05", "2024-12-05"),
        ("giảm 30% từ 0h 29/11 đến 12h 1/12", NOV_2024, "2024-11-29T00:00", "2024-12-01T12:00"),
        ("giảm 30% từ 10h ngày 01/12/2024 đến 12h trưa cùng ngày", NOV_2024, "2024-12-01T10:00", "2024-12-01T12:00"),
        ("giảm 30% từ ngày 15 đến 20 tháng 12", NOV_2024, "2024-12-15", "2024-12-20"),
        ("giảm 30% từ 25/12 đến 5/1", NOV_2024, "2024-12-25", "2025-01-05"),
        ("giảm 30% từ 1/12 đến hết năm", NOV_2024, "2024-12-01", "2024-12-31"),
        ("giảm 30% trong 3 ngày từ 1/12", NOV_2024, "2024-12-01", "2024-12-03"),
        ("dịp cuối tháng 11 giảm 70%", NOV_2024, "2024-11-21", "2024-11-30"),
        ("đầu tháng 12 giảm 70%", NOV_2024, "2024-12-01", "2024-12-10"),
        ("tháng sau giảm 30%", NOV_2024, "2024-12-01", "2024-12-31"),
        ("tuần sau giảm 30%", NOV_2024, "2024-11-11", "2024-11-17"),  # 10/11/2024 is a Sunday
        ("3 tuần trước Tết giảm 60%", DEC_2026, "2027-01-16", "2027-02-05"),
        ("dịp Tết giảm 80%", DEC_2026, "2027-01-07", "2027-02-05"),
        ("Tết 2025 giảm 100%", NOV_2024, "2024-12-30", "2025-01-28"),
        ("giảm 70% dịp Online Friday", NOV_2024, "2024-11-29T00:00", "2024-12-01T12:00"),
        ("OF 2023 giam 70%", NOV_2024, "2023-12-01T00:00", "2023-12-03T12:00"),
        ("sale 12.12 giảm 40%", NOV_2024, "2024-12-12", "2024-12-12"),
    ],
)
def test_dates_relative_to_the_clock(text: str, now: datetime, start: str, end: str) -> None:
    plan = plan_of(text, now)
    assert (plan.get("start"), plan.get("end")) == (start, end)


def test_an_online_friday_without_a_configured_calendar_is_asked_not_guessed() -> None:
    reading = read_plan("Online Friday năm nay shop em định giảm 70%", DEC_2026, WINDOWS)
    assert "start" not in reading.plan and {"start", "end"} <= set(reading.missing)
    assert reading.notes == ["campaign-unknown:2026"]


@pytest.mark.parametrize(
    ("text", "goods", "degrees"),
    [
        ("giảm 20% bia Tiger 5 độ", ["beer"], 5),
        ("giảm 20% rượu soju 16 độ", ["spirits"], 16),
        ("tặng kèm thuốc lá", ["tobacco"], None),
        ("sữa bột cho trẻ dưới 24 tháng", ["breast_milk_substitute"], None),
        ("giảm 15% thuốc kháng sinh", ["medicine"], None),
        ("rau củ, thịt tươi sống giảm 70%", ["fresh_food"], None),
        ("hàng thuộc danh mục nào thì được giảm", [], None),  # "thuộc" is not "thuốc"
        ("hang thuoc danh muc nao", [], None),
    ],
)
def test_goods(text: str, goods: list[str], degrees: float | None) -> None:
    plan = plan_of(text)
    assert plan.get("goods", []) == goods and plan.get("alcohol_degrees") == degrees


@pytest.mark.parametrize(
    ("text", "now", "provinces", "online", "platform_only"),
    [
        ("ở Đồng Xoài, giảm 30% từ 1/12", NOV_2024, ["Bình Phước"], False, False),
        ("ở Đồng Xoài, giảm 30% từ 1/12", DEC_2026, ["Đồng Nai"], False, False),
        ("ban o binh phuoc va dong nai", NOV_2024, ["Bình Phước", "Đồng Nai"], False, False),
        ("tại TP.HCM và Hà Nội", NOV_2024, ["Hồ Chí Minh", "Hà Nội"], False, False),
        ("cuối năm định giảm giá", NOV_2024, [], False, False),  # "năm định" is not Nam Định
        ("bán trên Shopee và tại cửa hàng", NOV_2024, [], True, False),
        ("shop em chỉ bán online", NOV_2024, [], True, True),
        ("chỉ bán trên Lazada", NOV_2024, [], True, True),
        ("Chị bán hàng online qua Facebook", NOV_2024, [], True, False),  # "Chị" is not "chỉ"
    ],
)
def test_places_and_channel(text: str, now: datetime, provinces: list, online: bool, platform_only: bool) -> None:
    plan = plan_of(text, now)
    assert plan.get("provinces", []) == provinces
    assert bool(plan.get("online")) is online and bool(plan.get("platform_only")) is platform_only


def test_nationwide_offline_counts_every_province() -> None:
    assert len(plan_of("giảm 30% tại các cửa hàng trên toàn quốc", DEC_2026)["provinces"]) == 34


@pytest.mark.parametrize(
    ("text", "phrase", "missing"),
    [
        ("shop em giảm 30% ngày 31/02", "Ngày «31/02» không hợp lệ", {"start", "end"}),
        ("shop em giảm 30% ngày 31/2/2025", "Ngày «31/2/2025» không hợp lệ", {"start", "end"}),
        ("shop em giảm 300% từ 1/12 đến 3/12", "Mức giảm 300 % không hợp lệ", {"amount"}),
        ("shop em giảm 30% từ 10/12 đến 5/12", "đang trước ngày bắt đầu", {"start", "end"}),
        ("shop em định giảm 30% từ 1/12 đến 3/12. " * 100, "dài quá", {"forms", "start", "end"}),
    ],
)
def test_bad_input_is_a_question_never_a_guess(text: str, phrase: str, missing: set[str]) -> None:
    reading = read_plan(text, NOV_2024, WINDOWS)
    assert any(phrase in problem for problem in reading.problems), reading.problems
    assert missing <= set(reading.missing)
    assert len(text) <= MAX_CHARS or reading.plan == {}


@pytest.mark.parametrize(
    "text",
    [
        "shop em bán quần áo ở Đồng Xoài, trên Shopee và tại cửa hàng, dịp cuối tháng 11 định giảm 70 % hàng tồn",
        "Giảm 70 % ngày 5/12/2024 có được không",
        "cty em giam gia 100% dc ko",
        "Tiệm em định sale đồng loạt giảm 40% từ tuần sau",
        "em định quay số trúng thưởng từ 1/3 đến 31/3 ở Bình Phước",
        "em định giảm giá đồ gia dụng từ 10/3 đến 20/3",
        "shop em mua 3 tang 1 tu 10/8 den 15/8",
        "em định tặng quà cho khách dịp Trung thu",
        "tuần sau bên em định khuyến mãi lớn cho khách",
        "cửa hàng em muốn tổ chức quay số trúng thưởng từ 1/11 đến 30/11 tại Biên Hòa, thủ tục thế nào ạ",
        "mình muốn khuyến mãi mua 1 tặng 1 từ 1/11 đến 10/11 thì nộp hồ sơ ở đâu",
    ],
)
def test_plans_are_recognised(text: str) -> None:
    assert looks_like_plan(text)


@pytest.mark.parametrize(
    "text",
    [
        "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?",
        "Online Friday 2026 giảm tối đa bao nhiêu",
        "hạn mức 50% giá trị khuyến mại tính trên giá nào",
        "năm ngoái shop em chạy giảm giá từ 29/11/2024 mà không báo Sở có sao không",
        "Em mua hàng được quảng cáo giảm 50% nhưng giá bị nâng trước đó, phản ánh ở đâu?",
        "Ngân hàng đang khuyến mãi lãi suất 6% cho khách gửi tiết kiệm tháng này",
        "quà sinh nhật cho bạn gái nên tặng gì",
        "em muốn mua sữa bột giảm giá 30% cho con ở đâu",
        "em muốn săn sale 12/12 trên shopee giảm 50% thì làm sao",
        "Em định lấy vé số làm giải thưởng cho chương trình bốc thăm cuối năm, như vậy có được không ạ?",
        "Tôi thấy siêu thị quảng cáo giảm 50% nhưng thực tế chỉ giảm 20%",
        "shop trên mạng ghi giảm 70% từ 1/12 đến 5/12 mà giao hàng lỗi, tôi muốn trả lại",
        "công ty em tổ chức quay số xong rồi, 2 giải không ai nhận, trị giá 20 triệu",
        "em định tặng quà sinh nhật cho bạn gái",
        "em định giảm cân 5kg trước Tết",
    ],
)
def test_general_questions_and_near_misses_are_not_plans(text: str) -> None:
    assert not looks_like_plan(text)


def test_the_knowledge_base_questions_stay_with_the_qa() -> None:
    """At most a handful of the short Q&A questions are read as plans; those taken do describe a plan."""
    taken = []
    for name in ("qa_eval.yaml", "qa_dev_v3.yaml"):
        taken += [i["q"] for i in yaml.safe_load((DATA / name).read_text(encoding="utf-8")) if looks_like_plan(i["q"])]
    assert len(taken) <= 8, taken
    assert all(any(ch.isdigit() for ch in q) for q in taken), taken  # each names a % or a date


def test_the_dev_situations_stay_good() -> None:
    summary = evaluate(load_situations(DATA / "situations_dev.yaml"), WINDOWS, KnowledgeBase.load())
    assert summary.n >= 60
    for field, (right, total) in summary.fields.items():
        assert right >= 0.95 * total, field
    assert summary.verdict[0] >= 0.95 * summary.verdict[1]
    plans = [r for r in summary.results if r.item.kind == "promotion_check"]
    assert sum(r.right for r in plans) >= 0.95 * len(plans)
    assert all(not (r.confident and not r.right) for r in plans)  # no confidently wrong verdict


def test_the_dev_v2_situations_stay_good() -> None:
    """The larger dev set v2 (tuned on): no promotion check answered confidently and wrongly."""
    summary = evaluate(load_situations(DATA / "situations_dev_v2.yaml"), WINDOWS, KnowledgeBase.load())
    assert summary.n >= 120
    plans = [r for r in summary.results if r.item.kind == "promotion_check"]
    assert sum(r.right for r in plans) >= 0.95 * len(plans)
    assert all(not (r.confident and not r.right) for r in plans), [r.item.id for r in plans if r.confident]


MAR_2026 = datetime(2026, 3, 4, 9, tzinfo=TZ)
OCT_2026 = datetime(2026, 10, 5, 9, tzinfo=TZ)  # a Monday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hoàn tiền 10% cho đơn từ 15/3 đến 31/3", {"forms": ["discount"], "discount_percent": 10}),
        ("cashback 60% tu 15/3 den 20/3", {"forms": ["discount"], "discount_percent": 60}),
        ("áo 350k còn 199k từ 15/3 đến 20/3", {"forms": ["discount"], "price": 350_000, "sale_price": 199_000}),
        ("giá chỉ còn 30% từ 15/3 đến 20/3", {"forms": ["discount"], "discount_percent": 70}),
        ("combo 199k thay vì 300k từ 15/3 đến 20/3", {"forms": ["discount"], "price": 300_000, "sale_price": 199_000}),
        ("mã giảm 20k cho đơn 99k từ 10/3 đến 15/3", {"forms": ["voucher"], "voucher_value": 20_000}),
        ("voucher giảm 30% từ 10/3 đến 20/3", {"forms": ["voucher"], "voucher_percent": 30}),
        ("mua 2 ly cà phê sữa tặng 1 ly từ 10/3", {"forms": ["gift"], "buy_quantity": 2, "free_quantity": 1}),
        ("freeship mọi đơn từ 10/3 đến 20/3", {"forms": ["gift"]}),
        ("giảm 1 nửa giá từ 10/3 đến 20/3", {"discount_percent": 50}),
        ("flash sale 0h-2h ngày 25/3 giảm 60%", {"start": "2026-03-25T00:00", "end": "2026-03-25T02:00"}),
        ("giảm 20% sữa cho bé 0-6 tháng từ 10/3 đến 15/3", {"start": "2026-03-10", "end": "2026-03-15"}),
        ("giảm 30% thêm VAT 10% từ 10/3 đến 15/3", {"discount_percent": 30}),
    ],
)
def test_how_merchants_write_forms_and_amounts(text: str, expected: dict) -> None:
    plan = plan_of(text, MAR_2026)
    assert {key: plan.get(key) for key in expected} == expected, plan


@pytest.mark.parametrize(
    ("text", "missing", "phrase", "now"),
    [
        ("shop em làm minigame trên fanpage tặng quà từ 20/3 đến 25/3", "forms", "Minigame", MAR_2026),
        ("shop em mua 2 áo thì tặng 1 đôi tất từ 10/3 đến 20/3", "amount", "Món tặng khác", MAR_2026),
        ("shop em giảm quá 50% từ 10/3 đến 20/3", "amount", "", MAR_2026),
        ("shop em giảm 30% từ 1/4 đến 5/4, từ 20/4 đến 25/4", "start", "nhiều ngày", MAR_2026),
        ("shop em giảm 30% đến hết 30/3", "start", "", MAR_2026),
        ("bên em giảm 40% từ 25/3 đến 15/3/2026", "start", "đang trước ngày bắt đầu", MAR_2026),
        ("shop e sale 50%++ từ 10/10 đến 20/10", "amount", "", OCT_2026),
        ("chị ơi shop em định chạy sale 9.9 giảm 55%", "start", "đã qua", OCT_2026),
        ("em định bốc thăm qua zalo cho khách ở Đồng Nai từ 10/10 đến 20/10", "place", "Bộ Công", OCT_2026),
        ("đơn từ 300k giảm 30k, đơn từ 500k giảm 70k, từ 10/10 đến 15/10", "amount", "nhiều mức", OCT_2026),
        ("dịp 11/11 với 12/12 em định giảm 50-60%, mỗi đợt 3 ngày", "start", "nhiều ngày", OCT_2026),
        ("khai trương ngày 15/11 em giảm 50% và tặng 1 bánh ngọt cho mỗi hóa đơn trên 100k", "amount", "", OCT_2026),
    ],
)
def test_what_is_ambiguous_is_asked_not_guessed(text: str, missing: str, phrase: str, now: datetime) -> None:
    reading = read_plan(text, now, WINDOWS)
    assert missing in reading.missing, reading
    assert not phrase or any(phrase in p for p in reading.problems), reading.problems


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("giảm 30% từ 1->10/12", "2026-12-01", "2026-12-10"),
        ("bên em giảm 20% từ 1 đến 10.12", "2026-12-01", "2026-12-10"),
        ("sale 40% từ mùng 1 tới mùng 10 tháng 12", "2026-12-01", "2026-12-10"),
        ("shop em định giảm giá 30% vào thứ 6 tuần này", "2026-10-09", "2026-10-09"),
        ("thứ 7 và chủ nhật tuần sau bên em giảm 20%", "2026-10-17", "2026-10-18"),
        ("shop em giảm 45% trong 2 tuần đầu tháng 11", "2026-11-01", "2026-11-14"),
        ("từ ngày mai đến hết tháng shop em giảm 40%", "2026-10-06", "2026-10-31"),
        ("em giảm 35% từ ngày 10 đến ngày 20 tháng này", "2026-10-10", "2026-10-20"),
        ("quay số ở Đồng Nai từ tháng 11 đến tháng 12", "2026-11-01", "2026-12-31"),
        ("dịp 20/10 bên em giảm 30% từ 18/10 đến 20/10", "2026-10-18", "2026-10-20"),
        ("shop em ở số 15 đường 30/4, Biên Hòa, định giảm 30% từ 10/11 đến 20/11", "2026-11-10", "2026-11-20"),
        ("cửa hàng em trên đường 3/2 định giảm 40% tuần sau", "2026-10-12", "2026-10-18"),
        ("bên em giảm giá 30% trong 48h từ 0h ngày 15/10", "2026-10-15T00:00", "2026-10-17T00:00"),
    ],
)
def test_how_merchants_write_dates(text: str, start: str, end: str) -> None:
    plan = plan_of(text, OCT_2026)
    assert (plan.get("start"), plan.get("end")) == (start, end), plan


def test_a_state_programme_the_calendar_does_not_know_is_asked_about() -> None:
    reading = read_plan("ngày hội mua sắm của tỉnh từ 10/10 đến 12/10 bên em giảm 80%", OCT_2026, WINDOWS)
    assert any("khuyến mại tập trung" in p for p in reading.problems)
