"""``paperfeed recommend rebuild`` and ``show``."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from paperfeed.cli import cli
from paperfeed.cli.worker import refresh_models
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.reader_models import PaperTerms
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings

__all__ = ["corpus", "rank_settings"]


def test_rebuild_trains_every_reader_or_one(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    alice, bob, carol = (rc.add_user(database, n) for n in ("alice", "bob", "carol"))
    rc.upvote(database, alice, *corpus.topics["A"][:5])
    rc.upvote(database, bob, corpus.topics["B"][0])
    rc.set_prefs(database, carol, authors=["Common Person"])
    idle = rc.add_user(database, "idle")
    result = CliRunner().invoke(cli, ["recommend", "rebuild", "--user", "bob"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 1 reader model(s)" in result.output
    assert rc.stored(database, alice) is None
    model = rc.stored(database, bob)
    assert model is not None and model.method == "nearest"

    result = CliRunner().invoke(cli, ["recommend", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 3 reader model(s)" in result.output
    methods = {u: m.method for u in (alice, bob, carol) if (m := rc.stored(database, u))}
    assert methods == {alice: "linear", bob: "nearest", carol: "follows"}
    assert rc.stored(database, idle) is None


def test_rebuild_of_an_unknown_user_fails(database: Database, rank_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["recommend", "rebuild", "--user", "nobody"])
    assert result.exit_code == 1
    assert "no user 'nobody'" in result.output


def test_show_lists_a_readers_papers_without_recording_them(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, corpus.topics["A"][0])
    args = ["recommend", "show", "ranker", "--from", "2025-03-01", "--to", "2025-03-10"]
    result = CliRunner().invoke(cli, [*args, "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert all(reason.endswith("which you upvoted") for *_, reason in lines)
    assert lines[0][2].startswith("Topic A")
    assert "method: nearest, 3 paper(s)" in result.stderr
    assert rc.impressions(database, reader) == {}
    bad = CliRunner().invoke(cli, [*args[:3], "--from", "2025-03-10", "--to", "2025-03-01"])
    assert bad.exit_code == 1 and "--from is after --to" in bad.output


def test_index_update_rebuild_and_the_worker_count_papers_words(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    def words() -> int:
        with database.read() as s:
            return int(s.scalar(select(func.count()).select_from(PaperTerms)) or 0)

    result = CliRunner().invoke(cli, ["recommend", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"counted the terms of {2 * rc.PER_TOPIC} paper(s)" in result.output
    for i in range(3):
        add_paper(database, f"2504.{60000 + i}")
    result = CliRunner().invoke(cli, ["index", "update", "--keyword-only"])
    assert result.exit_code == 0, result.output
    assert "index terms: counted 3" in result.output
    assert words() == 2 * rc.PER_TOPIC + 3
    for i in range(2):
        add_paper(database, f"2504.{61000 + i}")
    refresh_models(database, rank_settings)  # the worker's pass
    assert words() == 2 * rc.PER_TOPIC + 5
