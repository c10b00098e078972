"""Alembic environment. SQLite runs in batch mode so ALTERs work there too."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from paperfeed.store.models import Base

config = context.config
engine = config.attributes.get("engine")


def run_migrations_online() -> None:
    assert isinstance(engine, Engine), "run migrations through paperfeed.store.migrate"
    # A plain (non-IMMEDIATE) connection is enough: Alembic runs alone at start-up.
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
