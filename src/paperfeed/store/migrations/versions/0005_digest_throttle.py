"""digest throttle shared by every sender

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:12:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    throttle = op.create_table(
        "digest_throttle",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "digest_send_slots",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(op.f("ix_digest_send_slots_at"), "digest_send_slots", ["at"], unique=False)
    op.bulk_insert(throttle, [{"name": "digest", "seq": 0, "last_at": None}])


def downgrade() -> None:
    op.drop_index(op.f("ix_digest_send_slots_at"), table_name="digest_send_slots")
    op.drop_table("digest_send_slots")
    op.drop_table("digest_throttle")
