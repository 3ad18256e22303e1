"""Several workers on one inbox: a claim lease per update; the outbox tells its listeners of rows due now.

* ``inbox.lease_until``: a worker process claims the oldest pending update of a conversation for this long (and
  renews it while it works); another process takes it over only once the lease is past.
* ``ix_inbox_pending_conversation``: a conversation's rows still pending or leased (a handled row keeps its lease
  until its replies are sent), in arrival order: what a claim asks.
* PostgreSQL: a statement trigger on ``outbox`` sends ``NOTIFY sct_outbox`` when rows due now were inserted, so
  the leader's sender, in whatever process, delivers them at once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LIVE = sa.text("status = 'pending' OR lease_until IS NOT NULL")

NOTIFY_FUNCTION = """
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM outbox_added WHERE not_before <= created_at) THEN
        PERFORM pg_notify('sct_outbox', '');
    END IF;
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
REFERENCING NEW TABLE AS outbox_added FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
"""


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_inbox_pending_conversation",
        "inbox",
        ["channel", "conversation", "id"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
        op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.drop_index("ix_inbox_pending_conversation", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("lease_until")
