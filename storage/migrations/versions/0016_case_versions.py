"""Every change to a case is claimed on its version: two presses at once, in one process or two, on SQLite or
PostgreSQL, change it once (the other press is told). And on PostgreSQL a partial index of the open cases with a
description, newest first, for the duplicate search (storage/duplicates.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


# storage/cases.py OPEN_STATUSES when this was written: the predicate must be the search's own condition.
OPEN = ("new", "acknowledged", "in_progress", "waiting_reporter", "transferred")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_cases_open_described",
            "cases",
            ["id"],
            postgresql_where=sa.text(
                "status IN (" + ", ".join(f"'{s}'" for s in OPEN) + ") AND description_key IS NOT NULL"
            ),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_cases_open_described", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("version")
