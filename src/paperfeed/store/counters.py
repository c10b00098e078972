"""A counter on a row that trips a change of state when it reaches a limit (a digest run that
pauses after so many failures in a row, an address suppressed after so many hard bounces)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute


def count_toward(
    conn: Any,
    counter: InstrumentedAttribute[int],
    row_id: int,
    limit: int,
    when: ColumnElement[bool],
    then: dict[str, Any],
) -> bool:
    """One more on the ``counter`` column of the row ``row_id``; at ``limit``, where ``when``
    also holds, the row gets the values ``then``. True when this call tripped it. Two
    statements: the second sees the first's count, under the row lock the first took."""
    model = counter.class_
    c = model.__table__.c
    conn.execute(update(model).where(c.id == row_id).values({counter.key: c[counter.key] + 1}))
    result: Any = conn.execute(
        update(model).where(c.id == row_id, c[counter.key] >= limit, when).values(then)
    )
    return bool(result.rowcount)
