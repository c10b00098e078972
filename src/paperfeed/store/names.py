"""The ``paper_names`` rows of papers (:class:`~paperfeed.store.models.PaperName`): the
names a paper is found by, kept in step with ``papers.authors`` and ``papers.organization``
in the transaction that writes them.

Two writers keep them: the ingest's batch writer calls :func:`replace_names` for the papers
it inserted or changed, and an ORM hook (:func:`_after_flush`, on every ``Session``) does
it for papers added or changed through the ORM. A paper deleted takes its rows along
(``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from paperfeed.store.dialect import Ops
from paperfeed.store.models import Paper, PaperName
from paperfeed.text import name_key

NAMES: sa.Table = PaperName.__table__  # type: ignore[assignment]
CHUNK = 500  # papers per DELETE ... IN


def name_rows(
    paper_id: int, authors: Sequence[str] | None, organization: str | None
) -> list[dict[str, Any]]:
    """The ``paper_names`` rows of one paper (blank names left out)."""
    rows = [
        {"paper_id": paper_id, "kind": "author", "position": n, "key": key}
        for n, author in enumerate(authors or ())
        if isinstance(author, str) and (key := name_key(author))
    ]
    org = name_key(organization) if organization else ""
    if org:
        rows.append({"paper_id": paper_id, "kind": "org", "position": 0, "key": org})
    return rows


_INSERT_SQL = (
    f"INSERT INTO {NAMES.name} ({NAMES.c.paper_id.name}, {NAMES.c.kind.name}, "
    f"{NAMES.c.position.name}, {NAMES.c.key.name}) VALUES (?, ?, ?, ?)"
)


def replace_names(
    conn: Connection,
    papers: Iterable[tuple[int, Sequence[str] | None, str | None]],
    ops: Ops | None = None,
    *,
    new: bool = False,
) -> None:
    """Rewrite the names of ``papers`` (``(id, authors, organization)``) on ``conn``. With
        ``ops`` (the ingest's many rows) the inserts go to the driver as one ``executemany``,
        as the batch writer's papers do: SQLAlchemy's per-row work cost more than the database
        (hf-daily-papers' 106,043 names: about a second). ``new``: papers just inserted, which
    have no names yet to delete."""
    todo = list(papers)
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        if not new:
            conn.execute(sa.delete(NAMES).where(NAMES.c.paper_id.in_([p[0] for p in chunk])))
        rows = [row for p in chunk for row in name_rows(*p)]
        if not rows:
            continue
        if ops is None:
            conn.execute(sa.insert(NAMES), rows)
        else:
            values = [(r["paper_id"], r["kind"], r["position"], r["key"]) for r in rows]
            conn.exec_driver_sql(ops.driver_sql(_INSERT_SQL), values)


def _changed(paper: Paper) -> bool:
    state = sa.inspect(paper)
    return any(state.attrs[name].history.has_changes() for name in ("authors", "organization"))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    """Papers the ORM inserted, or whose authors or organization it changed."""
    dirty = [p for p in session.dirty if isinstance(p, Paper) and _changed(p) and p.id is not None]
    todo = [p for p in session.new if isinstance(p, Paper)] + dirty
    if todo:
        replace_names(session.connection(), [(p.id, p.authors, p.organization) for p in todo])
