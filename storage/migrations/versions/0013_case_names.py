"""Cases keep the names they were shown with (agencies, area, category), so that switching the configuration
(2024 Bình Phước → today's Đồng Nai) leaves every old case readable.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("names", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("names")
