"""Channel posts kept up to date: the pinned countdown post in a Telegram channel.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_posts",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("post_row", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("edit_row", sa.Integer(), nullable=True),
        sa.Column("last_text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_posts")
