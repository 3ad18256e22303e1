"""The pinned countdown post in a Telegram channel (``countdown_post`` in the configuration).

Run by the leader every ``countdown_post.every_minutes`` and once when a process takes the lead (:func:`jobs`,
job ``countdown_post``). Each run computes :func:`handlers.reminders.countdown.countdown_text` for the clock's
moment — the text ``/demnguoc`` gives — and, through the outbox:

* the first time, queues a post to the channel and, once it is delivered, pins it (silently);
* later, queues an edit of that post (``edit_of``) only when the text changed since the last version queued,
  with never more than one edit pending: a pending edit not yet taken by the sender gets the new text
  instead, one already being sent is left alone (the next run catches up);
* a post that is gone is replaced: the channel's edit sends a new message when the old one cannot be edited
  (that message becomes the post and is pinned); an edit or post that fails for good makes the next run
  post and pin anew.

The state (which outbox row is the post, its message id, whether it is pinned, the last text, the pending
edit) lives in ``channel_posts``, so a restart keeps editing the same message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from handlers.clock import Clock
from handlers.config import AppConfig
from handlers.jobs import Interval, LeaderContext, Pin
from handlers.reminders.countdown import countdown_text
from handlers.types import Reply
from storage.channel_posts import ChannelPost
from storage.db import Database, UnitOfWork
from storage.models import OutboxStatus

logger = logging.getLogger(__name__)

KEY = "countdown"
KIND = "countdown_post"
CHANNEL = "telegram"
JOB_ID = "countdown_post"


@dataclass(frozen=True)
class PostResult:
    action: str  # posted | edited | replaced | unchanged | busy | off
    pinned: bool = False


class CountdownPoster:
    def __init__(
        self,
        db: Database,
        config: AppConfig,
        clock: Clock,
        pin: Pin | None,
        *,
        on_queued: Callable[[], None] | None = None,
        wait_seconds: float = 30.0,
        poll_seconds: float = 0.25,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.pin = pin
        self.on_queued = on_queued
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.runs = 0  # finished runs, for tests and logs

    async def run(self) -> PostResult:
        """One scheduled run: queue the post or its edit if needed, wait briefly for delivery, pin."""
        settings = self.config.countdown_post
        if settings is None:
            return PostResult("off")
        action, queued = await self._update(settings.telegram_chat)
        if queued is not None:
            if self.on_queued is not None:
                self.on_queued()
            await self._wait_delivered(queued)
        pinned = await self._pin_if_needed()
        self.runs += 1
        logger.info("countdown post: %s%s", action, ", pinned" if pinned else "")
        return PostResult(action, pinned)

    async def _update(self, chat: str) -> tuple[str, int | None]:
        now = self.clock.now()
        text = countdown_text(self.config, now)
        payload = Reply(text).to_dict()
        async with self.db.unit_of_work() as uow:
            await uow.lock("channel_post", KEY)
            post = await self._reconcile(uow)
            queued: int | None = None
            if post.chat_id != chat or post.post_row is None:
                post.chat_id, post.channel = chat, CHANNEL
                row = await uow.outbox.enqueue(channel=CHANNEL, chat_id=chat, kind=KIND, payload=payload, now=now)
                assert row is not None and row.id is not None
                post.post_row, post.message_id, post.pinned, post.edit_row = row.id, None, False, None
                action, queued = "posted", row.id
            elif text == post.last_text:
                action = "unchanged"
            elif post.edit_row is not None or post.message_id is None:
                # The post or its last edit is not out yet: give it the new text if the sender has not taken it.
                pending = await uow.outbox.get(post.edit_row or post.post_row)
                if pending is not None and pending.status == OutboxStatus.PENDING.value and pending.attempts == 0:
                    pending.payload = {**payload, **({"edit_of": post.post_row} if post.edit_row else {})}
                    action, queued = "replaced", pending.id
                else:
                    action = "busy"
            else:
                row = await uow.outbox.enqueue(
                    channel=CHANNEL, chat_id=chat, kind=KIND, payload={**payload, "edit_of": post.post_row}, now=now
                )
                assert row is not None and row.id is not None
                post.edit_row = row.id
                action, queued = "edited", row.id
            if action != "busy":
                post.last_text = text
            post.updated_at = now
            await uow.channel_posts.save(post)
            await uow.commit()
        return action, queued

    async def _reconcile(self, uow: UnitOfWork) -> ChannelPost:
        """The stored post, brought up to date with what the sender did to its rows since the last run."""
        post = await uow.channel_posts.get(KEY)
        if post is None:
            return ChannelPost(key=KEY, channel=CHANNEL, chat_id="", updated_at=self.clock.now())
        if post.edit_row is not None:
            edit = await uow.outbox.get(post.edit_row)
            if edit is None or edit.status in (OutboxStatus.FAILED.value, OutboxStatus.SKIPPED.value):
                logger.warning("countdown post: the edit could not be delivered; a new post will replace it")
                post.post_row = None
            elif edit.status == OutboxStatus.SENT.value:
                if edit.platform_message_id and edit.platform_message_id != post.message_id:
                    # The post was gone: the channel sent the new text as a new message, now the post.
                    logger.info("countdown post: the post was gone; message %s replaces it", edit.platform_message_id)
                    post.post_row, post.message_id, post.pinned = edit.id, edit.platform_message_id, False
                post.edit_row = None
        if post.post_row is not None and post.message_id is None:
            row = await uow.outbox.get(post.post_row)
            if row is None or row.status in (OutboxStatus.FAILED.value, OutboxStatus.SKIPPED.value):
                logger.warning("countdown post: the post could not be delivered; posting again")
                post.post_row = None
            elif row.status == OutboxStatus.SENT.value:
                post.message_id = row.platform_message_id
        if post.post_row is None:
            post.message_id, post.pinned, post.edit_row = None, False, None
        return post

    async def _wait_delivered(self, row_id: int) -> None:
        """Give the sender a moment to deliver what was just queued (then it can be pinned in this run)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while loop.time() < deadline:
            async with self.db.unit_of_work() as uow:
                row = await uow.outbox.get(row_id)
                if row is None or row.status != OutboxStatus.PENDING.value:
                    return
            await asyncio.sleep(self.poll_seconds)

    async def _pin_if_needed(self) -> bool:
        """Pin the delivered post if it is not pinned yet; True when it was pinned now."""
        if self.pin is None:
            return False
        async with self.db.unit_of_work() as uow:
            post = await self._reconcile(uow)
            if post.chat_id:
                await uow.channel_posts.save(post)
                await uow.commit()
        if post.post_row is None or post.message_id is None or post.pinned:
            return False
        try:
            await self.pin(post.chat_id, post.message_id)
        except Exception:
            logger.exception("countdown post: could not pin message %s; trying again next run", post.message_id)
            return False
        async with self.db.unit_of_work() as uow:
            stored = await uow.channel_posts.get(KEY)
            if stored is not None and stored.message_id == post.message_id:
                stored.pinned = True
                await uow.channel_posts.save(stored)
                await uow.commit()
        return True


async def jobs(ctx: LeaderContext) -> list[Interval]:
    """The post's job when it is configured and the leader delivers to Telegram."""
    settings = ctx.config.countdown_post
    if settings is None:
        return []
    if CHANNEL not in ctx.channels:
        logger.warning("countdown_post is configured but Telegram is not: no countdown post")
        return []
    poster = CountdownPoster(ctx.db, ctx.config, ctx.clock, ctx.pins.get(CHANNEL), on_queued=ctx.wake)
    minutes = settings.every_minutes
    name = "Bài đếm ngược ghim trên kênh Telegram"
    return [Interval(JOB_ID, name, minutes * 60, poster.run, misfire_grace=minutes * 60)]
