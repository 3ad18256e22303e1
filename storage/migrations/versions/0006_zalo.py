"""Zalo: the OA token pair, webhook events already seen (de-duplication), numbered choices per chat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zalo_tokens",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seed_hash", sa.String(64), nullable=True),
        sa.Column("refreshes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "zalo_seen_events",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(160), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_zalo_seen_events_seen_at", "zalo_seen_events", ["seen_at"])
    op.create_table(
        "zalo_choices",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("zalo_choices")
    op.drop_index("ix_zalo_seen_events_seen_at", table_name="zalo_seen_events")
    op.drop_table("zalo_seen_events")
    op.drop_table("zalo_tokens")
