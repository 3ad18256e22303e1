"""A separate process for the case race tests: press the given buttons, as the given people, at a given moment.

Run as ``python -m tests.support.case_press_worker DATABASE_URL ISO_TIME PRESSES_JSON [HOLD]`` (a list of
``[user_id, chat_id, "group" | "private" | "text", payload]``; "text": the payload is typed in the group). It
prints "ready", waits for a line on stdin (so two workers press together), presses each button (or types each
text) through the real dispatcher and prints one JSON line: the texts answered. ``HOLD`` seconds: each change of
a case waits that long between reading the case and claiming it, so two workers' presses are truly at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from handlers.types import ChatKind, IncomingMessage, MessageKind
from storage.cases import Case, CaseRepository
from tests.support.cases import cases_config
from tests.support.chat import CHANNEL, ChatHarness


async def main(url: str, at: str, presses: list[list[str]], hold: float = 0.0) -> int:
    if hold:
        claim = CaseRepository.claim

        async def held(self: CaseRepository, case: Case, *, bump: bool = True) -> bool:
            await asyncio.sleep(hold)  # both presses have read the case before either claims it
            return await claim(self, case, bump=bump)

        CaseRepository.claim = held  # type: ignore[method-assign]
    async with ChatHarness.create(url, now=datetime.fromisoformat(at), config=cases_config()) as harness:
        dispatcher = harness.app.dispatcher
        assert dispatcher is not None
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        answers = []
        for user_id, chat_id, kind, payload in presses:
            typed = {"kind": MessageKind.TEXT, "text": payload} if kind == "text" else {}
            msg = IncomingMessage(
                channel=CHANNEL, chat_id=chat_id, user_id=user_id, display_name=user_id,
                chat_kind=ChatKind.PRIVATE if kind == "private" else ChatKind.GROUP,
                **(typed or {"kind": MessageKind.BUTTON, "button": payload}),
            )  # fmt: skip
            answers.append(" ".join(reply.text for reply in await dispatcher.handle(msg)))
    print(json.dumps(answers), flush=True)
    return 0


if __name__ == "__main__":
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), hold)))
