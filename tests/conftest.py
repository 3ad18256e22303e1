"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and a chat harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.databases import (
    PG_URL,
    create_worker_database,
    drop_worker_database,
    migrated_sqlite,
    reset_postgres,
)
from tests.support.qa import config_with_staff


@pytest.fixture(scope="session", autouse=True)
def _worker_database() -> Iterator[None]:
    """Under pytest-xdist each worker has its own PostgreSQL database for the session."""
    create_worker_database()
    yield
    drop_worker_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    return migrated_sqlite(tmp_path / "bot.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage contract test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set: a migrated,
    empty database."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path / "contract.db")
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL contract tests skipped")
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as harness:
        yield harness


@pytest.fixture
async def staffed(sqlite_url: str) -> AsyncIterator[ChatHarness]:
    """The chat harness with a staffed agency on the test channel (questions no entry answers go to it)."""
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=config_with_staff()) as harness:
        yield harness
