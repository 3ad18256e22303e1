"""Logging set-up that never lets a secret (the bot token sits in every request URL) or a person's contact reach
a log line, at any level."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from handlers.text_safety import mask_contacts
from storage.private import open_private

MASK = "***"
# Libraries that, below INFO, log whole API payloads (people's messages, names, numbers): never below INFO.
CHATTY_LIBRARIES = ("telegram", "httpcore", "hpack", "aiohttp.client")


class MaskingFormatter(logging.Formatter):
    """Format as usual, then replace every known secret and mask phone numbers and e-mail addresses,
    tracebacks included."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return mask_contacts(text)


def setup_logging(level: str, secrets: list[str], stream=None, *, path: Path | None = None) -> None:
    """Log at ``level`` to ``stream`` (stderr), or to the owner-only file ``path`` (the console chat's log,
    so the chat reads cleanly)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = open_private(path, "a", encoding="utf-8")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; keep it for debugging only.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
