"""Real-browser rigs for the staff web console: Debian's Chromium driven by Playwright, and one process wired like
``python -m bot run`` (Telegram and Zalo OA against their loopback fakes, the console on the webhook server).

Chromium is the system's (``/usr/bin/chromium``; never a downloaded browser), started headless with the flags this
machine needs. Without it (or without Playwright) the browser tests are skipped with the reason, unless
``REQUIRE_BROWSER=1`` (set by ``.ci/run``), which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.leader import Leader
from bot.webhooks import WebhookServer
from handlers.cases.worker import CaseWorker
from handlers.clock import FixedClock
from handlers.config import AppConfig
from handlers.types import IncomingMessage
from tests.support.chat import Person
from tests.support.fakes.telegram_api import FakeTelegramAPI, text_update
from tests.support.fakes.zalo_oa_api import FakeZaloOA
from tests.support.telegram import telegram_config
from tests.support.wired import fake_settings, wired

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def need_browser() -> str:
    """The Chromium to drive; skips (fails under REQUIRE_BROWSER=1) when there is none or no Playwright."""
    path = chromium_path()
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        path, reason = None, "the playwright package is not installed (make install)"
    else:
        reason = "no Chromium found (apt-get install chromium; .ci/run installs it)"
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    path = need_browser()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class ChannelPerson(Person):
    """A person of the test harness on another channel (their messages go through the same dispatcher)."""

    channel: str = "zalo_oa"

    def _msg(self, **fields) -> IncomingMessage:
        return IncomingMessage(
            channel=self.channel, chat_id=self.chat_id, user_id=self.user_id, display_name=self.name, **fields
        )


@dataclass
class RunRig:
    """One process as ``run`` wires it: the channels, the webhook server with the console, the leader's sender."""

    app: App
    clock: FixedClock
    telegram: FakeTelegramAPI
    oa: FakeZaloOA
    server: WebhookServer
    leader: Leader
    worker: CaseWorker
    channels: dict[str, Any]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def lead(self) -> None:
        """One round of the leader's work: route reports, deliver the outbox, link the message ids."""
        await self.worker.tick()
        await asyncio.wait_for(self.leader.make_sender().run(until_empty=True), 30)
        await self.worker.tick()

    async def sign_in_link(self, user_id: int) -> str:
        """``/dangnhap`` sent on Telegram by ``user_id``: the link's path and query, as received."""
        before = len(self.telegram.sent_texts(user_id))
        self.telegram.push_update(text_update("/dangnhap", user_id=user_id, first_name="Sơn"))
        calls = await self.telegram.wait_for(
            "sendMessage", before + 1, timeout=10, predicate=lambda c: c.params.get("chat_id") == user_id
        )
        text = calls[-1].params["text"]
        link = next(word for word in text.split() if "/console/login/" in word)
        return self.base + "/console/login/" + link.rsplit("/", 1)[1]

    def zalo_person(self, user_id: str, name: str) -> ChannelPerson:
        return ChannelPerson(self, user_id, name, user_id)  # type: ignore[arg-type]  (it only needs .app)


QUESTIONS_DESK = 9002  # Phòng QLTM's staff member: that agency leads (and alone answers) merchant questions


def console_config() -> AppConfig:
    """Cục QLTT's staff on Telegram (``telegram_config``) and one of Phòng QLTM's, who answers merchants."""
    data = telegram_config().model_dump(mode="python")
    desk = {"channel": "telegram", "user_id": str(QUESTIONS_DESK), "name": "Lê Thị Mai", "agency": "qltm"}
    return AppConfig.model_validate({**data, "staff": [*data["staff"], desk]})


@asynccontextmanager
async def run_rig(database_url: str, tmp_path: Path) -> AsyncIterator[RunRig]:
    async with FakeTelegramAPI() as telegram, FakeZaloOA() as oa:
        settings = fake_settings(database_url, tmp_path, quiet=0.3, telegram=telegram, oa=oa)
        async with wired(settings, console_config()) as w:  # exactly as `run`: the console is on the webhook server
            yield RunRig(w.app, w.clock, telegram, oa, w.server, w.leader, w.worker, w.channels)
