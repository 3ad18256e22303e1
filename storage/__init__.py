"""Durable state: SQLModel tables, repositories, migrations and the media store."""

from storage.db import Database, UnitOfWork

__all__ = ["Database", "UnitOfWork"]
