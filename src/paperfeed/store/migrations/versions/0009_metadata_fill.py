"""metadata fill misses: papers arXiv gave no categories for, and when to ask again

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metadata_fill_misses",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tried_at", sa.DateTime(), nullable=False),
        sa.Column("retry_after", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id"),
    )
    op.create_index(
        op.f("ix_metadata_fill_misses_retry_after"),
        "metadata_fill_misses",
        ["retry_after"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_metadata_fill_misses_retry_after"), table_name="metadata_fill_misses")
    op.drop_table("metadata_fill_misses")
