"""Running the command line: in child processes that run this checkout, or in this process.

``PYTHONPATH`` is the repository root, so ``python -m bot`` in a child imports the code under test even when the
venv's editable install points at another clone. CLI runs start in the test's own folder: a checkout's ``.env``
and ``data/`` stay out of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
PLAN_2024 = ROOT / "handlers" / "configs" / "binh_phuoc_2024.yaml"  # as tests.support.configs.PLAN_2024
HOST_SETTINGS = ("TELEGRAM_", "ZALO_", "DATABASE_URL", "BOT_CONFIG", "MEDIA_DIR")


def checkout_env(env: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """``env`` (by default this process's environment) for an unbuffered child that imports this checkout."""
    merged = dict(os.environ if env is None else env)
    merged.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return merged


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment for ``python -m bot``: none of the host's bot settings, a database in ``tmp_path``, the 2024
    plan's configuration (``BOT_CONFIG=""`` in ``extra`` runs the default, today's Đồng Nai)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(HOST_SETTINGS)}
    base = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "BOT_CONFIG": str(PLAN_2024)}
    return checkout_env(env, **{**base, **extra})


def run_cli(tmp_path: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS…`` in ``tmp_path`` with :func:`cli_env` (plus ``extra`` settings), to completion."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env(tmp_path, **extra),
        timeout=60,
    )


def call_cli(tmp_path: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS…`` as :func:`run_cli` runs it (same folder, environment and result), but in this
    process: for commands where a process of their own would prove nothing more and costs a second of imports."""
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level  # the command sets up logging for itself
    try:
        with (
            contextlib.chdir(tmp_path),
            mock.patch.dict(os.environ, cli_env(tmp_path, **extra), clear=True),
            mock.patch("sys.stdin", io.StringIO(stdin)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse: --help, --version and usage errors
                code = exit_.code or 0
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess(["python", "-m", "bot", *args], code, out.getvalue(), err.getvalue())


async def read_until(stream: asyncio.StreamReader, marker: str, timeout: float = 30) -> str:
    """Read lines until one contains ``marker``; return everything read."""
    seen = ""
    async with asyncio.timeout(timeout):
        while marker not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"process ended before {marker!r}; saw:\n{seen}")
            seen += line.decode()
    return seen
