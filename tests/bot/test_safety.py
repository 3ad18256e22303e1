"""The console survives what people type, the log keeps out of the chat and holds no contact, the files the
assistant writes are owner-only, refused Telegram webhook requests are counted rather than logged one by one."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.logs import setup_logging
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.processes import cli_env
from tests.support.telegram import make_settings


@pytest.mark.processes
def test_the_console_survives_other_digits_nul_and_a_lone_surrogate(tmp_path: Path) -> None:
    typed = "/phananh\n²\n①\n٣\n፩\n".encode() + b"\xed\xa0\x80\n\x00\x00\n\xff\xfe\n1\n1\nShop\x00 Hoa\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input=typed,
        capture_output=True,
        cwd=tmp_path,
        env=cli_env(tmp_path, LOG_LEVEL="DEBUG"),
        timeout=120,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "Traceback" not in out + err and "Xin lỗi" not in out
    assert "Bạn mua hàng ở đâu" in out and "Tên người bán" in out and "đường link" in out
    assert err == ""  # the log goes to a file, so the chat reads cleanly
    log = tmp_path / "data" / "chat.log"
    assert log.stat().st_mode & 0o777 == 0o600 and "DEBUG" in log.read_text()
    assert (tmp_path / "cli.db").stat().st_mode & 0o777 == 0o600


def test_no_contact_reaches_the_log_at_any_level() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("telegram").level)
    stream = io.StringIO()
    try:
        setup_logging("DEBUG", ["tok-123"], stream)
        logging.getLogger("handlers.qa").debug("question from An: gọi 0987654321 hoặc an.nguyen@gmail.com tok-123")
        logging.getLogger("telegram.ext").debug("update {'text': 'gọi tôi 0912 345 678'}")  # payloads: never
        logging.getLogger("telegram.ext").info("application started")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("telegram").setLevel(saved[2])
    text = stream.getvalue()
    assert "09xx xxx 321" in text and "a***@gmail.com" in text and "***" in text
    assert "0987654321" not in text and "an.nguyen" not in text and "tok-123" not in text
    assert "0912" not in text and "application started" in text


async def test_refused_telegram_webhook_requests_are_counted_not_logged_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeTelegramAPI() as fake:
        settings = make_settings(fake, tmp_path, telegram_webhook_secret="s3cret-value")
        channel = TelegramChannel(settings, lambda msg: None)
        with caplog.at_level(logging.WARNING):
            for i in range(50):
                headers = {SECRET_HEADER: f"wrong-{i}"} if i % 2 else {}
                response = await channel._webhook(make_mocked_request("POST", "/telegram", headers=headers))
                assert response.status == 403
    assert channel.refusals.total == 50
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "telegram webhook: refused 1 request(s)" in lines[0].getMessage()


@pytest.mark.processes
def test_output_to_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "countdown"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=cli_env(tmp_path),
    )
    process.stdout.close()  # like `… | head` that has read enough: every write now meets a closed pipe
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.processes
def test_the_console_remembers_its_numbered_options_across_a_restart(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    first = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input=b"/start\n",
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert "[3] ⏳ Đếm ngược Online Friday" in first.stdout.decode()
    second = subprocess.run(
        [sys.executable, "-m", "bot", "chat"], input=b"3\n", capture_output=True, cwd=tmp_path, env=env, timeout=120
    )
    answer = second.stdout.decode().split("👤 3", 1)[1]
    assert "Nhận nhắc lịch" in answer and "Tuần lễ Thương mại điện tử" in answer  # the countdown: option 3
