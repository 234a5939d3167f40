"""runs.tasks_seen: the distinct tasks of a run, kept so aggregates need no re-read.

The writer adjusts a run's aggregates by the difference each batch makes to its task
rows (``sinks.postgres.aggregates``); ``tasks_total`` and the status depend on the
number of distinct tasks, which is stored here and filled in for existing runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tasks_seen", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(
        "UPDATE runs SET tasks_seen = (SELECT count(DISTINCT task_id) FROM task_executions "
        "WHERE task_executions.run_id = runs.run_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("tasks_seen")
