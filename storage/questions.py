"""Merchant questions asked to the knowledge base, their feedback, and questions forwarded to staff."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, DateTime, select
from sqlmodel import Field, SQLModel

from storage.session import DbSession


class QuestionStatus(enum.StrEnum):
    ANSWERED = "answered"  # the knowledge base answered with confidence
    UNANSWERED = "unanswered"  # no confident answer
    FORWARDED = "forwarded"  # sent to staff with the asker's consent
    STAFF_ANSWERED = "staff_answered"


class Question(SQLModel, table=True):
    __tablename__ = "questions"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=128)
    text: str = Field(max_length=4096)
    entry_id: str | None = Field(default=None, max_length=80)
    score: float = 0.0
    status: str = Field(max_length=16, index=True)
    helpful: bool | None = None
    staff_answer: str | None = Field(default=None, max_length=4096)
    answered_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    forwarded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))

    @property
    def code(self) -> str:
        return f"Q{self.id}"


def parse_code(code: str) -> int | None:
    """'Q12', 'q12' or '12' → 12."""
    raw = code.strip().upper().removeprefix("Q")
    return int(raw) if raw.isascii() and raw.isdigit() else None  # "①".isdigit() is True too


class QuestionRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def add(self, question: Question) -> Question:
        self.session.add(question)
        await self.session.flush()
        return question

    async def get(self, question_id: int) -> Question | None:
        return await self.session.get(Question, question_id)

    async def by_status(self, *statuses: QuestionStatus, limit: int = 200) -> list[Question]:
        result = await self.session.execute(
            select(Question).where(Question.status.in_([s.value for s in statuses])).order_by(Question.id).limit(limit)
        )
        return list(result.scalars())
