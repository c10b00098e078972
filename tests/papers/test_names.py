"""Papers by author and organization name: the names the store keeps beside each paper
(written by the ingest and by the ORM, filled by the migration), matched whatever the case,
accents and spacing, newest first, paged; verified authors from approved claims."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from paperfeed import papers
from paperfeed.sources.pipeline import ingest_records
from paperfeed.store.db import Database
from paperfeed.store.migrate import alembic_config
from paperfeed.store.models import Paper, PaperName
from paperfeed.text import name_key
from tests.factories import add_paper
from tests.sources.test_ingest_pipeline import rec


def by_name(
    db: Database, kind: papers.names.Kind, name: str, offset: int = 0, limit: int = 50
) -> papers.NamedPapers | None:
    with db.read() as s:
        return papers.papers_by_name(s, kind, name, offset, limit)


def ids(found: papers.NamedPapers | None) -> list[str]:
    assert found is not None
    return [i.arxiv_id for i in found.items]


def test_name_key_ignores_case_accents_and_spacing() -> None:
    assert name_key("  Émile   BOREL ") == "emile borel" == name_key("emile borel")
    assert name_key("Zoë Ångström") == name_key("zoe angstrom")
    assert name_key("Kaiming He") != name_key("He")


def test_author_papers_newest_first_whatever_the_spelling(database: Database) -> None:
    add_paper(database, "2501.00001", authors=["Émile Borel", "Ann Example"],
              published_at=dt.datetime(2025, 1, 1))  # fmt: skip
    add_paper(database, "2502.00001", authors=["Ann Example", "emile  borel"],
              published_at=dt.datetime(2025, 2, 1))  # fmt: skip
    add_paper(database, "2503.00001", authors=["Emil Borel"], published_at=dt.datetime(2025, 3, 1))
    add_paper(database, "2504.00001", authors=["Borel"], published_at=None)
    found = by_name(database, "author", "EMILE BOREL")
    assert ids(found) == ["2502.00001", "2501.00001"]
    assert found is not None and found.total == 2
    assert found.name == "emile  borel"  # as the newest paper writes it
    assert ids(by_name(database, "author", "Emile Borel", offset=1, limit=1)) == ["2501.00001"]
    assert by_name(database, "author", "Borel ") is not None  # only the one named "Borel"
    assert ids(by_name(database, "author", "borel")) == ["2504.00001"]
    assert by_name(database, "author", "Nobody Here") is None
    assert by_name(database, "author", "   ") is None
    assert by_name(database, "author", "x" * 500) is None


def test_organization_papers(database: Database) -> None:
    add_paper(
        database, "2501.00002", organization="Invented Lab", published_at=dt.datetime(2025, 1, 1)
    )
    add_paper(
        database, "2502.00002", organization="invented lab", published_at=dt.datetime(2025, 2, 1)
    )
    add_paper(database, "2503.00002", authors=["Invented Lab"])
    found = by_name(database, "org", "INVENTED LAB")
    assert ids(found) == ["2502.00002", "2501.00002"]
    assert by_name(database, "author", "Invented Lab") is not None  # an author by that name
    assert ids(by_name(database, "author", "Invented Lab")) == ["2503.00002"]


def test_names_follow_orm_changes_and_deletes(database: Database) -> None:
    pid = add_paper(database, "2501.00003", authors=["Old Name"])
    with database.write() as s:
        paper = s.get(Paper, pid)
        assert paper is not None
        paper.authors = ["New Name"]
        paper.organization = "Some Org"
    assert by_name(database, "author", "Old Name") is None
    assert ids(by_name(database, "author", "new name")) == ["2501.00003"]
    assert ids(by_name(database, "org", "some org")) == ["2501.00003"]
    with database.write() as s:
        s.execute(sa.delete(Paper).where(Paper.id == pid))
    with database.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PaperName)) == 0


def test_names_follow_the_ingest(database: Database) -> None:
    ingest_records(database, [rec("2501.00004", authors=["Ann Ingest", "Bo Ingest"])])
    assert ids(by_name(database, "author", "bo ingest")) == ["2501.00004"]
    # a newer version with another author list replaces the names
    newer = rec("2501.00004", authors=["Cy Ingest"], version=2,
                updated_at=dt.datetime(2025, 2, 1))  # fmt: skip
    ingest_records(database, [newer])
    assert by_name(database, "author", "bo ingest") is None
    assert ids(by_name(database, "author", "cy ingest")) == ["2501.00004"]
    with database.read() as s:
        keys = s.scalars(sa.select(PaperName.key).order_by(PaperName.position)).all()
    assert keys == ["cy ingest"]


@pytest.mark.real_upgrade
def test_the_migration_fills_the_names_of_stored_papers(database: Database) -> None:
    command.downgrade(alembic_config(database), "0007")
    table: sa.Table = Paper.__table__  # type: ignore[assignment]
    now = dt.datetime(2025, 1, 1)
    with database.engine.begin() as conn:  # Core: no ORM hook, as before the migration
        conn.execute(sa.insert(table), [
            {"arxiv_id": f"2501.{n:05d}", "title": "t", "abstract": "", "version": 1,
             "authors": ["Ann Old", f"Writer {n}"], "categories": [], "organization": "Old Lab",
             "created_at": now, "modified_at": now, "published_at": now + dt.timedelta(days=n)}
            for n in range(1, 4)
        ])  # fmt: skip
    database.upgrade()
    assert ids(by_name(database, "author", "ann old")) == ["2501.00003", "2501.00002", "2501.00001"]
    assert ids(by_name(database, "author", "writer 2")) == ["2501.00002"]
    assert by_name(database, "org", "old lab") is not None
