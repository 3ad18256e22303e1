"""One process wired like ``python -m bot run`` against the loopback fakes: its settings (webhooks on a free
loopback port) and its channels, webhook server, leader and case worker, started and stopped."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import App, create_app
from bot.cli.run import wire_channels
from bot.leader import Leader
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.cases.worker import CaseWorker
from handlers.clock import FixedClock
from handlers.config import AppConfig
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.telegram import telegram_config


def fake_settings(
    database_url: str, tmp_path: Path, *, quiet: float, telegram: Any = None, zalo_bot: Any = None, oa: Any = None
) -> Settings:
    """``telegram``, ``zalo_bot``, ``oa``: the fakes whose channels are on (FakeTelegramAPI, FakeZaloBotAPI,
    FakeZaloOA); ``quiet``: the album quiet time."""
    fields: dict[str, Any] = {}
    if telegram is not None:
        fields |= {
            "telegram_bot_token": telegram.token,
            "telegram_api_base_url": telegram.api_base_url,
            "telegram_file_base_url": telegram.file_base_url,
        }
    if zalo_bot is not None:
        fields |= {"zalo_bot_token": zalo_bot.token, "zalo_bot_api_base_url": zalo_bot.api_base_url}
    if oa is not None:
        fields |= {
            "zalo_oa_app_id": oa.app_id,
            "zalo_oa_secret_key": oa.oa_secret_key,
            "zalo_oa_app_secret": oa.app_secret,
            "zalo_oa_access_token": oa.initial_access,
            "zalo_oa_refresh_token": oa.initial_refresh,
            "zalo_oa_api_base_url": oa.base_url,
            "zalo_oa_oauth_base_url": oa.base_url,
        }
    return Settings(
        _env_file=None,
        database_url=database_url,
        media_dir=tmp_path / "media",
        webhook_listen="127.0.0.1",
        webhook_port=0,
        album_quiet_seconds=quiet,
        album_max_wait_seconds=3,
        **fields,
    )


@dataclass
class Wired:
    app: App
    clock: FixedClock
    channels: dict[str, Any]
    server: WebhookServer
    leader: Leader
    worker: CaseWorker


@asynccontextmanager
async def wired(settings: Settings, config: AppConfig | None = None) -> AsyncIterator[Wired]:
    """The app with Cục QLTT's staff on Telegram (``telegram_config`` unless ``config``), wired as ``run`` wires it; the
    leader's sender only quicker to notice it is done; the channels started, the webhook server listening."""
    clock = FixedClock(DEFAULT_NOW)
    app = create_app(settings, clock=clock, config=config or telegram_config(), knowledge=shared_knowledge())
    async with app:
        channels, server, leader, inbox = wire_channels(app)
        quick = dataclasses.replace(leader.timing.sender, flush_interval=0.02, idle_poll=0.02, backoff_base=0.05)
        leader.timing = dataclasses.replace(leader.timing, sender=quick)
        worker = CaseWorker(app.db, app.config, clock, app.media)
        started = []
        try:
            await server.start()
            for channel in channels:
                await channel.start()
                started.append(channel)
            yield Wired(app, clock, {c.name: c for c in channels}, server, leader, worker)
        finally:
            for channel in reversed(started):
                await channel.stop()
            await server.stop()
            await inbox.close()
