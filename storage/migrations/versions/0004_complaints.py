"""Consumer complaints, their evidence photos (by SHA-256) and their public history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("reporter_name", sa.String(128), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("contact_consent", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("seller", sa.String(300), nullable=False),
        sa.Column("seller_where", sa.String(500), nullable=True),
        sa.Column("product", sa.String(300), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("photo_note", sa.String(1000), nullable=True),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("code", name="uq_complaints_code"),
    )
    op.create_index("ix_complaints_status", "complaints", ["status"])
    op.create_index("ix_complaints_created_at", "complaints", ["created_at"])
    op.create_index("ix_complaints_reporter", "complaints", ["channel", "user_id", "created_at"])
    op.create_table(
        "complaint_photos",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(32), nullable=False),
        sa.Column("platform_file_id", sa.String(255), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("complaint_id", "sha256", name="uq_complaint_photos_sha"),
    )
    op.create_index("ix_complaint_photos_complaint_id", "complaint_photos", ["complaint_id"])
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_complaint_events_complaint_id", table_name="complaint_events")
    op.drop_table("complaint_events")
    op.drop_index("ix_complaint_photos_complaint_id", table_name="complaint_photos")
    op.drop_table("complaint_photos")
    op.drop_index("ix_complaints_reporter", table_name="complaints")
    op.drop_index("ix_complaints_created_at", table_name="complaints")
    op.drop_index("ix_complaints_status", table_name="complaints")
    op.drop_table("complaints")
