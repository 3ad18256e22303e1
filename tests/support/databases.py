"""Test databases: Alembic runs once per session, each test gets a migrated copy.

SQLite: one file is migrated per process and copied for every test. PostgreSQL (``TEST_DATABASE_URL``): each
pytest-xdist worker uses its own database next to the given one (``<name>_gw0``…), migrated once; between
tests every table but ``alembic_version`` is emptied.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage.db import Database, migration_heads

_BASE_PG_URL = os.environ.get("TEST_DATABASE_URL")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _worker_url(url: str) -> str:
    if not _WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{_WORKER}").render_as_string(hide_password=False)


PG_URL = _worker_url(_BASE_PG_URL) if _BASE_PG_URL else None


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="sct-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    template = folder / "migrated.db"
    Database(f"sqlite:///{template}").upgrade()
    return template


def migrated_sqlite(path: Path) -> str:
    """The URL of a migrated SQLite database at ``path``: a copy of the template unless the file is there
    already (a test that starts the app twice on one path keeps its data)."""
    if not path.exists():
        shutil.copy(_sqlite_template(), path)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def _server() -> Iterator[Connection]:
    """A connection to the given database outside any transaction, as CREATE and DROP DATABASE need."""
    engine = create_engine(_BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def create_worker_database() -> None:
    """Create this xdist worker's PostgreSQL database when it is missing."""
    if not _WORKER or not _BASE_PG_URL:
        return
    name = make_url(PG_URL).database
    with _server() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))


def drop_worker_database() -> None:
    if not _WORKER or not _BASE_PG_URL:
        return
    with _server() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)'))


RESTART_SEQUENCES = (
    "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
)


@functools.cache
def _engine(url: str) -> Engine:
    return create_engine(url)


def reset_postgres(url: str) -> None:
    """Leave ``url`` migrated to the head with every table empty and every sequence at 1. Only the tables that
    hold rows are truncated (truncating costs far more than looking); a schema at another revision is rebuilt."""
    with _engine(url).begin() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        migrated = "alembic_version" in tables and (
            frozenset(conn.scalars(text("SELECT version_num FROM alembic_version"))) == migration_heads()
        )
        if not migrated:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        elif data := [f'"{table}"' for table in tables if table != "alembic_version"]:
            probe = " UNION ALL ".join(f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in data)
            if filled := conn.scalars(text(probe)).all():
                conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
            conn.execute(text(RESTART_SEQUENCES))
    if not migrated:
        Database(url).upgrade()
