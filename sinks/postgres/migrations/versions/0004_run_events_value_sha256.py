"""run_events.value_sha256: the digest of each event's raw value.

A re-sent event id is compared with the stored version by digest first, so a
byte-identical repeat costs no decoding; a version with other bytes is then ranked by
the rule of ``contracts.canonical`` (``sinks.conflicts``). Rows written before this
revision have no digest and are compared by their payload.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("run_events", sa.Column("value_sha256", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("run_events", "value_sha256")
