"""Staff reports: /tonghop and /thongke in chat, `python -m bot report` (CSV, xlsx), `python -m bot case pack`.

The cases are made the real way — reports submitted through the test channel, cards pressed by staff in
their groups — with the clock moved between steps, so every figure below can be worked out by hand:

    27/11 09:00  A  Hàng giả, Shopee, Đồng Xoài             → Cục QLTT: acknowledged 11:15, resolved 14:00
    27/11 09:30  B  Hàng kém chất lượng, Lazada, Bình Long  → Thanh tra Sở: taken 12:00, rejected 28/11 09:30
    27/11 10:00  C  Hàng giả, TikTok Shop, Đồng Xoài        → Cục QLTT: never acknowledged (due 22:00 27/11)
    28/11 08:00  D  Vi phạm khuyến mại, Tiki, Đồng Xoài     → Thanh tra Sở: acknowledged 08:45

Times to acknowledge: 2 h 15 (A), 2 h 30 (B), 45 min (D); to resolve: 5 h (A), 24 h (B).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from handlers.cases.reports import COLUMNS, HEADERS, PeriodError, parse_period
from handlers.config import AppConfig
from tests.support.cases import HOI, QLTM, QLTT, TTS, Inbox, Member, Sent, audit, cases_config, deliver, member
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness
from tests.support.complaints import submit, to_photos, to_summary
from tests.support.configs import PLAN_2024, plan_2024
from tests.support.images import jpeg

VN = timedelta(hours=7)


def reports_config() -> AppConfig:
    """The staffed configuration of the case tests, plus a supervisor of the consumer association (copies)."""
    base = cases_config().model_dump(mode="python")
    base["staff"].append(
        {"channel": CHANNEL, "user_id": "hoi-1", "name": "Đỗ Thu Hà", "agency": "hoi-bvntd", "role": "supervisor"}
    )
    return AppConfig.model_validate(base)


@pytest.fixture
async def chat(db_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=reports_config()) as harness:
        yield harness


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of late November 2024, Vietnam time."""
    return datetime(2024, 11, day, hour, minute, tzinfo=UTC) - VN


async def report(
    chat: ChatHarness, user: str, *, category: str, platform: str, area: str, product: str, seller: str = "Shop Mẫu"
) -> str:
    """Submit a report through the test channel, answering each question like a person would."""
    person = chat.person(user, name=f"Người {user}")
    await person.say("/phananh")
    await person.press(category)
    await person.press(platform)
    await person.say(seller)
    await person.say("https://example.vn/gian-hang")
    await person.say(product)
    await person.press("Hôm qua")
    await person.say("Hàng nhận được khác hẳn quảng cáo, người bán không trả lời")
    await person.press("Bỏ qua")
    await person.press(area)
    await person.say("0912 345 678")
    await person.press("Đồng ý")
    return await submit(person)


def card_of(inbox: Inbox, chat_id: str, code: str) -> Sent:
    return next(s for s in inbox.to(chat_id) if code in s.text and "PHẢN ÁNH" in s.text)


async def close(staff: Member, card: Sent, button: str, text: str) -> None:
    await staff.press_on(card, button)
    await staff.press("Không có dấu hiệu vi phạm" if button == "Từ chối" else "Đã xử lý vi phạm người bán")
    await staff.say(text)


async def first_day(chat: ChatHarness, inbox: Inbox) -> dict[str, str]:
    """A, B and C submitted on 27/11; A acknowledged and resolved, B taken."""
    chat.clock.set(at(27, 9))
    a = await report(chat, "u1", category="Hàng giả", platform="Shopee", area="Đồng Xoài", product="Son môi")
    chat.clock.set(at(27, 9, 30))
    b = await report(chat, "u2", category="kém chất lượng", platform="Lazada", area="Bình Long", product="Nồi cơm")
    chat.clock.set(at(27, 10))
    c = await report(chat, "u3", category="Hàng giả", platform="TikTok", area="Đồng Xoài", product="Nước hoa")
    await deliver(chat, inbox)
    son, em = member(chat, "qltt-1", QLTT), member(chat, "tts-1", TTS)
    chat.clock.set(at(27, 11, 15))
    await son.press_on(card_of(inbox, QLTT, a), "Tiếp nhận")
    chat.clock.set(at(27, 12))
    await em.press_on(card_of(inbox, TTS, b), "Nhận xử lý")
    chat.clock.set(at(27, 14))
    await close(son, card_of(inbox, QLTT, a), "Hoàn tất", "Đã kiểm tra gian hàng, buộc gỡ sản phẩm giả.")
    assert "Đã hoàn tất" in son.text
    await deliver(chat, inbox)
    return {"A": a, "B": b, "C": c}


async def second_morning(chat: ChatHarness, inbox: Inbox, codes: dict[str, str]) -> None:
    """D submitted on 28/11 at 08:00 and acknowledged at 08:45."""
    chat.clock.set(at(28, 8))
    codes["D"] = await report(
        chat, "u4", category="Vi phạm khuyến mại", platform="Tiki", area="Đồng Xoài", product="Tai nghe"
    )
    await deliver(chat, inbox)
    chat.clock.set(at(28, 8, 45))
    await member(chat, "tts-1", TTS).press_on(card_of(inbox, TTS, codes["D"]), "Tiếp nhận")
    await deliver(chat, inbox)


async def reject_b(chat: ChatHarness, inbox: Inbox, codes: dict[str, str]) -> None:
    chat.clock.set(at(28, 9, 30))
    em = member(chat, "tts-1", TTS)
    await close(em, card_of(inbox, TTS, codes["B"]), "Từ chối", "Nồi cơm đúng mẫu đã công bố, không có vi phạm.")
    assert "Đã từ chối" in em.text
    await deliver(chat, inbox)


def lines(text: str) -> list[str]:
    return text.splitlines()


# -- the chat commands ---------------------------------------------------------------------------------------


async def test_open_cases_and_period_figures_in_chat(chat: ChatHarness) -> None:
    inbox = Inbox()
    codes = await first_day(chat, inbox)
    await second_morning(chat, inbox, codes)
    a, b, c, d = codes["A"], codes["B"], codes["C"], codes["D"]

    chat.clock.set(at(28, 9))
    hoa = member(chat, "qltm-1", QLTM, "Hoa")  # an admin: every case
    await hoa.say("/tonghop")
    shown = lines(hoa.text)
    assert shown[:3] == ["📊 PHẢN ÁNH ĐANG MỞ — 09:00 28/11/2024", "Phạm vi: tất cả các cơ quan", "Đang mở: 3"]
    for line in [
        "Theo trạng thái:", "• Mới — chờ tiếp nhận: 1", "• Đã tiếp nhận: 1", "• Đang xử lý: 1",
        "Theo thời gian từ khi gửi:", "• Dưới 4 giờ: 1", "• 4–24 giờ: 2", "• 1–3 ngày: 0", "• Trên 3 ngày: 0",
        "Quá hạn:", "• Quá hạn tiếp nhận: 1", "• Quá hạn xử lý: 0", f"⚠️ Cần đôn đốc: {c}",
        "Theo cơ quan chủ trì:", "• Thanh tra Sở Công Thương: 2", "• Cục Quản lý thị trường tỉnh Bình Phước: 1",
    ]:  # fmt: skip
        assert line in shown, (line, shown)
    assert a not in hoa.text  # resolved: not open

    son = member(chat, "qltt-1", QLTT, "Sơn")  # an agent: its agency's cases only
    await son.say("/tonghop")
    shown = lines(son.text)
    assert "Phạm vi: Cục QLTT chủ trì" in shown and "Đang mở: 1" in shown and "• Quá hạn tiếp nhận: 1" in shown
    assert "• Mới — chờ tiếp nhận: 1" in shown and "Theo cơ quan chủ trì:" not in shown
    dung = member(chat, "qltm-2", QLTM, "Dũng")  # an agent of an agency leading nothing
    await dung.say("/tonghop")
    assert "Đang mở: 0" in dung.text and "Không có phản ánh nào đang chờ xử lý." in dung.text

    stranger = member(chat, "u9", QLTT, "Người lạ")
    for command in ("/tonghop", "/thongke", "/thongke 7"):
        await stranger.say(command)
        assert stranger.text == "Lệnh này chỉ dành cho cán bộ được phân công.", command
    private = chat.person("u1", name="An")  # a reporter, in their private chat
    await private.say("/thongke")
    assert "chỉ dành cho cán bộ" in private.text and "PHẢN ÁNH" not in private.text

    await reject_b(chat, inbox, codes)
    chat.clock.set(at(28, 10))
    await hoa.say("/thongke")
    shown = lines(hoa.text)
    assert shown[:5] == [
        "📈 THỐNG KÊ PHẢN ÁNH",
        "Thời gian: Tuần lễ Thương mại điện tử quốc gia và Ngày mua sắm trực tuyến Việt Nam - Online Friday 2024 "
        "(00:00 25/11/2024 – 00:00 02/12/2024)",
        "Phạm vi: tất cả các cơ quan",
        "Số liệu đến 10:00 28/11/2024.",
        "Tổng số phản ánh: 4",
    ]
    text = hoa.text
    assert (
        "Theo loại:\n• Hàng giả / hàng nhái: 2\n• Hàng kém chất lượng: 1\n• Vi phạm khuyến mại (giảm giá ảo…): 1\n"
        in text
    )
    assert "Theo địa bàn:\n• Thành phố Đồng Xoài: 3\n• Thị xã Bình Long: 1\n" in text
    assert "Theo nơi mua:\n• Shopee: 1\n• Lazada: 1\n• TikTok Shop: 1\n• Tiki: 1\n" in text
    assert "Theo trạng thái:\n• Mới — chờ tiếp nhận: 1\n• Đã tiếp nhận: 1\n• Đã hoàn tất: 1\n• Đã từ chối: 1\n" in text
    # Acknowledged after 2 h 15 (A), 2 h 30 (B), 45 min (D): the median is A's. Closed after 5 h (A) and 24 h (B).
    assert "• Thời gian tiếp nhận (trung vị): 2 giờ 15 phút\n• Số phản ánh đã tiếp nhận: 3\n" in text
    assert "• Thời gian xử lý xong (trung vị): 14 giờ 30 phút\n" in text
    assert "• Số phản ánh đã xử lý xong (hoàn tất hoặc từ chối): 2" in text

    await son.say("/thongke")
    assert "Phạm vi: Cục QLTT chủ trì" in son.text and "Tổng số phản ánh: 2" in son.text
    assert "• Thời gian tiếp nhận (trung vị): 2 giờ 15 phút" in son.text
    assert "• Thời gian xử lý xong (trung vị): 5 giờ 0 phút" in son.text
    assert "Theo cơ quan chủ trì:" not in son.text
    ha = member(chat, "hoi-1", HOI, "Hà")  # a supervisor of an agency with copies of every report
    await ha.say("/thongke")
    assert "Phạm vi: Hội BVNTD chủ trì hoặc nhận bản sao" in ha.text and "Tổng số phản ánh: 4" in ha.text

    await hoa.say("/thongke 1")  # today only: D
    assert "Thời gian: 1 ngày gần nhất (28/11/2024)" in hoa.text and "Tổng số phản ánh: 1" in hoa.text
    assert "• Thời gian tiếp nhận (trung vị): 45 phút" in hoa.text
    assert "• Thời gian xử lý xong (trung vị): —" in hoa.text
    await hoa.say("/thongke 27/11 27/11")
    assert "Thời gian: 27/11/2024\n" in hoa.text and "Tổng số phản ánh: 3" in hoa.text
    await hoa.say("/thongke 2024-11-28 2024-11-30")
    assert "Thời gian: 28/11/2024 – 30/11/2024" in hoa.text and "Tổng số phản ánh: 1" in hoa.text
    await hoa.say("/thongke 20/11 đến 24/11")
    assert "Tổng số phản ánh: 0" in hoa.text and "Không có phản ánh nào gửi trong khoảng thời gian này." in hoa.text

    for bad, why in [
        ("/thongke hôm qua", "❌ Mình chưa hiểu ngày «hôm»."),
        ("/thongke 30/11 27/11", "❌ Ngày kết thúc (27/11/2023) phải từ ngày bắt đầu (30/11/2023) trở đi."),
        ("/thongke 31/02", "❌ Ngày «31/02» không có thật."),
        ("/thongke 0", "❌ Số ngày phải từ 1 đến 366."),
        ("/thongke 1 2 3", "❌ Mình chưa hiểu khoảng thời gian «1 2 3»."),
    ]:
        await hoa.say(bad)
        assert hoa.text.startswith(why), (bad, hoa.text)
        assert "Cú pháp: /thongke [khoảng thời gian]" in hoa.text and "/thongke 01/12 03/12" in hoa.text, bad

    chat.clock.set(at(30, 9) + timedelta(days=3))  # 03/12 09:00: C and D have been open for more than 3 days
    await hoa.say("/tonghop")
    shown = lines(hoa.text)
    assert "Đang mở: 2" in shown and "• Trên 3 ngày: 2" in shown and "• Dưới 4 giờ: 0" in shown
    # C: not acknowledged, and past its resolve deadline (72 h: 10:00 30/11); D: past its own (120 h: 08:00 03/12).
    assert "• Quá hạn tiếp nhận: 1" in shown and "• Quá hạn xử lý: 2" in shown
    assert f"⚠️ Cần đôn đốc: {c}, {d}" in shown
    assert b not in hoa.text


async def test_a_report_being_typed_survives_a_staff_report(chat: ChatHarness) -> None:
    inbox = Inbox()
    codes = await first_day(chat, inbox)
    son = member(chat, "qltt-1", QLTT, "Sơn")
    await son.press_on(card_of(inbox, QLTT, codes["C"]), "Trả lời người phản ánh")
    await son.say("/tonghop")
    assert "Đang mở: 1" in son.text
    await son.say("Chúng tôi đã nhận phản ánh và đang xác minh.")
    assert "Đã gửi trả lời tới người phản ánh" in son.text


def test_periods() -> None:
    config = plan_2024()
    during = at(28, 10)
    assert parse_period("", config, during).label.startswith("Tuần lễ Thương mại điện tử quốc gia")
    after = datetime(2024, 12, 5, 3, tzinfo=UTC)  # three days after the week: still the campaign
    assert "Online Friday 2024" in parse_period("", config, after).label
    later = datetime(2025, 3, 1, 3, tzinfo=UTC)
    period = parse_period("", config, later)
    assert period.label == "7 ngày gần nhất (23/02/2025 – 01/03/2025)"
    assert (period.start, period.end) == (at(23, 0).replace(month=2, year=2025), at(2, 0).replace(month=3, year=2025))
    new_year = datetime(2025, 1, 2, 3, tzinfo=UTC)
    span = parse_period("28/12 03/01/2025", config, new_year)  # no year: the latest 28/12 not after today
    assert span.label == "28/12/2024 – 03/01/2025"
    assert parse_period("28/12/2024–03/01/2025", config, new_year).label == span.label
    assert parse_period("từ 28/12/24 đến 3/1/25", config, new_year).label == span.label
    with pytest.raises(PeriodError, match="ghi cả năm"):
        parse_period("28/12 03/01", config, new_year)  # the end takes the start's year: 03/01/2024
    assert parse_period("01/12", config, during).label == "01/12/2023"  # a day not yet come is last year's
    with pytest.raises(PeriodError, match="366"):
        parse_period("400", config, during)
    with pytest.raises(PeriodError, match="không có thật"):
        parse_period("2024-02-30", config, during)


# -- the command line ----------------------------------------------------------------------------------------


async def make_cases(url: str, media: Path) -> dict[str, str]:
    """The four cases of the timeline, and one outside the period (29/11)."""
    async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media, config=reports_config()) as chat:
        inbox = Inbox()
        codes = await first_day(chat, inbox)
        await second_morning(chat, inbox, codes)
        await reject_b(chat, inbox, codes)
        chat.clock.set(at(29, 10))
        codes["E"] = await report(chat, "u5", category="Khác", platform="Shopee", area="Lộc Ninh", product="Giày")
        await deliver(chat, inbox)
        return codes


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    media = tmp_path / "media"
    for key in ("TELEGRAM_BOT_TOKEN", "BOT_CONFIG", "ZALO_BOT_TOKEN", "ZALO_OA_APP_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CONFIG", str(PLAN_2024))  # the expectations follow the 2024 plan
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEDIA_DIR", str(media))
    monkeypatch.chdir(tmp_path)
    return db_url, media


def read_csv(text: str) -> list[dict[str, str]]:
    """The report's rows by column key, after checking the header row is the Vietnamese one."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == [HEADERS[key] for key in COLUMNS] and header[0] == "Mã phản ánh"
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def test_cli_report_as_csv(cli_env: tuple[str, Path], tmp_path: Path, capsys) -> None:
    from bot.cli import main

    codes = asyncio.run(make_cases(*cli_env))
    target = tmp_path / "out" / "bao-cao.csv"
    assert main(["report", "--from", "2024-11-27", "--to", "2024-11-28", "--format", "csv", "--out", str(target)]) == 0
    assert f"Đã xuất 4 phản ánh (27/11/2024 – 28/11/2024) ra {target}" in capsys.readouterr().err
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Vietnamese right
    text = data.decode("utf-8-sig")
    assert "0912" not in text and "+8491" not in text  # contacts are masked, always
    rows = read_csv(text)
    assert [r["code"] for r in rows] == [codes[k] for k in "ABCD"]  # E (29/11) is outside the period
    a, b, c, d = rows
    assert a == {
        "code": codes["A"],
        "created_at": "2024-11-27T09:00:00+07:00",
        "category": "Hàng giả / hàng nhái",
        "area": "Thành phố Đồng Xoài",
        "platform": "Shopee",
        "seller": "Shop Mẫu",
        "product": "Son môi",
        "lead_agency": "Cục Quản lý thị trường tỉnh Bình Phước",
        "copies": "Phòng Quản lý Thương mại - Sở Công Thương; Hội Bảo vệ quyền lợi người tiêu dùng tỉnh Bình Phước; "
        "UBND thành phố Đồng Xoài",
        "status": "Đã hoàn tất",
        "assignee": "",
        "acknowledged_at": "2024-11-27T11:15:00+07:00",
        "closed_at": "2024-11-27T14:00:00+07:00",
        "minutes_to_acknowledge": "135",
        "minutes_to_resolve": "300",
        "outcome": "Đã kiểm tra gian hàng, buộc gỡ sản phẩm giả.",
        "contact": "09xx xxx 678 (đồng ý để cán bộ liên hệ)",
    }
    assert (b["status"], b["assignee"], b["minutes_to_acknowledge"], b["minutes_to_resolve"]) == (
        "Đã từ chối",
        "Võ Minh Em",
        "150",
        "1440",
    )
    assert b["lead_agency"] == "Thanh tra Sở Công Thương" and b["area"] == "Thị xã Bình Long"
    assert (c["status"], c["acknowledged_at"], c["minutes_to_acknowledge"], c["closed_at"]) == (
        "Mới — chờ tiếp nhận",
        "",
        "",
        "",
    )
    assert (d["platform"], d["minutes_to_acknowledge"], d["minutes_to_resolve"]) == ("Tiki", "45", "")

    assert main(["report", "--from", "2024-11-29"]) == 0  # CSV to stdout, up to today
    out = capsys.readouterr().out
    assert out.startswith("\ufeff") and [r["code"] for r in read_csv(out[1:])] == [codes["E"]]


def test_cli_report_refuses_bad_dates(cli_env: tuple[str, Path], capsys) -> None:
    from bot.cli import main

    for args, why in [
        (["--from", "2024-13-01", "--to", "2024-12-03"], "Ngày --from không hợp lệ: «2024-13-01»"),
        (["--from", "28/11/2024", "--to", "2024-12-03"], "Viết theo dạng năm-tháng-ngày (YYYY-MM-DD)"),
        (["--from", "2024-12-03", "--to", "2024-11-28"], "phải từ ngày bắt đầu (03/12/2024) trở đi"),
        (["--to", "2024-12-03"], "Thiếu --from"),
    ]:
        assert main(["report", *args, "--format", "xlsx"]) == 2, args
        assert why in capsys.readouterr().err, args
    assert not list(Path.cwd().glob("*.xlsx"))


def test_cli_report_as_xlsx(cli_env: tuple[str, Path], tmp_path: Path) -> None:
    from bot.cli import main

    codes = asyncio.run(make_cases(*cli_env))
    assert main(["report", "--from", "2024-11-27", "--to", "2024-11-28", "--format", "xlsx"]) == 0
    target = tmp_path / "bao-cao-phan-anh_2024-11-27_2024-11-28.xlsx"
    book = load_workbook(target)
    assert book.sheetnames == ["Phản ánh", "Tổng hợp"]
    sheet = book["Phản ánh"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [HEADERS[key] for key in COLUMNS] and len(rows) == 5
    a = dict(zip(COLUMNS, rows[1], strict=True))
    assert a["code"] == codes["A"] and a["category"] == "Hàng giả / hàng nhái" and a["platform"] == "Shopee"
    assert a["created_at"] == datetime(2024, 11, 27, 9, 0)  # a real date cell, Vietnam wall-clock time
    assert a["closed_at"] == datetime(2024, 11, 27, 14, 0) and a["minutes_to_resolve"] == 300
    assert a["contact"] == "09xx xxx 678 (đồng ý để cán bộ liên hệ)"
    assert sheet["B2"].number_format == "dd/mm/yyyy hh:mm"
    c = dict(zip(COLUMNS, rows[3], strict=True))
    assert c["acknowledged_at"] is None and c["minutes_to_acknowledge"] is None
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Khoảng thời gian"] == "27/11/2024 – 28/11/2024" and summary["Múi giờ"] == "Asia/Ho_Chi_Minh"
    assert summary["Từ"] == datetime(2024, 11, 27) and summary["Đến (không kể)"] == datetime(2024, 11, 29)
    assert summary["Tổng số phản ánh"] == 4
    assert summary["Hàng giả / hàng nhái"] == 2 and summary["Thị xã Bình Long"] == 1 and summary["Tiki"] == 1
    assert summary["Đã từ chối"] == 1 and summary["Cục Quản lý thị trường tỉnh Bình Phước"] == 2
    assert summary["Thời gian tiếp nhận (trung vị)"] == "2 giờ 15 phút"
    assert summary["Thời gian tiếp nhận (trung vị, phút)"] == 135
    assert summary["Thời gian xử lý xong (trung vị)"] == "14 giờ 30 phút"
    assert summary["Thời gian xử lý xong (trung vị, phút)"] == 870
    text = json.dumps([list(r) for r in rows], default=str)
    assert "0912" not in text


# -- the evidence pack ---------------------------------------------------------------------------------------


async def make_case_with_photos(url: str, media: Path) -> tuple[str, list[bytes]]:
    """A report with two photos; the agency asks for more, the reporter adds a photo and a word, staff reply."""
    async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media, config=reports_config()) as chat:
        inbox = Inbox()
        an = chat.person("u1", name="An")
        originals = [jpeg("pack-1", 20_000), jpeg("pack-2", 9_000), jpeg("pack-added", 12_000)]
        await to_photos(an)
        await an.send_photo(chat.serve("f1", originals[0]), album="al")
        await an.send_photo(chat.serve("f2", originals[1]), album="al")
        await an.press("Xong")
        await to_summary(an)
        code = await submit(an)
        await deliver(chat, inbox)
        card = card_of(inbox, QLTT, code)
        son = member(chat, "qltt-1", QLTT, "Sơn")
        chat.clock.advance(timedelta(hours=1))
        await son.press_on(card, "Yêu cầu bổ sung")
        await son.say("Bạn chụp giúp hóa đơn mua hàng nhé")
        await deliver(chat, inbox)
        await an.press_raw(inbox.last("u1").button("Bổ sung thông tin").payload)
        await an.send_photo(chat.serve("f3", originals[2]), caption="Hóa đơn đây ạ")
        await an.press("Xong")
        await deliver(chat, inbox)
        await son.reply_to(inbox.last(QLTT), "Cảm ơn bạn, chúng tôi sẽ kiểm tra cửa hàng.")
        await son.press_on(card, "Xem liên hệ")  # seen by Sơn, recorded
        await deliver(chat, inbox)
        return code, originals


def read_pack(path: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = {}
    for line in files["manifest.sha256"].decode().splitlines():
        digest, name = line.split("  ", 1)
        manifest[name] = digest
    return files, manifest


def test_cli_case_pack(cli_env: tuple[str, Path], tmp_path: Path, capsys) -> None:
    from bot.cli import main

    url, _ = cli_env
    code, originals = asyncio.run(make_case_with_photos(*cli_env))
    assert main(["case", "pack", code.lower()]) == 0
    assert f"Đã tạo gói chứng cứ {code}" in capsys.readouterr().err
    files, manifest = read_pack(tmp_path / f"{code}.zip")

    # Every file but the manifest is in it, with the right hash; the photos are the originals, byte for byte.
    assert set(manifest) == set(files) - {"manifest.sha256"}
    for name, digest in manifest.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest, name
    photos = sorted(name for name in files if name.startswith("photos/"))
    assert [files[name] for name in photos] == originals
    assert photos[0].startswith("photos/01-report-") and photos[2].startswith("photos/03-addition-")
    assert all(name.endswith(".jpg") for name in photos)

    raw = files["record.json"].decode()
    assert "0912" not in raw and "+8491" not in raw  # the contact is masked
    record = json.loads(raw)
    assert record["with_contact"] is False and record["timezone"] == "Asia/Ho_Chi_Minh"
    complaint = record["complaint"]
    assert complaint["code"] == code and complaint["category_name"] == "Hàng giả / hàng nhái"
    assert complaint["submitted_at"] == "2024-11-27T09:00:00+07:00"
    assert complaint["reporter"]["phone_masked"] == "09xx xxx 678" and "user_id" not in complaint["reporter"]
    assert [p["sha256"] for p in record["photos"]] == [hashlib.sha256(o).hexdigest() for o in originals]
    assert [p["source"] for p in record["photos"]] == ["report", "report", "addition"]
    assert record["case"]["lead_name"] == "Cục Quản lý thị trường tỉnh Bình Phước"
    actions = [a["action"] for a in record["case_actions"]]
    assert actions == ["routed", "ack", "more", "reporter_added", "reply", "contact_viewed"]
    more = record["case_actions"][2]
    assert (more["actor_name"], more["before"]["status"], more["after"]["status"]) == (
        "Trần Văn Sơn",
        "acknowledged",
        "waiting_reporter",
    )
    directions = [(m["direction"], m["text"]) for m in record["messages"]]
    assert any(d == "from_reporter" and "Hóa đơn đây ạ" in t for d, t in directions)
    relay = next(m for m in record["messages"] if m["direction"] == "to_agency_chat")
    assert relay["chat_id"] == QLTT and relay["photos"] == [hashlib.sha256(originals[2]).hexdigest()]
    to_reporter = [m for m in record["messages"] if m["direction"] == "to_reporter"]
    assert any("chụp giúp hóa đơn" in m["text"] for m in to_reporter)
    assert any("sẽ kiểm tra cửa hàng" in m["text"] for m in to_reporter)
    assert all(m["chat_id"] is None for m in to_reporter)  # the reporter's account is contact too
    assert any(e["note"] == "Người phản ánh bổ sung 1 ảnh" for e in record["history"])

    # With the contact: in full, and the export is on the case's audit trail (and in the pack's own copy).
    target = tmp_path / "ho-so" / "full.zip"
    assert main(["case", "pack", code, "--out", str(target), "--with-contact"]) == 0
    files, manifest = read_pack(target)
    assert hashlib.sha256(files["record.json"]).hexdigest() == manifest["record.json"]
    record = json.loads(files["record.json"])
    assert record["with_contact"] is True and record["complaint"]["reporter"]["phone"] == "0912 345 678"
    assert record["complaint"]["reporter"]["user_id"] == "u1"
    exported = record["case_actions"][-1]
    assert exported["action"] == "contact_exported" and exported["actor_channel"] == "cli"
    assert str(target.resolve()) in exported["note"]

    async def trail() -> list[str]:
        async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=cli_env[1]) as chat:
            return [a.action for a in await audit(chat, code)]

    assert asyncio.run(trail())[-1] == "contact_exported"

    # A photo gone from the store: the pack is still made, says so, and the exit code tells.
    missing = cli_env[1] / record["photos"][1]["sha256"][:2] / record["photos"][1]["sha256"]
    missing.unlink()
    assert main(["case", "pack", code, "--out", str(tmp_path / "partial.zip")]) == 3
    assert "Thiếu tệp ảnh" in capsys.readouterr().err
    files, manifest = read_pack(tmp_path / "partial.zip")
    assert len([n for n in files if n.startswith("photos/")]) == 2 and set(manifest) == set(files) - {"manifest.sha256"}
    assert [p["missing"] for p in json.loads(files["record.json"])["photos"]] == [False, True, False]


def test_cli_case_pack_of_an_unknown_code(cli_env: tuple[str, Path], tmp_path: Path, capsys) -> None:
    from bot.cli import main

    for code in ("PA-2345-67", "không-phải-mã"):
        assert main(["case", "pack", code]) == 1
        assert f"Không tìm thấy phản ánh «{code}»" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.zip"))
