"""A separate process for the case race tests: press the given buttons, as the given people, at a given moment.

Run as ``python -m tests.support.case_press_worker DATABASE_URL ISO_TIME PRESSES_JSON`` (a list of
``[user_id, chat_id, "group" | "private", payload]``). It prints "ready", waits for a line on stdin (so two workers
press together), presses each button through the real dispatcher and prints one JSON line: the texts answered.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from handlers.types import ChatKind, IncomingMessage, MessageKind
from tests.support.cases import cases_config
from tests.support.chat import CHANNEL, ChatHarness


async def main(url: str, at: str, presses: list[list[str]]) -> int:
    async with ChatHarness.create(url, now=datetime.fromisoformat(at), config=cases_config()) as harness:
        dispatcher = harness.app.dispatcher
        assert dispatcher is not None
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        answers = []
        for user_id, chat_id, kind, payload in presses:
            msg = IncomingMessage(
                channel=CHANNEL, chat_id=chat_id, user_id=user_id, display_name=user_id, kind=MessageKind.BUTTON,
                button=payload, chat_kind=ChatKind.GROUP if kind == "group" else ChatKind.PRIVATE,
            )  # fmt: skip
            answers.append(" ".join(reply.text for reply in await dispatcher.handle(msg)))
    print(json.dumps(answers), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
