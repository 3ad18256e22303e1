"""The session the repositories work in: SQLAlchemy's ``AsyncSession``, or a synchronous one behind the same calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


class SyncSession:
    """The part of ``AsyncSession``'s interface the repositories use, over a synchronous ``Session``."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session

    async def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        return self.sync_session.execute(statement, params, **kwargs)

    async def scalar(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        return self.sync_session.scalar(statement, params, **kwargs)

    async def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        return self.sync_session.get(entity, ident, **kwargs)

    def add(self, instance: Any) -> None:
        self.sync_session.add(instance)

    async def delete(self, instance: Any) -> None:
        self.sync_session.delete(instance)

    async def flush(self) -> None:
        self.sync_session.flush()

    async def commit(self) -> None:
        self.sync_session.commit()

    async def rollback(self) -> None:
        self.sync_session.rollback()


DbSession = AsyncSession | SyncSession
