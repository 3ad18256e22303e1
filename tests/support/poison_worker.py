"""``python -m bot run`` with one test-only hook: a message reading :data:`POISON` kills the process (SIGKILL)
before its step commits, as an update that crashes the interpreter would (the e2e worker tests).

Run as ``python -m tests.support.poison_worker`` with the bot's settings in the environment.
"""

from __future__ import annotations

import os
import signal
import sys

from bot.cli import main
from handlers.core import Dispatcher
from handlers.types import IncomingMessage, Reply

POISON = "poison pill"
_handle = Dispatcher._handle


async def _dying(self: Dispatcher, msg: IncomingMessage) -> list[Reply]:
    if msg.text == POISON:
        os.kill(os.getpid(), signal.SIGKILL)
    return await _handle(self, msg)


if __name__ == "__main__":
    Dispatcher._handle = _dying  # type: ignore[method-assign]
    sys.exit(main(["run"]))
