"""A Zalo OA channel rig for tests: the recording fake, the app, the channel and its webhook server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp

from bot.app import App, create_app
from bot.channels.zalo_oa import ZaloOAChannel
from bot.channels.zalo_tokens_crypto import TokenCipher
from bot.inbox import Inbox
from bot.settings import Settings
from bot.webhooks import WebhookServer
from handlers.clock import FixedClock
from storage.zalo import ZaloToken
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.databases import migrated_sqlite
from tests.support.fakes.zalo_oa_api import FakeZaloOA


@dataclass
class Rig:
    fake: FakeZaloOA
    app: App
    channel: ZaloOAChannel
    server: WebhookServer
    handled: list

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/zalo-oa"

    async def post(self, http: aiohttp.ClientSession, event: dict, headers: dict | None = None) -> int:
        body, signed = self.fake.signed(event)
        async with http.post(self.url, data=body, headers=signed if headers is None else headers) as response:
            return response.status

    async def deliver_event(self, event: dict) -> int:
        async with aiohttp.ClientSession() as http:
            status = await self.post(http, event)
        await self.channel.drain()
        return status


def make_settings(fake: FakeZaloOA, tmp_path: Path, **extra) -> Settings:
    values = {
        "database_url": migrated_sqlite(tmp_path / "oa.db"),
        "media_dir": tmp_path / "media",
        "zalo_oa_app_id": fake.app_id,
        "zalo_oa_secret_key": fake.oa_secret_key,
        "zalo_oa_app_secret": fake.app_secret,
        "zalo_oa_access_token": fake.initial_access,
        "zalo_oa_refresh_token": fake.initial_refresh,
        "zalo_oa_api_base_url": fake.base_url,
        "zalo_oa_oauth_base_url": fake.base_url,
        "album_quiet_seconds": 1.0,  # generous: the burst tests must not depend on timing
        "album_max_wait_seconds": 4.0,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)


async def make_rig(fake: FakeZaloOA, settings: Settings) -> Rig:
    app = create_app(settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge())
    await app.start()
    assert app.dispatcher is not None
    handled: list = []
    handle = app.dispatcher.handle

    async def counting(msg):
        handled.append(msg)
        return await handle(msg)

    channel = ZaloOAChannel(settings, counting, app.db, inbox=Inbox(app.db))
    app.register_downloader(channel.name, channel.download_to)
    server = WebhookServer("127.0.0.1", 0)
    channel.attach(server)
    await server.start()
    await channel.start()
    return Rig(fake, app, channel, server, handled)


async def close_rig(rig: Rig) -> None:
    await rig.channel.stop()
    await rig.server.stop()
    await rig.app.stop()


async def stored_token(app: App) -> ZaloToken:
    async with app.db.unit_of_work() as uow:
        row = await uow.zalo.get_token("oa-app-1")
    assert row is not None
    return row


async def stored_pair(app: App, cipher: TokenCipher) -> tuple[str, str]:
    row = await stored_token(app)
    return cipher.decrypt(row.access_token).value, cipher.decrypt(row.refresh_token).value


async def set_expiry(app: App, expires_at: datetime) -> None:
    async with app.db.unit_of_work() as uow:
        row = await uow.zalo.get_token("oa-app-1")
        row.expires_at = expires_at
        await uow.commit()
