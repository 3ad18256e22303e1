"""A separate process for the topic note race: hand the dispatcher Telegram's notes of forum topics created.

Run as ``python -m tests.support.topic_note_worker DATABASE_URL ISO_TIME NOTES_JSON`` (``NOTES_JSON``: a list of
``{"code", "thread"}``). It prints "ready", waits for a line on stdin (so two workers go together), handles each
note in an order of its own (as the update Telegram sends, from the bot, in Cục QLTT's forum group) and prints
one JSON line: how many notes it handled.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from datetime import datetime

from handlers.types import ChatKind, IncomingMessage, MessageKind
from tests.support.cases import TOPICS_GROUP, topics_config
from tests.support.chat import ChatHarness

BOT_USER = "7000000001"


async def main(url: str, at: str, notes_json: str) -> int:
    notes = json.loads(notes_json)
    random.Random(os.getpid()).shuffle(notes)
    async with ChatHarness.create(url, now=datetime.fromisoformat(at), config=topics_config()) as harness:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        dispatcher = harness.app.dispatcher
        assert dispatcher is not None
        for note in notes:
            message = IncomingMessage(
                channel="telegram",
                chat_id=TOPICS_GROUP,
                user_id=BOT_USER,
                kind=MessageKind.TOPIC_CREATED,
                chat_kind=ChatKind.GROUP,
                text=f"{note['code']} · Hàng giả · 🆕 Mới, chờ tiếp nhận",
                thread_id=note["thread"],
                message_id=note["thread"],
            )
            assert await dispatcher.handle(message) == []
    print(json.dumps(len(notes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
