"""for you: each paper's hashed term counts (``paper_terms``, derived data) and the term half
of a reader's model (``reader_models.term_weights``)

Revision ID: 0013_fused_terms
Revises: 0012
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_fused_terms"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_terms",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.Column("paper_modified_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id"),
    )
    with op.batch_alter_table("reader_models") as batch:
        batch.add_column(sa.Column("term_weights", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reader_models") as batch:
        batch.drop_column("term_weights")
    op.drop_table("paper_terms")
