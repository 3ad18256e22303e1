"""Tables. Every datetime is stored in UTC; SQLite drops the zone, so readers use ``as_utc``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class Role(enum.StrEnum):
    CITIZEN = "citizen"
    MERCHANT = "merchant"
    STAFF = "staff"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(default=Role.CITIZEN.value, max_length=16)
    business_kind: str | None = Field(default=None, max_length=32)
    created_at: datetime = utc_column()
    last_seen_at: datetime = utc_column()


class Conversation(SQLModel, table=True):
    """Where one user is in one flow: the row a restart resumes from."""

    __tablename__ = "conversations"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deadline: datetime = utc_column(index=True)
    updated_at: datetime = utc_column()


class AppSecret(SQLModel, table=True):
    """Secrets the assistant makes for itself (e.g. the key that signs button payloads)."""

    __tablename__ = "app_secrets"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
    created_at: datetime = utc_column()


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: e.g. the user blocked the bot
    SKIPPED = "skipped"  # out of date: e.g. a reminder missed by hours


class OutboxMessage(SQLModel, table=True):
    """A message the assistant sends on its own, written in the same transaction as its cause.

    ``payload`` is a serialised :class:`handlers.types.Reply`. A sender claims due rows (a lease in
    ``claimed_until`` so a crashed sender's rows come back), delivers them and marks them.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_not_before", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True)
    ref: str | None = Field(default=None, max_length=64, index=True)
    not_before: datetime = utc_column()
    claimed_until: datetime | None = utc_column(nullable=True)
    created_at: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    platform_message_id: str | None = Field(default=None, max_length=64)
