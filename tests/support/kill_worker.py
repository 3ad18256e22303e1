"""A zygote for the SIGKILL tests: imports the bot and loads the knowledge base once, then forks a fresh
``python -m bot run`` (the real ``bot.cli.run.run``: channels, webhook server, leader) for every ``start`` line
on stdin and prints ``pid N``. The test kills those children with SIGKILL at random moments; a fork costs
milliseconds where a new interpreter costs seconds of imports, so forty kills fit in a test run.

Run as ``python -m tests.support.kill_worker`` with the bot's settings in the environment; ``quit`` or the end
of stdin ends it (and its last child).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

import bot.channels.telegram
import bot.leader  # noqa: F401
from bot.app import create_app, load_knowledge
from bot.cli.run import run
from bot.logs import setup_logging
from bot.settings import Settings


def child(knowledge) -> None:
    settings = Settings()
    setup_logging("WARNING", settings.secrets(), stream=sys.stderr)
    logging.getLogger("bot").setLevel(logging.WARNING)
    app = create_app(settings, knowledge=knowledge)
    try:
        asyncio.run(run(app))
    finally:
        os._exit(0)


def main() -> int:
    knowledge = load_knowledge()
    last: int | None = None
    print("ready", flush=True)
    for line in sys.stdin:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if line.strip() != "start":
            break
        pid = os.fork()
        if pid == 0:
            child(knowledge)
        last = pid
        print(f"pid {pid}", flush=True)
    if last is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(last, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
