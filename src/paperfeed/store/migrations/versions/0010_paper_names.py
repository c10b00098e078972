"""paper names: the author and organization names each paper is found by (author and
organization pages), filled from the papers already stored

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.store.names import name_rows

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def upgrade() -> None:
    names = op.create_table(
        "paper_names",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id", "kind", "position"),
    )
    op.create_index("ix_paper_names_kind_key", "paper_names", ["kind", "key"], unique=False)
    _fill(names)


def _fill(names: sa.Table) -> None:
    """The names of the papers already stored, a batch of papers at a time (by id)."""
    papers = sa.table(
        "papers", sa.column("id", sa.Integer), sa.column("authors", sa.JSON),
        sa.column("organization", sa.String),
    )  # fmt: skip
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(papers.c.id, papers.c.authors, papers.c.organization)
            .where(papers.c.id > last)
            .order_by(papers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        out = [row for r in rows for row in name_rows(*r)]
        if out:
            conn.execute(sa.insert(names), out)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_paper_names_kind_key", table_name="paper_names")
    op.drop_table("paper_names")
