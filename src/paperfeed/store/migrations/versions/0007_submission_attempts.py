"""submission attempts: the daily limit counts them, the fetch caps count the running ones

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("arxiv_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_submission_attempts_user_day", "submission_attempts", ["user_id", "day"], unique=False
    )
    op.create_index(
        op.f("ix_submission_attempts_status"), "submission_attempts", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_submission_attempts_status"), table_name="submission_attempts")
    op.drop_index("ix_submission_attempts_user_day", table_name="submission_attempts")
    op.drop_table("submission_attempts")
