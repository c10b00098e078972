"""A writer killed while writing the ANN file leaves its temporary file: the next write
removes it, and leaves alone the temporary file of a writer that is still writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.search.ann import HnswStore
from paperfeed.search.ann_files import STALE_TEMP_SECONDS, publish_base
from paperfeed.search.vectors import VectorSearch
from paperfeed.store.db import Database

pytestmark = pytest.mark.slow  # kills index writers mid-write

WRITER = """
import os, sys, pathlib
tmp = pathlib.Path(sys.argv[1]) / f".v-m.20260101T000000-abcd.usearch.{os.getpid()}.tmp"
with open(tmp, "wb") as out:
    out.write(b"half a graph")
    out.flush()
    print(tmp.name, flush=True)
    sys.stdin.read()  # writes until told to stop (or killed)
"""


def start_writer(directory: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, directory / proc.stdout.readline().strip()


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_the_next_write_removes_what_a_killed_writer_left(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    crashed, crashed_tmp = start_writer(tmp_path)
    live, live_tmp = start_writer(tmp_path)
    writers += [crashed, live]
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()
    # A pid that is alive but whose file has not grown for longer than the limit (the pid
    # was reused by another process): stale too.
    reused = tmp_path / f".v-m.old.usearch.{os.getppid()}.tmp"
    reused.write_bytes(b"old")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(reused, (old, old))
    assert crashed_tmp.exists() and live_tmp.exists()

    graph = HnswStore(8)
    graph.upsert([1, 2], np.eye(2, 8, dtype=np.float32))
    meta = publish_base(graph, tmp_path, "v-m", {"model": "m", "dim": 8})

    assert not crashed_tmp.exists() and not reused.exists()
    assert live_tmp.exists()  # its writer is still at work
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [meta["file"], "v-m.json", live_tmp.name]
    )


def test_a_starting_vector_search_removes_them_too(
    settings: Settings, database: Database, writers: list[subprocess.Popen[str]]
) -> None:
    directory = settings.data_dir / "index"
    directory.mkdir(parents=True)
    crashed, crashed_tmp = start_writer(directory)
    writers.append(crashed)
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()
    # Only the model's name and size are read when it starts.
    model = SimpleNamespace(model="test-model", dim=8)
    VectorSearch(settings, model, database)  # type: ignore[arg-type]
    assert not crashed_tmp.exists()
