"""Progress of long commands when stderr is not a terminal (cron, systemd): a plain line every
few seconds with the rate and, where the total is known, the ETA; nothing for a short run."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed import progress as progress_module
from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.progress import Progress
from paperfeed.sources.readers import ReadPosition, read_jsonl
from paperfeed.store.db import Database


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_interval_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress("embedding", 1000, "paper", stream=out, interval=5, clock=clock) as bar:
        for _ in range(10):
            clock.now += 1
            bar.update(50)
    lines = out.getvalue().splitlines()
    # after 5 s and 10 s; then the closing line
    assert lines == [
        "embedding: 250/1,000 papers (25%), 50.0 papers/s, ETA 0:00:15",
        "embedding: 500/1,000 papers (50%), 50.0 papers/s, ETA 0:00:10",
        "embedding: done, 500 papers in 0:00:10 (50.0 papers/s)",
    ]
    assert "\r" not in out.getvalue()


def test_a_short_run_prints_nothing_and_messages_pass_through() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress("ingest", None, "record", stream=out, interval=5, clock=clock) as bar:
        bar.update(3)
        bar.write("a.jsonl:2: malformed arXiv id")
        clock.now += 6
        bar.update(1)
    assert out.getvalue().splitlines() == [
        "a.jsonl:2: malformed arXiv id",
        "ingest: 4 records, 0.7 records/s",  # no total: no ETA
        "ingest: done, 4 records in 0:00:06 (0.7 records/s)",
    ]


def test_without_a_total_the_fraction_gives_share_and_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    share = [0.25]
    with Progress(
        "ingest", None, "record", stream=out, interval=5, clock=clock, fraction=lambda: share[0]
    ) as bar:
        clock.now += 10
        bar.update(1000)
    assert out.getvalue().splitlines()[0] == (
        "ingest: 1,000 records (25%), 100.0 records/s, ETA 0:00:30"
    )


def test_read_position_follows_plain_and_gzip_files(tmp_path: Path) -> None:
    plain = _papers(tmp_path / "a.jsonl", 40)
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(_papers(tmp_path / "b.jsonl", 40).read_bytes()))
    position = ReadPosition([plain, packed])
    assert position.total == plain.stat().st_size + packed.stat().st_size
    seen = []
    for item in read_jsonl([plain, packed], position):
        assert item.record is not None
        seen.append(position.fraction())
    assert len(seen) == 80
    assert all(f is not None and 0 < f <= 1 for f in seen)
    assert seen == sorted(seen)  # type: ignore[type-var]
    assert seen[39] == pytest.approx(plain.stat().st_size / position.total, abs=0.05)
    assert position.fraction() == 1.0


def _papers(path: Path, n: int) -> Path:
    rows = [
        {
            "id": f"2503.{30001 + i}",
            "title": f"An invented pangolin study {i}",
            "abstract": f"Pangolins, scales and the number {i}, written for the progress test.",
            "authors": ["Ada Example"],
            "categories": ["cs.IR"],
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ingest_and_embedding_print_progress_lines_without_a_terminal(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)  # a line at every step
    result = CliRunner().invoke(cli, ["ingest", "jsonl", str(_papers(tmp_path / "p.jsonl", 6))])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("read 6, inserted 6")
    err = result.stderr.splitlines()
    # The share and ETA come from how far through the file the reader is.
    assert re.fullmatch(r"ingest: 1 records \(1\d%\), [\d.,]+ records/s, ETA [\d:]+", err[0]), err
    assert any(line.startswith("ingest: done, 6 records in ") for line in err), err
    embedding = [line for line in err if line.startswith("embedding: 6/6 papers (100%)")]
    assert embedding and re.search(r", [\d.,]+ papers/s, ETA 0:00:00$", embedding[0]), err
    assert "\r" not in result.stderr
