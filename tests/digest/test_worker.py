"""The worker: makes yesterday's daily run once and sends each digest at the subscriber's
hour in their time zone; a restarted worker finds the same run and sends nothing twice."""

from __future__ import annotations

import datetime as dt

from paperfeed.cli.worker import run_worker
from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import FakeClock
from paperfeed.digest.compose import next_send_time
from paperfeed.store.db import Database
from tests.digest.conftest import SmtpSink


def test_worker_sends_at_each_subscribers_hour(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    cfg = digest_settings.model_copy(
        update={"worker_ingest_categories": "", "metadata_fill_per_pass": 0}
    )
    utc7 = subs.make_prefs(cfg, send_hour=7)
    paris9 = subs.make_prefs(cfg, send_hour=9, timezone="Europe/Paris")
    subs.add(digest_db, cfg, "utc@example.org", confirmed=True, prefs=utc7)
    subs.add(digest_db, cfg, "paris@example.org", confirmed=True, prefs=paris9)
    # Saturday 2025-03-08 00:30 UTC: Friday's run is made; nobody's hour has come.
    clock = FakeClock(dt.datetime(2025, 3, 8, 0, 30))
    run_worker(cfg, once=True, clock=clock, db=digest_db)
    assert not smtp_sink.messages
    run = deliver.find_run(digest_db, "daily", dt.date(2025, 3, 7))
    assert run is not None and run.recipients == 2
    clock.advance(7 * 3600)  # 07:30 UTC = 08:30 in Paris
    run_worker(cfg, once=True, clock=clock, db=digest_db)
    assert [m["To"] for m in smtp_sink.messages] == ["utc@example.org"]
    clock.advance(3600)  # 08:30 UTC = 09:30 in Paris
    run_worker(cfg, once=True, clock=clock, db=digest_db)  # a "restart": same run, no repeat
    assert sorted(m["To"] for m in smtp_sink.messages) == ["paris@example.org", "utc@example.org"]
    assert deliver.run_status(digest_db, [run.id])[0].status == "done"


def test_next_send_time() -> None:
    now = dt.datetime(2025, 3, 8, 8, 30)  # a Saturday, UTC
    assert next_send_time(now, "daily", "UTC", 9, 0) == dt.datetime(2025, 3, 8, 9)
    assert next_send_time(now, "daily", "UTC", 7, 0) == dt.datetime(2025, 3, 9, 7)
    assert next_send_time(now, "daily", "Europe/Paris", 9, 0) == dt.datetime(2025, 3, 9, 8)
    assert next_send_time(now, "weekly", "UTC", 7, 0) == dt.datetime(2025, 3, 10, 7)
    # 03:00 in New York has passed (it is 03:30 EST); tomorrow clocks go forward: 03:00 EDT.
    assert next_send_time(now, "daily", "America/New_York", 3, 0) == dt.datetime(2025, 3, 9, 7)
