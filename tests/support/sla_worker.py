"""A separate process for the SLA race test: check the deadlines many times at a given moment.

Run as ``python -m tests.support.sla_worker DATABASE_URL ISO_TIME ROUNDS``. It prints "ready", waits for a line on
stdin (so two workers start together), runs ``check_sla`` ROUNDS times and prints one JSON line with the
steps it fired.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from handlers.cases.sla import check_sla
from storage.db import Database
from tests.support.cases import cases_config


async def main(url: str, at: str, rounds: int) -> int:
    db = Database(url)
    config = cases_config()
    now = datetime.fromisoformat(at)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    fired: dict[str, int] = {}
    for _ in range(rounds):
        for step, count in (await check_sla(db, config, now)).items():
            fired[step] = fired.get(step, 0) + count
    print(json.dumps(fired), flush=True)
    await db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
