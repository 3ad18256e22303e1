"""Canned replies that supervisors add in chat (those of the configuration are not stored): per agency, each for
some case actions, removed by marking (the audit trail may still name them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, select
from sqlmodel import Field, SQLModel

from storage.models import utc_column
from storage.session import DbSession


class CannedReply(SQLModel, table=True):
    __tablename__ = "canned_replies"

    id: int | None = Field(default=None, primary_key=True)
    agency: str = Field(max_length=64, index=True)
    title: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    actions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [] = every one
    created_by: str = Field(max_length=128)
    created_at: datetime = utc_column()
    removed_at: datetime | None = utc_column(nullable=True)


class CannedReplyRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def list(self, agency: str) -> list[CannedReply]:
        query = select(CannedReply).where(CannedReply.agency == agency, CannedReply.removed_at.is_(None))
        return list((await self.session.execute(query.order_by(CannedReply.id))).scalars())

    async def get(self, reply_id: int) -> CannedReply | None:
        return await self.session.get(CannedReply, reply_id)

    async def add(self, reply: CannedReply) -> CannedReply:
        self.session.add(reply)
        await self.session.flush()
        return reply

    @staticmethod
    def remove(reply: CannedReply, now: datetime) -> None:
        reply.removed_at = now
