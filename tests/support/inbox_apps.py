"""An app on a test database with one extra command, for the inbox's failure and reclaim tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from bot.app import App, create_app
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.core import Command, Context
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024


@asynccontextmanager
async def app_with_command(
    database_url: str, name: str, handler: Callable[[Context], Awaitable[None]]
) -> AsyncIterator[App]:
    """The app at DEFAULT_NOW on *database_url*, its router answering *name* (e.g. "/boom") with *handler*."""
    settings = Settings(_env_file=None, database_url=database_url)
    async with create_app(
        settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
    ) as app:
        assert app.dispatcher is not None
        app.dispatcher.router.commands[name] = Command(handler)
        yield app
