"""The promotion check in the chat: the guided flow (/kiemtra, the menu item), a described plan typed as free text,
what is missing asked back, and bad input answered with a question — never a traceback or a guess."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta

from bot.cli.check import run_check
from bot.cli.qa import run_ask
from bot.settings import Settings
from handlers.promotion import campaign_windows
from handlers.promotion.check import check_text
from knowledge.promotion.calendar import SideWindow, main_events
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.configs import plan_2024

CAP_QUESTION = "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"


async def to_dates(an) -> None:
    await an.say("/kiemtra")
    assert "hình thức khuyến mại nào" in an.text
    await an.press("Giảm giá")
    assert "giảm bao nhiêu phần trăm" in an.text
    await an.press("70 %")
    assert "từ ngày nào đến ngày nào" in an.text


async def test_guided_check_ends_in_the_verdict(chat: ChatHarness) -> None:
    an = chat.person()
    await to_dates(an)
    assert any("Online Friday 2024" in label for label in an.labels)  # the configured window is offered
    await an.say("từ 5/12 đến 7/12/2024")
    assert "ở đâu" in an.text
    await an.press("Chỉ tại")
    assert "thuộc loại nào" in an.text
    await an.press("Hàng thông thường")
    assert "Kiểm tra chương trình khuyến mại 00:00 05/12/2024 – 24:00 07/12/2024" in an.text
    assert "❌ Giảm giá: 70 % — vượt mức tối đa 50 %" in an.text
    assert "Căn cứ:" in an.text and "Nghị định 128/2024/NĐ-CP" in an.text
    assert "🧾 Kiểm tra chương trình khuyến mại" in an.labels  # the menu, to check another one
    await an.say("cảm ơn")  # the flow is over: ordinary chat again
    assert "Không có gì" in an.text


async def test_the_campaign_button_gives_100_percent_inside_the_60_hours(chat: ChatHarness) -> None:
    an = chat.person()
    await to_dates(an)
    await an.press("Online Friday 2024")
    await an.press("Chỉ bán trên sàn")
    await an.press("Hàng thông thường")
    assert "không vượt mức tối đa 100 %" in an.text and "60 giờ Online Friday 2024" in an.text


async def test_menu_item_and_buttons_for_several_forms_typed(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("/start")
    await an.press("Kiểm tra chương trình khuyến mại")
    assert "hình thức khuyến mại nào" in an.text
    await an.say("quay số trúng thưởng")
    assert "từ ngày nào" in an.text  # a lucky draw has no per-unit amount to ask
    await an.say("1/3/2025 đến 31/3/2025")
    await an.say("Bình Phước và Đồng Nai")
    await an.say("hàng thông thường")
    assert "đăng ký với Bộ Công Thương" in an.text  # two provinces in March 2025 (before the merger)


async def test_back_and_cancel(chat: ChatHarness) -> None:
    an = chat.person()
    await to_dates(an)
    await an.press("Quay lại")
    assert "giảm bao nhiêu phần trăm" in an.text
    await an.say("quay lại")
    assert "hình thức khuyến mại nào" in an.text
    await an.press("Phiếu mua hàng")
    assert "Phiếu mua hàng trị giá bao nhiêu" in an.text
    await an.press("Hủy")
    assert "Đã hủy kiểm tra" in an.text
    await an.say(CAP_QUESTION)  # after cancel, a question goes to the Q&A
    assert "⚖️ Căn cứ:" in an.text


async def test_the_check_resumes_after_a_restart(sqlite_url: str) -> None:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as first:
        await to_dates(first.person())
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW + timedelta(hours=1)) as second:
        an = second.person()
        await an.say("29/11 đến 30/11")
        assert "tiếp tục từ câu trước" in an.text and "ở đâu" in an.text
        await an.press("Nhiều tỉnh")
        await an.press("Rượu")
        assert "⛔ Không được khuyến mại hoặc dùng làm quà: rượu" in an.text


async def test_a_described_plan_gets_its_verdict_at_once(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("Shop em ở Đồng Xoài định giảm 70% trong 60 giờ Online Friday, bán trên Shopee, có được không ạ")
    assert "Kiểm tra chương trình khuyến mại 00:00 29/11/2024 – 12:00 01/12/2024" in an.text
    assert "không vượt mức tối đa 100 %" in an.text
    assert "⚖️" not in an.text  # not a knowledge-base entry


async def test_what_is_missing_is_asked_then_the_flow_continues(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("cty em giam gia 100% dc ko")
    assert "Mình hiểu chương trình của bạn: giảm giá, mức giảm 100 %" in an.text
    assert "từ ngày nào đến ngày nào" in an.text
    await an.say("tu 5/12 den 7/12")
    assert "❌ Giảm giá: 100 % — vượt mức tối đa 50 %" in an.text


async def test_a_general_question_still_goes_to_the_qa(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say(CAP_QUESTION)
    assert "⚖️ Căn cứ:" in an.text


async def test_bad_input_gets_a_question_back(chat: ChatHarness) -> None:
    an = chat.person()
    await an.say("shop em giảm 300% ngày 31/02")
    assert "Mức giảm 300 % không hợp lệ" in an.text and "Ngày «31/02» không hợp lệ" in an.text
    await an.say("/huy")
    await an.say("shop em giảm 30% từ 10/12 đến 5/12")
    assert "Ngày kết thúc (24:00 05/12/2024) đang trước ngày bắt đầu" in an.text
    assert "từ ngày nào đến ngày nào" in an.text
    await an.say("31/02 đến 3/3")
    assert "Ngày «31/02» không hợp lệ" in an.text and "từ ngày nào đến ngày nào" in an.text
    await an.say("/huy")
    await an.say("/kiemtra")
    await an.press("Giảm giá")
    await an.say("300%")
    assert "Mức giảm 300 % không hợp lệ" in an.text and "giảm bao nhiêu phần trăm" in an.text
    await an.say("x" * 5000)
    assert "dài quá" in an.text


def test_a_long_description_is_refused_with_a_question() -> None:
    text = "shop em định giảm giá 50% từ 1/12 đến 3/12. " * 60
    reading, outcome = check_text(text, plan_2024(), datetime(2026, 11, 1, tzinfo=UTC))
    assert reading.problems and "dài quá" in outcome.text and not outcome.complete


def test_campaign_windows_are_the_main_events_then_the_weeks_around_them() -> None:
    config = plan_2024()
    windows = campaign_windows(config)
    assert len(main_events(windows)) == len(config.campaigns)
    weeks = [w for w in windows if isinstance(w, SideWindow)]  # 2023 and 2024: the week around the 60 hours
    assert [w[0] for w in weeks] == [
        "Tuần lễ Thương mại điện tử quốc gia 2023",
        "Tuần lễ Thương mại điện tử quốc gia 2024",
    ]
    of2024 = next(w for w in windows if "2024" in w[0])
    assert of2024[1] == datetime(2024, 11, 28, 17, tzinfo=UTC) and of2024[2] == datetime(2024, 12, 1, 5, tzinfo=UTC)


def test_cli_check_gives_the_verdict_or_the_question() -> None:
    out = io.StringIO()
    lines = "shop em giảm 70% ngày 5/12/2024\ncty em giam gia 100% dc ko\n"
    args = argparse.Namespace(message="-", json=True, at="2024-11-20T09:00")
    assert run_check(args, Settings(_env_file=None), stdin=io.StringIO(lines), stdout=out) == 0
    done, asked = (json.loads(line) for line in out.getvalue().splitlines())
    assert done["complete"] and done["verdict"]["summary"]["cap"] == "over" and done["fields"]["discount_percent"] == 70
    assert not asked["complete"] and asked["ask"] == "dates" and "từ ngày nào" in asked["text"]


def test_cli_ask_answers_a_plan_as_the_chat_would() -> None:
    out = io.StringIO()
    lines = f"shop em giảm 70% ngày 5/12/2024\ncty em giam gia 100% dc ko\n{CAP_QUESTION}\n"
    args = argparse.Namespace(question="-", json=True, at="2024-11-20T09:00")
    assert run_ask(args, Settings(_env_file=None), stdin=io.StringIO(lines), stdout=out) == 0
    plan, missing, question = (json.loads(line) for line in out.getvalue().splitlines())
    assert plan["kind"] == "promotion_check" and plan["confident"] and plan["verdict"]["cap"] == "over"
    assert missing["kind"] == "promotion_check" and not missing["confident"] and missing["ask"] == "dates"
    assert question["entry_id"] and "kind" not in question


def _rambling(limit: int) -> str:
    """A long, varied merchant message (not one sentence repeated) of at least *limit* characters."""
    parts = [
        "Dạ em chào anh chị, shop em bán quần áo trẻ em ở Đồng Xoài được mấy năm rồi.",
        "Năm nay em định làm đợt xả hàng cuối năm, giảm 40% áo khoác từ 20/11 đến 30/11.",
        "Khách mua 2 áo thì em tặng thêm 1 đôi tất, đơn trên 500k thì freeship.",
        "Em bán cả trên Shopee, TikTok và Facebook nữa, không biết có phải báo Sở không.",
        "Năm ngoái em có làm rồi mà không ai nói gì, năm nay nghe nói luật thay đổi nhiều.",
    ]
    text, n = "", 0
    while len(text) < limit:
        text += parts[n % len(parts)] + f" (ý {n + 1}) "
        n += 1
    return text


def test_bad_input_through_the_command_line_is_a_question_in_vietnamese() -> None:
    """31/2, 300 %, an end before the start, a 5,000-character message: a question back, never a verdict."""
    messages = [
        "shop em giảm 30% từ 31/2 đến 5/3",
        "shop em giảm 300% từ 10/3 đến 20/3",
        "bên em giảm 40% từ 25/3 đến 15/3/2026",
        _rambling(5000),
    ]
    out = io.StringIO()
    args = argparse.Namespace(message="-", json=True, at="2026-03-04T09:00")
    stdin = io.StringIO("\n".join(messages) + "\n")
    assert run_check(args, Settings(_env_file=None), stdin=stdin, stdout=out) == 0
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(replies) == 4
    assert all(not r["complete"] and r["verdict"] is None for r in replies)
    phrases = ("Ngày «31/2» không hợp lệ", "Mức giảm 300 % không hợp lệ", "đang trước ngày bắt đầu", "dài quá")
    for reply, phrase in zip(replies, phrases, strict=True):
        assert phrase in reply["text"] and ("?" in reply["text"] or "nhé" in reply["text"]), reply["text"]
        assert "Traceback" not in reply["text"]


async def test_a_doubt_is_asked_in_the_chat_and_the_check_continues(chat: ChatHarness) -> None:
    """A minigame that does not say how winners are chosen: the form is asked, then the verdict."""
    an = chat.person()
    await an.say("shop em định làm minigame trên fanpage tặng quà cho khách từ 5/12 đến 7/12/2024")
    assert "Minigame" in an.text and "hình thức khuyến mại nào" in an.text
    await an.press("Cuộc thi")
    assert "Kiểm tra chương trình khuyến mại" in an.text and "Phải thông báo" in an.text


async def test_a_platform_named_alone_before_01_12_2024_is_asked_on_the_place_step(chat: ChatHarness) -> None:
    """«shop em trên Lazada» does not say «only»: the old exemption is asked with the place buttons, and the
    answer decides it (issue 14, dev v3)."""
    an = chat.person()
    await an.say("Shop em trên Lazada giảm 40% từ 2/12 đến 10/12 nha")  # 02/12/2024: the new regime, no duty
    assert "Không phải thông báo với hình thức giảm giá" in an.text
    await an.say("Shop em trên Lazada giảm 40% từ 28/11 đến 30/11 nha")  # before 01/12/2024: only on platforms?
    assert "chỉ bán trên sàn" in an.text
    await an.press("Chỉ bán trên sàn")
    assert "Không phải thông báo: thương nhân chỉ bán qua sàn thương mại điện tử." in an.text
