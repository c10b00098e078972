"""Crash safety: a real ``paperfeed digest send`` subprocess, SIGKILLed at random moments
and restarted each time until the run completes. Checked at the SMTP server and in the
database: nobody gets the digest twice, every delivery ends sent, failed or uncertain, there
are no more uncertain deliveries than kills, and the database is intact."""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery, DigestRun
from tests.digest.conftest import SmtpSink, add_confirmed_subscribers, sender_env
from tests.web.conftest import FRIDAY

pytestmark = pytest.mark.slow  # kills a sender process and starts another

RECIPIENTS = 300
MAX_KILLS = 8
PAPERFEED = str(Path(sys.executable).with_name("paperfeed"))


def test_sigkill_never_sends_twice(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    now = dt.datetime(2025, 3, 8, 6, 0)
    add_confirmed_subscribers(digest_db, RECIPIENTS, now)
    env = sender_env(digest_settings, smtp_sink, PAPERFEED_DIGEST_RATE_PER_SECOND="150")
    cmd = [PAPERFEED, "digest", "send", "--period", "daily", "--date", FRIDAY.isoformat()]
    rng = random.Random(int(os.environ.get("PAPERFEED_CRASH_SEED", "0")) or None)
    kills = 0
    runs = 0
    started = time.monotonic()
    log = tmp_path / "sender.log"
    while True:
        assert time.monotonic() - started < 120, "the run did not complete"
        runs += 1
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        if kills < MAX_KILLS:
            # Sometimes while it starts or freezes the run, mostly while it sends.
            before = len(smtp_sink.messages)
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            if rng.random() < 0.8:
                deadline = time.monotonic() + 15
                while len(smtp_sink.messages) == before and proc.poll() is None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
                deadline = time.monotonic() + rng.uniform(0.0, 0.4)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()  # reaped: its pid is gone, so the next sender sees it dead
            if proc.returncode == 0:
                break
            continue
        assert proc.wait(timeout=90) == 0, log.read_text()[-2000:]
        break
    status = subprocess.run(
        [PAPERFEED, "digest", "status", "1"], env=env, capture_output=True, text=True, check=True
    )
    # At the SMTP server: nobody got the digest twice.
    per_address = collections.Counter(m["To"] for m in smtp_sink.messages)
    assert per_address and max(per_address.values()) == 1
    ids = collections.Counter(m["Message-ID"] for m in smtp_sink.messages)
    assert max(ids.values()) == 1
    # In the database: every delivery is final, uncertain ones at most one per kill.
    with digest_db.read() as session:
        counts = dict(
            session.execute(
                select(DigestDelivery.status, func.count()).group_by(DigestDelivery.status)
            ).all()
        )
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 1
        sent = set(
            session.scalars(select(DigestDelivery.email).where(DigestDelivery.status == "sent"))
        )
        if digest_db.is_sqlite:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert not session.execute(text("PRAGMA foreign_key_check")).all()
    assert set(counts) <= {"sent", "failed", "uncertain"}, counts
    assert sum(counts.values()) == RECIPIENTS
    assert counts.get("uncertain", 0) <= kills
    assert sent <= set(per_address)  # every "sent" row was received exactly once
    received_not_sent = set(per_address) - sent
    assert len(received_not_sent) <= counts.get("uncertain", 0)
    print(
        f"\ncrash test: {kills} kills, {runs} starts, {counts}, "
        f"received {len(per_address)}, {time.monotonic() - started:.1f} s"
    )
    assert "uncertain" in status.stdout or counts.get("uncertain", 0) == 0
