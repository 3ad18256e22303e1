"""The durable inbox: every incoming update stored before it is acknowledged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(160), nullable=False),
        sa.Column("conversation", sa.String(160), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "update_id", name="uq_inbox_channel_update"),
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_handled_at", table_name="inbox")
    op.drop_index("ix_inbox_status_id", table_name="inbox")
    op.drop_table("inbox")
