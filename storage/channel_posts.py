"""Posts the assistant keeps up to date in a channel (the pinned countdown post): which outbox row delivered
the message shown now, the last text queued for it, whether it is pinned, and the edit still pending.

One row per post (``key``), so a restart, or another process taking over as leader, keeps editing the same
message instead of posting a new one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, select
from sqlmodel import Field, SQLModel

from storage.models import utc_column
from storage.session import DbSession


class ChannelPost(SQLModel, table=True):
    __tablename__ = "channel_posts"

    key: str = Field(primary_key=True, max_length=32)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    post_row: int | None = None  # the outbox row whose message is the post (None: post anew)
    message_id: str | None = Field(default=None, max_length=64)  # its platform id, once delivered
    pinned: bool = False
    edit_row: int | None = None  # the last edit queued, until it is delivered (at most one pending)
    last_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = utc_column()


class ChannelPostRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get(self, key: str) -> ChannelPost | None:
        result = await self.session.execute(select(ChannelPost).where(ChannelPost.key == key))
        return result.scalar_one_or_none()

    async def save(self, post: ChannelPost) -> None:
        self.session.add(post)
        await self.session.flush()
