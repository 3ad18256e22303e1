"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and a chat harness."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.chat import ChatHarness

PG_URL = os.environ.get("TEST_DATABASE_URL")
# Wednesday 27/11/2024 09:00 in Vietnam: inside the e-commerce week, before the 60 hours.
DEFAULT_NOW = datetime(2024, 11, 27, 2, 0, tzinfo=UTC)


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage contract test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'contract.db'}"
        return
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL contract tests skipped")
    reset_postgres(PG_URL)
    yield PG_URL


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as harness:
        yield harness
