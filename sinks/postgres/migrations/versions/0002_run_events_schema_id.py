"""run_events.schema_id: the schema-registry id a framed value carried.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("run_events", sa.Column("schema_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("run_events", "schema_id")
