"""A collecting test channel: conversations in tests read like a chat ("say this, expect that")."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from bot.app import App, create_app
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.config import AppConfig
from handlers.text import fold_text
from handlers.types import Button, IncomingMessage, MediaRef, MessageKind, Reply
from knowledge import KnowledgeBase

CHANNEL = "console"  # the test channel stands in for the console channel


@functools.cache
def shared_knowledge() -> KnowledgeBase:
    """The shipped knowledge base, loaded once per test session (it is read-only in conversations)."""
    return KnowledgeBase.load()


@dataclass
class Person:
    """One user of the test channel, remembering the buttons last shown to them."""

    harness: ChatHarness
    user_id: str
    name: str
    chat_id: str
    last: list[Reply] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    async def send(self, msg: IncomingMessage) -> list[Reply]:
        assert self.harness.app.dispatcher is not None
        self.last = await self.harness.app.dispatcher.handle(msg)
        shown = [b for reply in self.last for b in reply.flat_buttons()]
        if shown:
            self.buttons = shown
        return self.last

    def _msg(self, **fields) -> IncomingMessage:
        return IncomingMessage(
            channel=CHANNEL, chat_id=self.chat_id, user_id=self.user_id, display_name=self.name, **fields
        )

    async def say(self, text: str) -> list[Reply]:
        return await self.send(self._msg(kind=MessageKind.TEXT, text=text))

    async def press(self, label: str) -> list[Reply]:
        """Press the shown button whose label contains ``label`` (compared without diacritics)."""
        wanted = fold_text(label)
        matches = [b for b in self.buttons if wanted in fold_text(b.label)]
        assert matches, f"no button like {label!r} among {[b.label for b in self.buttons]}"
        return await self.send(self._msg(kind=MessageKind.BUTTON, button=matches[0].payload))

    async def press_raw(self, data: str) -> list[Reply]:
        return await self.send(self._msg(kind=MessageKind.BUTTON, button=data))

    async def send_kind(self, kind: MessageKind, **fields) -> list[Reply]:
        return await self.send(self._msg(kind=kind, **fields))

    async def send_photo(self, ref: MediaRef, caption: str = "", album: str | None = None) -> list[Reply]:
        return await self.send(self._msg(kind=MessageKind.PHOTO, photos=[ref], text=caption, album_id=album))

    @property
    def text(self) -> str:
        """Everything the assistant answered to the last message, as one string."""
        return "\n".join(reply.text for reply in self.last)

    @property
    def labels(self) -> list[str]:
        return [b.label for reply in self.last for b in reply.flat_buttons()]


@dataclass
class ChatHarness:
    app: App
    clock: FixedClock

    @classmethod
    @asynccontextmanager
    async def create(
        cls, database_url: str, *, now: datetime, config: AppConfig | None = None, **settings
    ) -> AsyncIterator[ChatHarness]:
        clock = FixedClock(now)
        app = create_app(
            Settings(database_url=database_url, _env_file=None, **settings),
            clock=clock,
            config=config,
            knowledge=shared_knowledge(),
        )
        async with app:
            yield cls(app, clock)

    def person(self, user_id: str = "u1", name: str = "An", chat_id: str | None = None) -> Person:
        return Person(self, user_id, name, chat_id or user_id)
