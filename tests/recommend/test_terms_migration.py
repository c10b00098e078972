"""Migration 0013_fused_terms on either store: down removes ``paper_terms`` and the term
weights (the models keep their embedding half), up brings them back empty."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select

from paperfeed.recommend import terms
from paperfeed.store.db import Database
from paperfeed.store.migrate import alembic_config
from paperfeed.store.reader_models import PaperTerms
from tests.factories import add_paper

pytestmark = pytest.mark.real_upgrade


def shape(db: Database) -> tuple[bool, bool]:
    found = inspect(db.engine)
    columns = {c["name"] for c in found.get_columns("reader_models")}
    return "paper_terms" in found.get_table_names(), "term_weights" in columns


def test_down_and_up_again(database: Database) -> None:
    database.upgrade()
    assert shape(database) == (True, True)
    add_paper(database, "2501.00001")
    assert terms.fill(database) == 1
    command.downgrade(alembic_config(database), "0012")
    assert shape(database) == (False, False)
    database.upgrade()
    assert shape(database) == (True, True)
    with database.read() as s:
        assert s.scalars(select(PaperTerms.paper_id)).all() == []
    assert terms.fill(database) == 1
