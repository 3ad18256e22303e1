"""A leader's outbox sender that dies between creating a forum topic and recording it (the kill tests).

Run as ``python -m tests.support.topic_crash_worker DATABASE_URL API_BASE_URL TOKEN ISO_TIME``: it delivers the
outbox through the Telegram channel on the fake Bot API and, as soon as ``createForumTopic`` has answered with
the topic's id, kills itself with SIGKILL: the topic exists at Telegram, its id is recorded nowhere.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime

from bot.app import create_app
from bot.channels.telegram import TelegramChannel
from bot.sender import OutboxSender
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.types import Reply
from tests.support.cases import FAST
from tests.support.chat import shared_knowledge
from tests.support.telegram import tg_topics_config


async def main(url: str, api: str, token: str, at: str) -> int:
    settings = Settings(
        _env_file=None,
        database_url=url,
        telegram_bot_token=token,
        telegram_api_base_url=api,
        telegram_file_base_url=api.replace("/bot", "/file/bot"),
    )
    clock = FixedClock(datetime.fromisoformat(at))
    app = create_app(settings, clock=clock, config=tg_topics_config(), knowledge=shared_knowledge())
    async with app:
        channel = TelegramChannel(settings, app.dispatcher.handle)

        async def deliver(chat_id: str, reply: Reply) -> str | None:
            message_id = await channel.deliver(chat_id, reply)
            if reply.topic and not reply.thread_id:
                os.kill(os.getpid(), signal.SIGKILL)  # created at Telegram, recorded nowhere
            return message_id

        sender = OutboxSender(app.db, {"telegram": deliver}, clock=app.clock, codec=app.codec, options=FAST)
        await sender.run(until_empty=True)
    return 0  # not reached when a topic was to be created


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
