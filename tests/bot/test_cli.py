"""The command line as a person runs it: piped console chat, fallback from `run`, restarts after SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import PLAN_2024
from tests.support.processes import ROOT, call_cli, cli_env, read_until, run_cli


@pytest.mark.processes
def test_piped_chat_prints_the_menu_and_help(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "chat", stdin="/start\n/help\n")
    assert result.returncode == 0, result.stderr
    assert "Xin chào!" in result.stdout
    assert "[1] ❓ Hỏi đáp về khuyến mại (cho thương nhân)" in result.stdout
    assert "[5] ☎️ Liên hệ" in result.stdout
    assert "/phananh" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.processes
def test_console_buttons_by_number_and_label(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "chat", "--name", "Bình", stdin="/start\n5\n/vaitro\nNgười tiêu dùng\n1\n")
    assert result.returncode == 0, result.stderr
    assert "Xin chào Bình!" in result.stdout
    assert "1800 6838" in result.stdout  # [5] Liên hệ
    assert "Bạn là: 🛒 Người tiêu dùng" in result.stdout
    assert "Đã lưu" in result.stdout


@pytest.mark.processes
def test_console_photo_command(tmp_path: Path) -> None:
    photo = tmp_path / "tem.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    result = run_cli(tmp_path, "chat", stdin=f"/photo {photo}\n/photo /khong/co/tep.jpg\n")
    assert result.returncode == 0, result.stderr
    assert "chưa xử lý được ảnh" in result.stdout
    assert "chưa xử lý được tệp" in result.stdout


@pytest.mark.processes
def test_run_without_a_messenger_falls_back_to_the_console(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", stdin="/start\n")
    assert result.returncode == 0, result.stderr
    notice = [line for line in result.stderr.splitlines() if "Chưa cấu hình kênh nhắn tin" in line]
    assert len(notice) == 1
    assert "Xin chào" in result.stdout


@pytest.mark.processes
def test_version_help_and_db_upgrade(tmp_path: Path) -> None:
    assert call_cli(tmp_path, "--version").stdout.startswith("python -m bot ")
    for args in (["--help"], ["chat", "--help"], ["db", "--help"], ["run", "--help"]):
        assert call_cli(tmp_path, *args).returncode == 0
    upgraded = run_cli(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0 and "Đã cập nhật" in upgraded.stdout
    assert (tmp_path / "cli.db").exists()


@pytest.mark.processes
def test_the_process_runs_this_checkout(tmp_path: Path) -> None:
    probe = [sys.executable, "-c", "import bot; print(bot.__file__)"]
    result = subprocess.run(probe, capture_output=True, text=True, cwd=tmp_path, env=cli_env(tmp_path), check=True)
    assert Path(result.stdout.strip()).resolve() == ROOT / "bot" / "__init__.py"


@pytest.mark.processes
def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    """`ask` loads the Q&A command, not the report's spreadsheet code, the evidence pack or the channels."""
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "code = main(['ask', 'khuyến mại tối đa bao nhiêu phần trăm'])\n"
        "print(code, ' '.join(sorted(m for m in sys.modules if m.startswith(('bot.', 'openpyxl', 'handlers.cases.')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=cli_env(tmp_path), check=True
    )
    code, loaded = result.stdout.splitlines()[-1].split(" ", 1)
    assert code == "0"
    assert "bot.cli.qa" in loaded.split()
    for heavy in ("bot.cli.report", "bot.cli.complaints", "bot.cli.run", "bot.channels", "bot.app", "openpyxl"):
        assert heavy not in loaded.split(), heavy
    assert "handlers.cases.report_files" not in loaded and "handlers.cases.pack" not in loaded


def test_config_check_and_a_broken_config_naming_the_field(tmp_path: Path) -> None:
    ok = call_cli(tmp_path, "config", "check")
    assert ok.returncode == 0 and "11 địa bàn" in ok.stdout
    bad = tmp_path / "bad.yaml"
    text = PLAN_2024.read_text(encoding="utf-8")
    bad.write_text(text.replace("end: 2024-12-01T12:00:00+07:00", "end: 2024-11-28T12:00:00+07:00"), encoding="utf-8")
    broken = call_cli(tmp_path, "config", "check", BOT_CONFIG=str(bad))
    assert broken.returncode == 2
    assert "campaigns.1.events.1" in broken.stderr and "end phải sau start" in broken.stderr
    refused = call_cli(tmp_path, "run", BOT_CONFIG=str(bad))
    assert refused.returncode == 2 and "campaigns.1.events.1" in refused.stderr


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_a_conversation_resumes_at_the_same_step_after_sigkill(tmp_path: Path) -> None:
    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--user", "u1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path, env=cli_env(tmp_path),
        )  # fmt: skip

    first = await spawn()
    first.stdin.write(b"/vaitro\n")
    await read_until(first.stdout, "vai trò nào")
    first.stdin.write(b"1\n")
    await read_until(first.stdout, "hình thức nào")
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    second = await spawn()
    second.stdin.write(b"2\n")
    seen = await read_until(second.stdout, "Lưu thông tin này")
    assert "Hộ kinh doanh" in seen
    second.stdin.close()
    assert await second.wait() == 0
