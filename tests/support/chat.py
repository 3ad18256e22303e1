"""A collecting test channel: conversations in tests read like a chat ("say this, expect that")."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App, create_app
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.config import AppConfig
from handlers.matching import fold_text
from handlers.types import Button, IncomingMessage, MediaRef, MessageKind, Reply
from knowledge import KnowledgeBase
from storage.media import MediaUnavailable
from tests.support.configs import plan_2024

CHANNEL = "console"  # the test channel stands in for the console channel
# Wednesday 27/11/2024 09:00 in Vietnam: inside the e-commerce week, before the 60 hours.
DEFAULT_NOW = datetime(2024, 11, 27, 2, 0, tzinfo=UTC)


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
    files: dict[str, bytes] = field(default_factory=dict)  # what the test channel's downloader serves
    downloads: list[str] = field(default_factory=list)  # file ids fetched, in order

    @classmethod
    @asynccontextmanager
    async def create(
        cls, database_url: str, *, now: datetime, config: AppConfig | None = None, **settings
    ) -> AsyncIterator[ChatHarness]:
        clock = FixedClock(now)
        media_tmp = None
        if "media_dir" not in settings:
            media_tmp = settings["media_dir"] = Path(tempfile.mkdtemp(prefix="media-"))
        app = create_app(
            Settings(database_url=database_url, _env_file=None, **settings),
            clock=clock,
            config=config or plan_2024(),
            knowledge=shared_knowledge(),
        )
        try:
            async with app:
                harness = cls(app, clock)
                app.register_downloader(CHANNEL, harness._download)
                yield harness
        finally:
            if media_tmp is not None:
                shutil.rmtree(media_tmp, ignore_errors=True)

    def serve(self, file_id: str, data: bytes, *, declare_size: bool = True, file_name: str | None = None) -> MediaRef:
        """Make ``data`` downloadable as ``file_id`` and return the reference a channel would pass on."""
        self.files[file_id] = data
        return MediaRef(file_id, size=len(data) if declare_size else None, file_name=file_name)

    async def _download(self, ref: MediaRef, path: Path, max_bytes: int) -> None:
        # Serves the bytes as they are: the size limit is the media store's to enforce.
        self.downloads.append(ref.file_id)
        data = self.files.get(ref.file_id)
        if data is None:
            raise MediaUnavailable(f"unknown file id {ref.file_id}")
        path.write_bytes(data)

    def person(self, user_id: str = "u1", name: str = "An", chat_id: str | None = None) -> Person:
        return Person(self, user_id, name, chat_id or user_id)
