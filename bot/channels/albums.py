"""Albums: the items of one media group, collected and handed to the dispatcher as ONE message.

Telegram delivers an album as separate updates that share a ``media_group_id``, with no count and no end
marker; the caption is on one of them. The collector waits until no new item has come for ``quiet`` seconds
(never longer than ``max_wait`` after the first item), then dispatches one message carrying every photo in
order and the caption of whichever item had it — so the reporter gets ONE acknowledgement that counts the
whole album.

Trade-off: items wait in memory for up to ``max_wait`` seconds before they are stored. Nothing has been
acknowledged to the user in that window, so a crash then looks to them like an album that got no answer
(they send it again), never like a promise broken. Any other message from the same person flushes their
pending album first, so answers keep the order the person wrote in; stopping the channel flushes all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from handlers.types import IncomingMessage, MediaRef, MessageKind

if TYPE_CHECKING:
    from bot.inbox import Inbox
    from storage.inbox import Stored

logger = logging.getLogger(__name__)

Dispatch = Callable[[IncomingMessage], Awaitable[None]]
Key = tuple[str, str, str]  # chat, user, album


@dataclass
class _Album:
    first: float
    due: float
    items: list[IncomingMessage] = field(default_factory=list)


def _order(msg: IncomingMessage) -> int:
    return int(msg.message_id) if msg.message_id and msg.message_id.lstrip("-").isdigit() else 0


def merge(items: list[IncomingMessage]) -> IncomingMessage:
    """One message with every item's media, in message order, and the first caption found."""
    ordered = sorted(items, key=_order)
    refs: list[MediaRef] = []
    for item in ordered:
        refs += item.photos or ([item.document] if item.document is not None else [])
    caption = next((item.text for item in ordered if item.text.strip()), "")
    ids = [i for item in ordered for i in item.inbox_ids]
    attempts = max(item.inbox_attempts for item in ordered)
    return replace(
        ordered[0], kind=MessageKind.PHOTO, photos=refs, document=None, text=caption, inbox_ids=ids,
        inbox_attempts=attempts,
    )  # fmt: skip


async def gather_following(
    inbox: Inbox,
    row: Stored,
    first: IncomingMessage,
    read: Callable[[Stored], IncomingMessage | None],
    *,
    quiet: float,
    max_wait: float,
) -> IncomingMessage:
    """A shared inbox (several processes): ``first`` (stored as ``row``) merged with the items that follow it in
    the table, as :meth:`bot.inbox.Inbox.following` gathers them; ``read`` gives an item, or None for an update
    that is not one (it ends the album)."""
    items = [first]

    def belongs(later: Stored) -> bool:
        item = read(later)
        if item is not None:
            item.inbox_ids, item.inbox_attempts = [later.id], later.attempts
            items.append(item)
        return item is not None

    await inbox.following(row, belongs, quiet=quiet, max_wait=max_wait)
    return merge(items) if len(items) > 1 else first


class AlbumCollector:
    def __init__(self, dispatch: Dispatch, *, quiet: float = 1.0, max_wait: float = 4.0) -> None:
        self.dispatch = dispatch
        self.quiet = quiet
        self.max_wait = max_wait
        self._pending: dict[Key, _Album] = {}
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, msg: IncomingMessage) -> None:
        """Keep an album item; the album is dispatched once it has been quiet for a while."""
        assert msg.album_id is not None
        key = (msg.chat_id, msg.user_id, msg.album_id)
        now = asyncio.get_running_loop().time()
        album = self._pending.get(key)
        if album is None:
            album = self._pending[key] = _Album(first=now, due=now)
            task = asyncio.create_task(self._wait(key, album))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        album.items.append(msg)
        album.due = min(now + self.quiet, album.first + self.max_wait)

    async def _wait(self, key: Key, album: _Album) -> None:
        loop = asyncio.get_running_loop()
        while (delay := album.due - loop.time()) > 0:
            await asyncio.sleep(delay)
        if self._pending.get(key) is album:
            del self._pending[key]
            await self._run(album)

    async def flush(self, chat_id: str, user_id: str) -> None:
        """Dispatch this person's pending albums now (before handling their next message)."""
        for key in [k for k in self._pending if k[0] == chat_id and k[1] == user_id]:
            album = self._pending.pop(key)
            await self._run(album)

    async def close(self) -> None:
        """Dispatch everything still pending (on shutdown) and wait for dispatches in progress."""
        while self._pending:
            key = next(iter(self._pending))
            await self._run(self._pending.pop(key))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, album: _Album) -> None:
        try:
            await self.dispatch(merge(album.items))
        except Exception:
            logger.exception("album of %d items could not be handled", len(album.items))
