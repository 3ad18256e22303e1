"""Repositories return plain objects and never commit; the unit of work does."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select

from storage.models import AppSecret, Conversation, Role, User
from storage.session import DbSession

LAST_SEEN_RESOLUTION = timedelta(minutes=10)

# Read on every step: built once with bound parameters (building a statement costs several times running it).
USER_BY_ID = select(User).where(User.channel == bindparam("channel"), User.external_id == bindparam("external_id"))
CONVERSATION_BY_KEY = select(Conversation).where(
    Conversation.channel == bindparam("channel"),
    Conversation.chat_id == bindparam("chat_id"),
    Conversation.user_id == bindparam("user_id"),
)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class UserRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get(self, channel: str, external_id: str) -> User | None:
        result = await self.session.execute(USER_BY_ID, {"channel": channel, "external_id": external_id})
        return result.scalar_one_or_none()

    async def touch(self, channel: str, external_id: str, display_name: str, now: datetime) -> User:
        """Return the user, creating it on first contact.

        The name and last-seen time are refreshed only when the name changed or the last-seen time is
        older than ``LAST_SEEN_RESOLUTION``, so most messages write nothing here.
        """
        user = await self.get(channel, external_id)
        name = display_name[:128]
        if user is None:
            user = User(
                channel=channel,
                external_id=external_id,
                display_name=name,
                role=Role.CITIZEN.value,
                created_at=now,
                last_seen_at=now,
            )
            self.session.add(user)
            await self.session.flush()
            return user
        if name and user.display_name != name:
            user.display_name = name
        if now - as_utc(user.last_seen_at) >= LAST_SEEN_RESOLUTION:
            user.last_seen_at = now
        return user

    async def set_role(self, channel: str, external_id: str, role: Role, now: datetime) -> User:
        user = await self.touch(channel, external_id, "", now)
        user.role = role.value
        return user

    async def count(self) -> int:
        result = await self.session.execute(select(User.id))
        return len(result.all())


class ConversationRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get(self, channel: str, chat_id: str, user_id: str) -> Conversation | None:
        result = await self.session.execute(
            CONVERSATION_BY_KEY, {"channel": channel, "chat_id": chat_id, "user_id": user_id}
        )
        return result.scalar_one_or_none()

    async def save(
        self,
        channel: str,
        chat_id: str,
        user_id: str,
        *,
        flow: str,
        step: str,
        data: dict[str, Any],
        deadline: datetime,
        now: datetime,
    ) -> Conversation:
        row = await self.get(channel, chat_id, user_id)
        if row is None:
            row = Conversation(channel=channel, chat_id=chat_id, user_id=user_id, flow=flow, step=step)
            self.session.add(row)
        row.flow = flow
        row.step = step
        # A new dict object so SQLAlchemy sees the JSON column as changed.
        row.data = dict(data)
        row.deadline = deadline
        row.updated_at = now
        await self.session.flush()
        return row

    async def clear(self, channel: str, chat_id: str, user_id: str) -> None:
        await self.session.execute(
            delete(Conversation).where(
                Conversation.channel == channel,
                Conversation.chat_id == chat_id,
                Conversation.user_id == user_id,
            )
        )

    async def expired(self, now: datetime, limit: int = 500) -> list[Conversation]:
        result = await self.session.execute(select(Conversation).where(Conversation.deadline < now).limit(limit))
        return list(result.scalars())


class SecretRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get_or_create(self, name: str, now: datetime, nbytes: int = 32) -> str:
        row = await self.session.get(AppSecret, name)
        if row is None:
            row = AppSecret(name=name, value=secrets.token_urlsafe(nbytes), created_at=now)
            self.session.add(row)
            await self.session.flush()
        return row.value
