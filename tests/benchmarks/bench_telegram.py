"""Benchmark: updates/s and per-update latency through the real Application against the fake Bot API.

Runs, in one process and one run, a bare python-telegram-bot echo bot (the baseline) and the assistant
on SQLite, both long-polling the same kind of loopback fake with the same rate-limiter settings.
Then measures the resident memory of an idle ``python -m bot run``. Not a test: it prints a table.

    python -m tests.benchmarks.bench_telegram [--updates 600] [--latency 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import create_app
from bot.channels.telegram import TelegramChannel
from bot.inbox import Inbox
from bot.settings import Settings
from tests.support.fakes.telegram_api import FakeTelegramAPI, text_update

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 64


def limiter() -> AIORateLimiter:
    # The same limiter for both bots; the overall cap is lifted so the bots' own overhead is measured.
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)


class EchoBot:
    """The baseline: the smallest useful python-telegram-bot bot."""

    def __init__(self, fake: FakeTelegramAPI) -> None:
        self.application = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.api_base_url)
            .base_file_url(fake.file_base_url)
            .rate_limiter(limiter())
            .concurrent_updates(CONCURRENCY)
            .job_queue(None)
            .build()
        )
        self.application.add_handler(MessageHandler(filters.TEXT, self.echo))

    @staticmethod
    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(update.message.text)

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        await self.application.updater.start_polling(poll_interval=0, timeout=1)

    async def stop(self) -> None:
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()


class Assistant:
    def __init__(self, fake: FakeTelegramAPI, db_dir: Path) -> None:
        self.settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{db_dir / 'bench.db'}",
            telegram_bot_token=fake.token,
            telegram_api_base_url=fake.api_base_url,
            telegram_file_base_url=fake.file_base_url,
            telegram_overall_rate=0,
            telegram_group_per_minute=0,
        )
        self.app = create_app(self.settings)
        self.channel: TelegramChannel | None = None

    async def start(self) -> None:
        await self.app.start()
        # As `run` wires it: every update stored in the inbox before it is acknowledged, replies via the outbox.
        self.channel = TelegramChannel(self.settings, self.app.dispatcher.handle, inbox=Inbox(self.app.db))
        await self.channel.start()

    async def stop(self) -> None:
        await self.channel.stop()
        await self.app.stop()


Script = Callable[[int], list[str]]  # user number -> the texts that user sends, in order


def start_path(_user: int) -> list[str]:
    return ["/start"]


def conversation_path(_user: int) -> list[str]:
    # The profile flow: command, role, business kind, confirm; each step saves the conversation state.
    return ["/vaitro", "1", "2", "1"]


async def throughput(fake: FakeTelegramAPI, script: Script, updates: int) -> float:
    """Updates per second with many users at once; each user sends the next message after the reply.

    One driver watches the fake's recorded calls and pushes each user's next message, so the harness costs
    the same for every bot and does not grow with the number of users.
    """
    steps = len(script(0))
    users = max(1, updates // steps)
    fake.reset()
    texts = {500_000 + n: script(n) for n in range(users)}
    progress = dict.fromkeys(texts, 0)
    expected = users * steps
    begin = time.perf_counter()
    for uid in texts:
        fake.push_update(text_update(texts[uid][0], user_id=uid))
    seen = answered = 0
    deadline = begin + 300
    while answered < expected:
        calls = fake.calls
        for call in calls[seen:]:
            if call.method != "sendMessage":
                continue
            uid = call.params["chat_id"]
            answered += 1
            progress[uid] += 1
            if progress[uid] < steps:
                fake.push_update(text_update(texts[uid][progress[uid]], user_id=uid))
        seen = len(calls)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {answered} of {expected} replies")
        await asyncio.sleep(0.0005)
    return expected / (time.perf_counter() - begin)


async def latency(fake: FakeTelegramAPI, script: Script, samples: int) -> list[float]:
    """Milliseconds from an update being queued to the reply arriving, one update at a time."""
    fake.reset()
    results: list[float] = []
    number = 0
    while len(results) < samples:
        number += 1
        uid = 900_000 + number
        for text in script(number):
            before = len(fake.calls_of("sendMessage"))
            begin = time.perf_counter()
            fake.push_update(text_update(text, user_id=uid))
            await fake.wait_for("sendMessage", count=before + 1, timeout=30)
            results.append((time.perf_counter() - begin) * 1000)
    return results[:samples]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(name: str, make: Callable[[FakeTelegramAPI], Awaitable], script: Script, args) -> dict:
    async with FakeTelegramAPI() as fake:
        bot = await make(fake)
        await bot.start()
        try:
            await throughput(fake, script, 40)  # warm-up
            rate = await throughput(fake, script, args.updates)
            lat = await latency(fake, script, args.latency)
        finally:
            await bot.stop()
    return {"name": name, "rate": rate, "p50": statistics.median(lat), "p95": pct(lat, 0.95)}


def rss_idle_mb(seconds: float = 3.0) -> float:
    """Resident memory of an idle `python -m bot run` polling a fake Bot API in another process."""

    async def run() -> float:
        async with FakeTelegramAPI() as fake:
            with tempfile.TemporaryDirectory() as tmp:
                env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
                env.update(
                    TELEGRAM_BOT_TOKEN=fake.token,
                    TELEGRAM_API_BASE_URL=fake.api_base_url,
                    TELEGRAM_FILE_BASE_URL=fake.file_base_url,
                    DATABASE_URL=f"sqlite:///{tmp}/idle.db",
                )
                log = Path(tmp) / "run.log"
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=tmp, env=env,
                    stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                )  # fmt: skip
                try:
                    await fake.wait_for("getUpdates", timeout=60)
                    fake.push_update(text_update("/start"))
                    await fake.wait_for("sendMessage", timeout=30)
                    await asyncio.sleep(seconds)
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
                except AssertionError as exc:
                    raise RuntimeError(f"`python -m bot run` did not serve: {log.read_text()[-2000:]}") from exc
                finally:
                    if proc.returncode is None:
                        proc.terminate()
                    await proc.wait()
                return kb / 1024

    return asyncio.run(run())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


async def main_async(args) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-tg-"))

    async def echo(fake: FakeTelegramAPI) -> EchoBot:
        return EchoBot(fake)

    async def assistant(name: str) -> Callable[[FakeTelegramAPI], Awaitable[Assistant]]:
        async def make(fake: FakeTelegramAPI) -> Assistant:
            folder = tmp / name
            folder.mkdir()
            return Assistant(fake, folder)

        return make

    rows = [await measure("echo bot (bare python-telegram-bot)", echo, start_path, args)]
    rows.append(await measure("assistant: /start", await assistant("start"), start_path, args))
    rows.append(await measure("assistant: 4-step conversation", await assistant("conv"), conversation_path, args))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=600, help="updates per throughput run")
    parser.add_argument("--latency", type=int, default=300, help="sequential samples for latency")
    args = parser.parse_args()
    os.umask(0o077)  # the throwaway databases are made owner-only, as `run` would leave them
    rows = asyncio.run(main_async(args))
    rss = rss_idle_mb()
    base = rows[0]["rate"]
    print(f"Machine: {machine()}")
    print(f"Updates per throughput run: {args.updates}; latency samples: {args.latency}; concurrency {CONCURRENCY}\n")
    print("| bot / path | updates/s | ratio to echo | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['rate']:.0f} | {row['rate'] / base:.2f} | {row['p50']:.1f} | {row['p95']:.1f} |")
    print(f"\nIdle `python -m bot run` (polling, SQLite): {rss:.0f} MB RSS")
    start = rows[1]
    ok = start["rate"] >= 0.5 * base and start["p95"] < 20 and rss < 200
    print(
        f"Acceptance: /start ratio {start['rate'] / base:.2f} (≥ 0.50), p95 {start['p95']:.1f} ms (< 20), "
        f"idle RSS {rss:.0f} MB (< 200): {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
