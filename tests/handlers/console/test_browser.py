"""The staff web console in a real browser (Debian's Chromium, headless, driven by Playwright) against one process
wired like ``python -m bot run``: Telegram and Zalo OA on their loopback fakes, the console on the webhook server.

Screenshots of the main pages go to the test's temporary folder, and to ``CONSOLE_SCREENSHOTS`` when set (that is
how ``docs/console/*.png`` are made).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.questions import Question, QuestionStatus
from tests.support.browser import PHONE, QUESTIONS_DESK, RunRig, chromium, run_rig
from tests.support.complaints import file_report
from tests.support.images import jpeg
from tests.support.telegram import GROUP, STAFF, USER, ReporterRig, file_with_album

pytestmark = pytest.mark.browser

MERCHANT = 5151
OA_USER = "oa-user-7"
REPLY = "Đoàn kiểm tra đã làm việc với cửa hàng; bạn được hoàn tiền trong 3 ngày."


@pytest.fixture
async def rig(sqlite_url: str, tmp_path: Path) -> AsyncIterator[RunRig]:
    async with run_rig(sqlite_url, tmp_path) as rig:
        yield rig


def shoot_to(tmp_path: Path):
    wanted = os.environ.get("CONSOLE_SCREENSHOTS")

    async def shoot(page, name: str) -> None:
        path = tmp_path / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(wanted) / f"{name}.png")

    return shoot


async def two_reports(rig: RunRig) -> tuple[str, str]:
    """A report with three photos on Telegram, another on Zalo OA; both routed to Cục QLTT's group."""
    reporter = ReporterRig(rig.telegram, rig.app, rig.channels["telegram"])
    telegram_code = await file_with_album(reporter, [jpeg(f"photo-{i}", 20_000 + i) for i in range(3)])
    lan = rig.zalo_person(OA_USER, "Lan")
    oa_code = await file_report(lan, seller="Cửa hàng Điện Máy Xanh Lá", product="Nồi chiên không dầu")
    await rig.lead()
    return telegram_code, oa_code


async def act_on(page, code: str, reply: str) -> None:
    """On the case page: acknowledge, then reply to the reporter."""
    await page.click("form[data-code=ack] button")
    await page.wait_for_selector(f"text=Đã tiếp nhận {code}")
    await page.fill("form[data-code=reply] textarea", reply)
    await page.click("form[data-code=reply] button")
    await page.wait_for_selector("text=Đã gửi trả lời tới người phản ánh")


async def test_a_staff_member_works_a_day_in_the_browser(rig: RunRig, tmp_path: Path) -> None:
    telegram_code, oa_code = await two_reports(rig)
    async with rig.app.db.unit_of_work() as uow:
        question = await uow.questions.add(Question(
            channel="telegram", chat_id=str(MERCHANT), user_id=str(MERCHANT), text="Giảm giá 70% có phải đăng ký?",
            status=QuestionStatus.FORWARDED.value, created_at=rig.clock.now(), forwarded_at=rig.clock.now(),
        ))  # fmt: skip
        await uow.commit()
    link = await rig.sign_in_link(STAFF)  # received on the fake Telegram, in the private chat
    shoot = shoot_to(tmp_path)
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = await context.new_page()
        await page.goto(link)
        await page.click("#signin")
        await page.wait_for_url("**/console/cases")
        assert await page.locator("table.list tbody tr").count() == 2
        await shoot(page, "cases")

        await page.fill("input[name=q]", "dien may xanh")  # no diacritics
        await page.press("input[name=q]", "Enter")
        await page.wait_for_load_state()
        assert await page.locator("table.list a.code").all_inner_texts() == [oa_code]
        await page.goto(rig.base + "/console/cases")
        await page.select_option("select[name=status]", "new")  # applies at once (console.js)
        await page.wait_for_url(re.compile(r"status=new"))
        assert await page.locator("table.list tbody tr").count() == 2

        await page.click(f"text={telegram_code}")
        await page.wait_for_selector("img.thumb")
        thumbs = page.locator("img.thumb")
        assert await thumbs.count() == 3 and await page.locator("text=SHA-256").count() == 3
        first = await thumbs.first.get_attribute("src")
        photo = await page.request.get(rig.base + first)
        assert photo.ok and photo.headers["content-type"] == "image/jpeg" and len(await photo.body()) == 20_000
        await shoot(page, "case")
        await act_on(page, telegram_code, REPLY)
        await rig.lead()
        edits = [c for c in rig.telegram.calls_of("editMessageText") if c.params["chat_id"] == GROUP]
        assert "Trạng thái: 📥 Đã tiếp nhận" in edits[-1].params["text"]
        assert "Trả lời người phản ánh — Trần Văn Sơn" in edits[-1].params["text"]
        assert any(REPLY in t for t in rig.telegram.sent_texts(USER))  # the reporter on Telegram

        await page.goto(rig.base + "/console/cases?q=" + oa_code)
        await page.click(f"text={oa_code}")
        await act_on(page, oa_code, REPLY)
        await rig.lead()
        assert any(REPLY in t for t in rig.oa.texts(OA_USER))  # the reporter on Zalo OA

        await page.goto(rig.base + "/console/stats")
        assert await page.locator("svg.chart rect").count() >= 1
        await shoot(page, "stats")
        async with page.expect_download() as download_info:
            await page.click("#export-csv")
        download = await download_info.value
        exported = Path(await download.path()).read_text(encoding="utf-8-sig")
        assert telegram_code in exported and oa_code in exported and "0912 345 678" not in exported

        await page.click("text=Đăng xuất")
        await page.goto(rig.base + "/console/cases")
        assert await page.locator("text=Gửi /dangnhap").count() == 1

        # Merchant questions are answered by the agency that leads them (Phòng QLTM), from its own sign-in.
        await page.goto(await rig.sign_in_link(QUESTIONS_DESK))
        await page.click("#signin")
        await page.wait_for_url("**/console/cases")
        await page.goto(rig.base + "/console/questions")
        await page.fill(f"#q{question.id} textarea", "Giảm trên 50% phải đăng ký với Sở Công Thương.")
        await shoot(page, "questions")
        await page.click(f"#q{question.id} button")
        await page.wait_for_selector(f"text=Đã ghi nhận câu trả lời cho {question.code}")
        await rig.lead()
        assert any("phải đăng ký với Sở Công Thương" in t for t in rig.telegram.sent_texts(MERCHANT))
        await page.click("text=Đăng xuất")
        await context.close()


async def test_the_console_works_on_a_phone(rig: RunRig, tmp_path: Path) -> None:
    telegram_code, _ = await two_reports(rig)
    link = await rig.sign_in_link(STAFF)
    shoot = shoot_to(tmp_path)
    async with chromium() as browser:
        context = await browser.new_context(**PHONE)
        page = await context.new_page()
        await page.goto(link)
        await page.tap("#signin")
        await page.wait_for_url("**/console/cases")
        await shoot(page, "phone-cases")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        await page.tap(f"text={telegram_code}")
        await page.wait_for_selector("img.thumb")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.tap("form[data-code=ack] button")
        await page.wait_for_selector(f"text=Đã tiếp nhận {telegram_code}")
        await shoot(page, "phone-case")
        await context.close()
