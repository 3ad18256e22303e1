"""One job store for the leader: the SLA and countdown-post job tables go, the stored jobs are cleared.

The leader rebuilds every job from the configuration at each start (``bot/leader.py``), so nothing is lost:
the old rows name functions that no longer exist (``bot.scheduler:run_reminder``, ``bot.case_router:…``).
The tables are APScheduler's own, created on first use: each may be missing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JOBS = "apscheduler_jobs"
OLD_STORES = ("apscheduler_case_jobs", "apscheduler_countdown_jobs")


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    for table in OLD_STORES:
        if table in tables:
            op.drop_table(table)
    if JOBS in tables:
        op.execute(sa.table(JOBS).delete())


def downgrade() -> None:
    """Nothing to restore: the jobs are rebuilt at the next leader start."""
