"""`python -m bot check "…" [--json] [--at ISO]`: a described promotion checked as the chat would check it.

The message is read into a plan relative to ``--at`` (default: now), then the one verdict composer answers; what is
missing or wrong is printed as the question the chat would ask. ``-`` reads one description a line from stdin.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TextIO

from bot.settings import Settings
from handlers.clock import LOCAL_TZ, SystemClock
from handlers.config import load_config
from handlers.promotion.check import check_text
from knowledge.promotion.extract import looks_like_plan


def parse_at(value: str | None) -> datetime:
    """An ISO 8601 moment (without a zone: Vietnam time), or now."""
    if not value:
        return SystemClock().now()
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


def run_check(args, settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        now = parse_at(args.at)
    except ValueError:
        print(f"Thời điểm không hợp lệ: {args.at!r}. Ví dụ đúng: 2024-11-28T12:00:00+07:00", file=sys.stderr)
        return 2
    config = load_config(settings.bot_config)
    messages = (line.strip() for line in stdin) if args.message == "-" else iter([args.message])
    for text in messages:
        if not text.strip():
            continue
        reading, outcome = check_text(text, config, now)
        if args.json:
            data = outcome.to_dict() | {
                "looks_like_plan": looks_like_plan(text),
                "fields": reading.fields(),
                "problems": reading.problems,
            }
            print(json.dumps(data, ensure_ascii=False, default=str), file=stdout)
        else:
            print(outcome.text, file=stdout)
        stdout.flush()
    return 0
