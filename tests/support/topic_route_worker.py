"""A separate process for the topic race test: route the pending reports (cards and their forum topics).

Run as ``python -m tests.support.topic_route_worker DATABASE_URL ISO_TIME``. It prints "ready", waits for a
line on stdin (so two workers route together), routes everything pending and prints one JSON line: the codes
of the cases it routed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from handlers.cases.intake import route_pending
from tests.support.cases import topics_config
from tests.support.chat import ChatHarness


async def main(url: str, at: str) -> int:
    now = datetime.fromisoformat(at)
    config = topics_config()
    async with ChatHarness.create(url, now=now, config=config) as harness:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        routed: list[str] = []
        while True:
            stats = await route_pending(harness.app.db, config, now, limit=5)
            routed += stats.cases
            if not stats.routed and not stats.deferred:
                break
    print(json.dumps(routed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
