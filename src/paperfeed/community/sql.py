"""Driver SQL (the hottest statements, run on a bare DB-API cursor) written with the models'
own table and column names, so that a renamed column fails at import, not in production.

A template names a table as ``{papers}`` and a column as ``{papers.user_upvotes}``; ``?``
marks a parameter (``Database.placeholders`` / ``ops.driver_sql`` make it the driver's)."""

from __future__ import annotations

from typing import Any

from paperfeed.store.models import ApiToken, Paper, Upvote, User


class Names:
    """A table's name (``str``) and its columns' names (attributes), checked on use."""

    def __init__(self, model: Any) -> None:
        self._table = model.__table__

    def __str__(self) -> str:
        return str(self._table.name)

    def __getattr__(self, column: str) -> str:
        if column.startswith("_"):
            raise AttributeError(column)
        return str(self._table.c[column].name)  # KeyError: no such column


TABLES = {str(model.__tablename__): Names(model) for model in (ApiToken, Paper, Upvote, User)}


def sql(template: str, **values: object) -> str:
    """``template`` with its ``{table}`` and ``{table.column}`` names filled in (and any
    other ``{name}`` from ``values``: constants the statement shares with Python code)."""
    return template.format(**TABLES, **values)
