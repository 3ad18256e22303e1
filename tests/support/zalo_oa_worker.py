"""A separate process for the token race test: many concurrent OA deliveries from one more process.

Run as ``python -m tests.support.zalo_oa_worker N`` with the Zalo OA settings in the environment. It prints "ready",
waits for a line on stdin (so two workers start sending together), sends N messages at once and prints
one JSON line: how many were delivered, the errors, and how many refreshes this process made.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot.channels.zalo_oa import ZaloOAChannel
from bot.settings import Settings
from handlers.types import Reply
from storage.db import Database


async def nothing(_msg):
    return []


async def main(count: int) -> int:
    settings = Settings()
    db = Database(settings.database_url)
    channel = ZaloOAChannel(settings, nothing, db)
    await channel.tokens.seed()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    results = await asyncio.gather(
        *(channel.deliver(f"racer-{i}", Reply(f"tin {i}")) for i in range(count)), return_exceptions=True
    )
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    print(json.dumps({"delivered": count - len(errors), "errors": errors, "refreshes": channel.tokens.refreshes}))
    await channel.stop()
    await db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]))))
