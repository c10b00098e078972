"""account e-mail verification

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00.000000

Existing accounts: admins were made with ``paperfeed users create`` by the operator, who
vouches for the address, so they count as verified (at their creation time); every other
existing account is unverified until its owner opens a verification link.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", sa.DateTime(), nullable=True))
    users = sa.table(
        "users",
        sa.column("is_admin", sa.Boolean()),
        sa.column("created_at", sa.DateTime()),
        sa.column("email_verified_at", sa.DateTime()),
    )
    op.execute(
        users.update()
        .where(users.c.is_admin.is_(True))
        .values(email_verified_at=users.c.created_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
