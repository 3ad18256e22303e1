"""Start worker processes that wait on stdin, release them together, collect each one's last JSON line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.processes import checkout_env


async def race(
    module_args: list[str], env: Mapping[str, str], cwd: Path, *, workers: int = 2, own: list[list[str]] | None = None
) -> list[Any]:
    """``python -m MODULE ARGS…`` of this checkout ``workers`` times (``own``: arguments added for each worker);
    each prints "ready", waits for a line on stdin, does its work and prints one JSON line last. Returns the
    parsed lines, one per worker, in start order."""
    pipe = asyncio.subprocess.PIPE
    child_env = checkout_env(env)
    own = own or [[] for _ in range(workers)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", *module_args, *own[i], stdin=pipe, stdout=pipe, stderr=pipe, cwd=cwd, env=child_env
        )
        for i in range(workers)
    ]
    async with asyncio.timeout(120):
        for process in processes:
            line = await process.stdout.readline()
            assert line.strip() == b"ready", (line, await process.stderr.read())
        for process in processes:  # released together
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        outputs = [await process.communicate() for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _err in outputs]
