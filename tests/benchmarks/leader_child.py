"""What the benchmarks' child processes share: they run the bot's leader against the fake Bot API, as
``python -m bot run`` would — the leader lock, a Telegram channel on the given limiter, one database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.channels.telegram import TelegramChannel
from bot.leader import LeaderLock
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from storage.db import Database


async def _no_handle(_msg):
    return []


@asynccontextmanager
async def telegram_leader(
    db_url: str, token: str, api: str, limiter: RateLimiter
) -> AsyncIterator[tuple[TelegramChannel, Database] | None]:
    """``(channel, db)`` while holding the leader lock, or ``None`` (after printing why) when another
    process holds it; the channel, the database and the lock are released on the way out."""
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        telegram_bot_token=token,
        telegram_api_base_url=api,
        telegram_file_base_url=api.replace("/bot", "/file/bot"),
    )
    lock = LeaderLock(db_url)
    if not await lock.try_acquire():
        print(json.dumps({"error": "not the leader"}), flush=True)
        yield None
        return
    channel = TelegramChannel(settings, _no_handle, limiter=limiter)
    db = Database(db_url)
    try:
        yield channel, db
    finally:
        await channel.close_bulk()
        await db.dispose()
        await lock.release()
