"""Repositories return plain objects and never commit; the unit of work does."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppSecret, Conversation, Role, User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel: str, external_id: str) -> User | None:
        result = await self.session.execute(
            select(User).where(User.channel == channel, User.external_id == external_id)
        )
        return result.scalar_one_or_none()

    async def touch(self, channel: str, external_id: str, display_name: str, now: datetime) -> User:
        """Return the user, creating it on first contact and refreshing name and last-seen time."""
        user = await self.get(channel, external_id)
        if user is None:
            user = User(
                channel=channel,
                external_id=external_id,
                display_name=display_name[:128],
                role=Role.CITIZEN.value,
                created_at=now,
                last_seen_at=now,
            )
            self.session.add(user)
            await self.session.flush()
            return user
        if display_name and user.display_name != display_name[:128]:
            user.display_name = display_name[:128]
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
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel: str, chat_id: str, user_id: str) -> Conversation | None:
        return await self.session.get(Conversation, (channel, chat_id, user_id))

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
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, name: str, now: datetime, nbytes: int = 32) -> str:
        row = await self.session.get(AppSecret, name)
        if row is None:
            row = AppSecret(name=name, value=secrets.token_urlsafe(nbytes), created_at=now)
            self.session.add(row)
            await self.session.flush()
        return row.value
