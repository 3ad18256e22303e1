"""Staff members of the agencies: seeded from the configuration, managed by admins by chat and CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint, select
from sqlmodel import Field, SQLModel

from storage.session import DbSession

STAFF_ROLES = ("agent", "supervisor", "admin")


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_staff_channel_user"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    name: str = Field(max_length=128)
    agency: str = Field(max_length=64)
    role: str = Field(max_length=16)
    active: bool = True
    source: str = Field(default="config", max_length=16)  # config | chat | cli
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class StaffRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    async def get(self, channel: str, user_id: str) -> StaffMember | None:
        result = await self.session.execute(
            select(StaffMember).where(StaffMember.channel == channel, StaffMember.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def by_id(self, member_id: int) -> StaffMember | None:
        return await self.session.get(StaffMember, member_id)

    async def active(self, channel: str, user_id: str) -> StaffMember | None:
        member = await self.get(channel, user_id)
        return member if member is not None and member.active else None

    async def upsert(
        self, *, channel: str, user_id: str, name: str, agency: str, role: str, source: str, now: datetime
    ) -> StaffMember:
        member = await self.get(channel, user_id)
        if member is None:
            member = StaffMember(channel=channel, user_id=user_id, name=name, agency=agency, role=role, source=source)
            self.session.add(member)
        member.name, member.agency, member.role, member.active = name, agency, role, True
        member.source = source
        member.updated_at = now
        await self.session.flush()
        return member

    async def deactivate(self, channel: str, user_id: str, now: datetime) -> bool:
        member = await self.get(channel, user_id)
        if member is None or not member.active:
            return False
        member.active = False
        member.updated_at = now
        return True

    async def list(self, agency: str | None = None, include_inactive: bool = False) -> list[StaffMember]:
        query = select(StaffMember).order_by(StaffMember.agency, StaffMember.name)
        if agency is not None:
            query = query.where(StaffMember.agency == agency)
        if not include_inactive:
            query = query.where(StaffMember.active.is_(True))
        return list((await self.session.execute(query)).scalars())
