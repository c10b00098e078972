"""digests: a content's leading "For you" papers and their reasons (per reader)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 05:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest_contents") as batch:
        batch.add_column(sa.Column("for_you", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_contents") as batch:
        batch.drop_column("for_you")
