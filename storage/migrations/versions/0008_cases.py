"""Cases: staff handling of complaints, the chat messages about them, the audit trail and SLA marks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = ("0004",)  # cases refer to complaints


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lead", sa.String(64), nullable=False),
        sa.Column("copies", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_channel", sa.String(16), nullable=True),
        sa.Column("assignee_user_id", sa.String(64), nullable=True),
        sa.Column("assignee_name", sa.String(128), nullable=True),
        sa.Column("ack_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_epoch", sa.Integer(), nullable=False),
        sa.Column("sla_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("complaint_id", name="uq_cases_complaint"),
        sa.UniqueConstraint("code", name="uq_cases_code"),
    )
    op.create_index("ix_cases_status_sla", "cases", ["status", "sla_next_at"])
    op.create_index("ix_cases_lead_status", "cases", ["lead", "status"])
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agency", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("outbox_id", "case_id", name="uq_case_messages_outbox_case"),
    )
    op.create_index("ix_case_messages_case_id", "case_messages", ["case_id"])
    op.create_index("ix_case_messages_chat_message", "case_messages", ["channel", "chat_id", "message_id"])
    op.create_table(
        "case_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_channel", sa.String(16), nullable=True),
        sa.Column("actor_user_id", sa.String(64), nullable=True),
        sa.Column("actor_name", sa.String(128), nullable=True),
        sa.Column("actor_agency", sa.String(64), nullable=True),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_case_actions_case_id", "case_actions", ["case_id"])
    op.create_table(
        "case_sla_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "epoch", "step", name="uq_case_sla_marks"),
    )
    op.create_index("ix_case_sla_marks_case_id", "case_sla_marks", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_sla_marks_case_id", table_name="case_sla_marks")
    op.drop_table("case_sla_marks")
    op.drop_index("ix_case_actions_case_id", table_name="case_actions")
    op.drop_table("case_actions")
    op.drop_index("ix_case_messages_chat_message", table_name="case_messages")
    op.drop_index("ix_case_messages_case_id", table_name="case_messages")
    op.drop_table("case_messages")
    op.drop_index("ix_cases_lead_status", table_name="cases")
    op.drop_index("ix_cases_status_sla", table_name="cases")
    op.drop_table("cases")
