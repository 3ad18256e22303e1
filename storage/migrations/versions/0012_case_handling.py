"""Case handling: the closing reason, the reporter's verdict and reopenings; canned replies added in chat;
duplicates (the keys they are found by, the suggestions, merges).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("close_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("verdict", sa.String(16), nullable=True))
        batch.add_column(sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reopens", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("seller_key", sa.String(300), nullable=True))
        batch.add_column(sa.Column("link_key", sa.String(300), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("description_key", sa.Text(), nullable=True))
        batch.create_index("ix_cases_seller_key", ["seller_key"])
        batch.create_index("ix_cases_link_key", ["link_key"])
        batch.create_index("ix_cases_merged_into", ["merged_into"])
    op.create_index("ix_complaint_photos_sha256", "complaint_photos", ["sha256"])
    op.create_table(
        "case_duplicates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("other_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("other_code", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "other_id", name="uq_case_duplicates_pair"),
    )
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency", sa.String(64), nullable=False, index=True),
        sa.Column("title", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("canned_replies")
    op.drop_table("case_duplicates")
    op.drop_index("ix_complaint_photos_sha256", "complaint_photos")
    with op.batch_alter_table("cases") as batch:
        for index in ("ix_cases_seller_key", "ix_cases_link_key", "ix_cases_merged_into"):
            batch.drop_index(index)
        for name in (
            "description_key",
            "merged_into",
            "link_key",
            "seller_key",
            "reopens",
            "verdict_at",
            "verdict",
            "close_reason",
        ):
            batch.drop_column(name)
