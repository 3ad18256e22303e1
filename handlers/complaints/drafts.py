"""Closing drafts nobody finished: the reporter is told (an outbox message) and the draft is deleted."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from handlers import texts
from handlers.clock import as_utc
from handlers.complaints.flow import FLOW
from handlers.complaints.vocabulary import KIND_DRAFT_CLOSED
from handlers.config import AppConfig
from handlers.types import Reply
from storage.db import Database

logger = logging.getLogger(__name__)

DRAFT_CLOSED = (
    "⌛ Phản ánh bạn đang soạn dở đã quá {hours} giờ chưa được gửi nên mình đã đóng bản nháp. "
    "Nếu vẫn cần phản ánh, bạn gõ /phananh để bắt đầu lại nhé."
)


async def close_stale_drafts(db: Database, now: datetime, *, limit: int = 500, config: AppConfig | None = None) -> int:
    """Close complaint drafts past their deadline: tell the reporter (outbox) and delete the draft.

    Each draft is closed in its own transaction under the conversation's lock, after checking it is still
    expired (the reporter may have just answered). Returns how many drafts were closed.
    """
    hours = config.limits.draft_hours if config else 24
    async with db.unit_of_work() as uow:
        stale = [(r.channel, r.chat_id, r.user_id) for r in await uow.complaints.stale_drafts(FLOW, now, limit)]
    closed = 0
    for key in stale:
        async with db.unit_of_work() as uow:
            await uow.lock(*key)
            row = await uow.conversations.get(*key)
            if row is None or row.flow != FLOW or as_utc(row.deadline) > now:
                continue
            digest = hashlib.blake2b("\x1f".join([*key, row.deadline.isoformat()]).encode(), digest_size=16)
            await uow.outbox.enqueue(
                channel=row.channel,
                chat_id=row.chat_id,
                kind=KIND_DRAFT_CLOSED,
                payload=Reply(DRAFT_CLOSED.format(hours=hours), texts.menu_buttons()).to_dict(),
                now=now,
                dedupe_key=f"{KIND_DRAFT_CLOSED}:{digest.hexdigest()}",
            )
            await uow.conversations.clear(*key)
            await uow.commit()
            closed += 1
    if closed:
        logger.info("closed %d stale complaint drafts", closed)
    return closed
