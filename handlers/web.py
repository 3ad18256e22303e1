"""Neutral declarations of web pages a feature serves, like :mod:`handlers.jobs` for background work.

A feature's optional ``web(ctx: WebContext) -> WebMount`` returns an aiohttp application that ``bot/`` mounts
under ``prefix`` on the process's one HTTP server (the webhook server's port). ``demo``, when given, makes what
the local demo prints at start (``make run`` with no messenger: a sign-in link for a demo account).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.core import Services
from storage.db import Database


@dataclass
class WebContext:
    db: Database
    services: Services
    base_url: str  # how people reach the server, e.g. https://sct.example.vn (links sent in the chat)


@dataclass
class WebMount:
    prefix: str  # e.g. "/console"
    app: Any  # aiohttp.web.Application
    demo: Callable[[], Awaitable[str]] | None = None
