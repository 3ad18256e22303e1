"""The local trial of both sides: ``python -m bot chat --staff qltt`` in one process plays Cục QLTT's staff, a
plain ``python -m bot chat`` in another files a report, both on one SQLite file. The report is routed, its card
prints on the staff terminal (every phone masked) with numbered buttons; pressing «Tiếp nhận» by its number
reaches the reporter's terminal."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from tests.support.processes import cli_env, read_until

pytestmark = [pytest.mark.processes]

REPORT = [
    "/phananh",
    "Hàng giả",
    "Shopee",
    "Shop Hoa",
    "https://shopee.vn/hoa",
    "Son môi",
    "hôm qua",
    "Son bị chảy, gọi tôi 0987654321",
    "bỏ qua",
    "Đồng Xoài",
    "0912345678",
    "đồng ý",
    "gửi",
]


async def start(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env=cli_env(tmp_path, MEDIA_DIR=str(tmp_path / "data" / "media")),
    )


async def test_a_report_filed_in_one_terminal_is_taken_in_the_staff_terminal(tmp_path: Path) -> None:
    staff = await start(tmp_path, "--staff", "qltt")
    assert staff.stdout is not None
    # The first terminal makes the database; the second opens once it is there (as the README says).
    assert "Bạn đang là Cán bộ Cục QLTT" in await read_until(staff.stdout, "Cán bộ")
    reporter = await start(tmp_path)
    try:
        assert reporter.stdout is not None and staff.stdin is not None and reporter.stdin is not None
        reporter.stdin.write(("\n".join(REPORT) + "\n").encode())
        filed = await read_until(reporter.stdout, "Mã tra cứu của bạn", timeout=60)
        code = re.search(r"PA-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}", filed.split("Mã tra cứu của bạn")[1])
        assert code, filed
        card = await read_until(staff.stdout, "Xem liên hệ", timeout=60)
        assert f"PHẢN ÁNH {code.group(0)}" in card and "09xx xxx 678" in card and "09xx xxx 321" in card
        assert "0912345678" not in card and "0987654321" not in card
        take = re.search(r"\[(\d+)\] 📥 Tiếp nhận", card)
        assert take, card
        staff.stdin.write(f"{take.group(1)}\n".encode())
        assert f"Đã tiếp nhận {code.group(0)}" in await read_until(staff.stdout, "Đã tiếp nhận", timeout=30)
        heard = await read_until(reporter.stdout, "📬", timeout=60)
        assert f"📬 Phản ánh {code.group(0)} của bạn đã được" in heard
    finally:
        for process in (staff, reporter):
            if process.stdin is not None:
                process.stdin.close()
        codes = await asyncio.wait_for(asyncio.gather(staff.wait(), reporter.wait()), 30)
    assert codes == [0, 0]
    assert (tmp_path / "data" / "console-mail").stat().st_mode & 0o077 == 0  # the mailbox: owner-only


async def test_an_unknown_agency_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    process = await start(tmp_path, "--staff", "khong-co")
    assert process.stdout is not None
    output = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
    assert await process.wait() == 2
    assert "Không có cơ quan «khong-co»" in output and "qltt" in output
