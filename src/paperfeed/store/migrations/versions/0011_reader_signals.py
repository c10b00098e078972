"""for you: readers' own signals (seeds, "not interested", ignored), what their personal
feed showed them, their settings, and the models learned from it all (derived data)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user() -> sa.Column[int]:
    return sa.Column("user_id", sa.Integer(), nullable=False)


def _user_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE")


def _paper_pair() -> list[Any]:
    return [
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "reader_signals",
        _user(),
        *_paper_pair(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _user_fk(),
        sa.PrimaryKeyConstraint("user_id", "paper_id", "kind"),
    )
    op.create_index("ix_reader_signals_paper_id", "reader_signals", ["paper_id"])
    op.create_table(
        "reader_impressions",
        _user(),
        *_paper_pair(),
        sa.Column("shown_at", sa.DateTime(), nullable=False),
        _user_fk(),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    op.create_table(
        "reader_prefs",
        _user(),
        sa.Column("paused", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("digest_for_you", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("feed_token_hash", sa.String(length=64), nullable=True),
        sa.Column("forget_before", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _user_fk(),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("feed_token_hash"),
    )
    op.create_table(
        "reader_models",
        _user(),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("embedding_model", sa.String(length=128), nullable=True),
        sa.Column("weights", sa.LargeBinary(), nullable=True),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        _user_fk(),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("reader_models")
    op.drop_table("reader_prefs")
    op.drop_table("reader_impressions")
    op.drop_index("ix_reader_signals_paper_id", table_name="reader_signals")
    op.drop_table("reader_signals")
