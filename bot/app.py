"""The composition root: wires settings, storage, the dispatcher and the channels. Nothing at import time."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.settings import Settings
from handlers import build_router
from handlers.buttons import ButtonCodec
from handlers.clock import Clock, SystemClock
from handlers.config import AppConfig, load_config
from handlers.core import Dispatcher, Downloader, Services
from handlers.features import load_features, on_start
from knowledge import KnowledgeBase, KnowledgeError
from storage.db import Database, masked, sqlite_path
from storage.media import MediaStore
from storage.private import tighten

logger = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    config: AppConfig
    clock: Clock
    db: Database
    knowledge: KnowledgeBase | None = None
    dispatcher: Dispatcher | None = None
    codec: ButtonCodec | None = None  # signs button payloads; the outbox sender signs with it too
    media: MediaStore | None = None  # evidence photos, content-addressed under MEDIA_DIR
    downloaders: dict[str, Downloader] = field(default_factory=dict)  # channel name -> streams a file to disk
    _started: bool = field(default=False, repr=False)

    def register_downloader(self, channel: str, download: Downloader) -> None:
        """Let handlers fetch files sent on ``channel`` (channels are created after the app starts)."""
        self.downloaders[channel] = download

    async def start(self) -> None:
        """Migrate the database and build the dispatcher."""
        logger.info("database: %s", masked(self.db.url))
        await asyncio.to_thread(self.db.upgrade)
        async with self.db.unit_of_work() as uow:
            await uow.lock("app:start")  # processes starting together on one database: one at a time here
            now = self.clock.now()
            key = await uow.secrets.get_or_create("buttons", now)
            await on_start(load_features(), uow, self.config, now)
            await uow.commit()
        if self.knowledge is None:
            self.knowledge = await asyncio.to_thread(load_knowledge)
        self.media = MediaStore(self.settings.media_dir, max_bytes=self.settings.media_max_bytes)
        self._check_private()
        services = Services(
            clock=self.clock,
            config=self.config,
            knowledge=self.knowledge,
            media=self.media,
            downloaders=self.downloaders,
            web_url=self.settings.web_url,
        )
        self.codec = ButtonCodec(key.encode())
        self.dispatcher = Dispatcher(
            self.db,
            build_router(),
            services,
            self.codec,
            reply_lease=timedelta(seconds=self.settings.inbox_reply_lease_seconds),
        )
        self._started = True

    def _check_private(self) -> None:
        """The database file and the evidence photos are owner-only; say so (and fix it) when they are not."""
        database = sqlite_path(self.db.url)
        paths = [database, Path(f"{database}-wal"), Path(f"{database}-shm")] if database else []
        media = Path(self.settings.media_dir)
        paths += [media, *(p for p in media.glob("*") if p.is_dir())] if media.is_dir() else []
        loose = tighten(paths)
        if loose:
            logger.warning(
                "%d file(s) or folder(s) with personal data were readable by other accounts; made owner-only: %s",
                len(loose),
                ", ".join(str(p) for p in loose[:5]) + (" …" if len(loose) > 5 else ""),
            )

    async def stop(self) -> None:
        await self.db.dispose()
        self._started = False

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def load_knowledge() -> KnowledgeBase | None:
    """Load the knowledge base; a broken file is logged and Q&A answers that it is unavailable."""
    try:
        return KnowledgeBase.load()
    except KnowledgeError:
        logger.exception("knowledge base not loaded; run `python -m bot kb check`")
        return None


def create_app(
    settings: Settings,
    *,
    config: AppConfig | None = None,
    clock: Clock | None = None,
    knowledge: KnowledgeBase | None = None,
) -> App:
    return App(
        settings=settings,
        config=config or load_config(settings.bot_config),
        clock=clock or SystemClock(),
        db=Database(settings.database_url),
        knowledge=knowledge,
    )
