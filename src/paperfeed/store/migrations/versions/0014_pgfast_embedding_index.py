"""paper_embeddings: an index on (model, embedded_at), so that one model's count and newest
``embedded_at`` (the freshness checks of search's vector index and recommend's candidates)
are read from the index instead of a scan of the vectors (on PostgreSQL an index-only scan
once the table is vacuumed: benchmarks/RESULTS.md, 2026-12-05)

Revision ID: 0014_pgfast
Revises: 0012
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_pgfast"
down_revision: str | None = "0013_fused_terms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_paper_embeddings_model_embedded_at"


def upgrade() -> None:
    op.create_index(INDEX, "paper_embeddings", ["model", "embedded_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Statistics, where autovacuum has not gathered them yet (or is off): without them the
        # planner guessed a few hundred rows for the whole table and read it block by block
        # through the new index, slower than the scan it replaced. (The count is read from the
        # index alone only where (auto)vacuum has marked the table's pages all-visible.)
        op.execute("ANALYZE paper_embeddings")


def downgrade() -> None:
    op.drop_index(INDEX, table_name="paper_embeddings")
