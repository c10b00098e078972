"""``paperfeed worker``: the scheduler, a simple loop, restart-safe because every decision is
in the database. It calls the services of ``sources``, ``search`` and ``digest``.

Each pass (every ``PAPERFEED_WORKER_POLL_SECONDS``):

1. once a day at ``PAPERFEED_WORKER_INGEST_HOUR`` (UTC), ingest the last days of the arXiv
   categories in ``PAPERFEED_WORKER_INGEST_CATEGORIES`` (the ingest is idempotent; the day
   it last ran is kept in ``site_meta``);
2. fill the metadata that papers lack (arXiv categories of Hugging Face listings) from the
   arXiv API, at most ``PAPERFEED_METADATA_FILL_PER_PASS`` papers within
   ``PAPERFEED_METADATA_FILL_SECONDS`` (``sources/metadata_fill.py``), then catch the search
   indexes up; when arXiv cannot be reached the fill rests for ``FILL_REST`` (kept in
   ``site_meta``), so an offline worker does not wait on it every pass;
3. make the runs that are due: the daily run of yesterday (UTC) once the day is over, and the
   weekly run of last week on Mondays. A run is unique per (kind, period), so a restarted
   worker finds it instead of making another; its deliveries are due at each subscriber's
   hour (and weekday) in their zone;
4. count the words of papers that lack them (at most ``TERMS_PER_PASS`` a pass,
   ``recommend/terms.py``), then retrain the For you models of readers whose signals changed,
   checking at most ``PAPERFEED_RECOMMEND_REFRESH_PER_PASS`` readers a pass, in turn
   (``recommend/train.py``);
5. send whatever is due (deferred retries included). Dead senders' claims become uncertain.
   When the site-wide throttle's next slot is more than a minute away the pass ends there;
   a later pass goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from typing import Any

from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest.clock import Clock
from paperfeed.recommend import terms
from paperfeed.recommend.train import refresh_stale
from paperfeed.search.indexing import catch_up
from paperfeed.sources.atom import search_category
from paperfeed.sources.metadata_fill import FillStats, fill_metadata
from paperfeed.sources.pipeline import ingest_records
from paperfeed.store.db import Database, get_database
from paperfeed.store.meta import get_meta, set_meta

log = logging.getLogger(__name__)
INGEST_KEY = "worker_last_ingest"
FILL_REST_KEY = "worker_metadata_fill_rests_until"
FILL_REST = dt.timedelta(hours=1)
TERMS_PER_PASS = 5000  # ≈ 2-3 s of counting: a site's first pass does not hold up the mail


def ingest_if_due(db: Database, settings: Settings, now: dt.datetime) -> bool:
    cats = [c.strip() for c in settings.worker_ingest_categories.split(",") if c.strip()]
    today = now.date().isoformat()
    if not cats or now.hour < settings.worker_ingest_hour or get_meta(db, INGEST_KEY) == today:
        return False
    since = now.date() - dt.timedelta(days=2)
    changed = False
    for cat in cats:

        def rejected(location: str, reason: str, cat: str = cat) -> None:
            log.warning("worker ingest %s: %s: %s", cat, location, reason)

        # A category that fails (arXiv down, a full disk) is logged and the others go on,
        # as the ingest command would for each; the next day's pass tries again.
        try:
            stats = ingest_records(db, search_category(cat, since, settings), on_error=rejected)
        except Exception:
            log.exception("worker ingest %s failed", cat)
            continue
        log.info("worker ingest %s: %s", cat, stats.summary_line())
        changed = changed or bool(stats.inserted or stats.updated)
    # The search indexes are derived data: catch them up, as `paperfeed ingest` does.
    try:
        catch_up(db, settings, changed=changed, progress=True)
    except Exception:  # searches catch up in the web workers too; the mail goes on
        log.exception("worker: the search indexes could not be updated")
    set_meta(db, INGEST_KEY, today)
    return True


def fill_if_any(db: Database, settings: Settings, now: dt.datetime) -> FillStats | None:
    """One bounded metadata fill (None when off or resting after arXiv failed)."""
    rests_until = get_meta(db, FILL_REST_KEY)
    if settings.metadata_fill_per_pass <= 0 or (rests_until and rests_until > now.isoformat()):
        return None
    stats = fill_metadata(
        db,
        settings,
        limit=settings.metadata_fill_per_pass,
        deadline=settings.metadata_fill_seconds,
    )
    if stats.asked or stats.error:
        log.info("worker metadata fill: %s", stats.summary_line())
    if stats.error:
        log.warning("worker metadata fill: %s; resting until %s", stats.error, now + FILL_REST)
        set_meta(db, FILL_REST_KEY, (now + FILL_REST).isoformat())
    if stats.filled:
        try:
            catch_up(db, settings, changed=True, progress=True)
        except Exception:  # the next ingest or `paperfeed index update` catches up
            log.exception("worker: the search indexes could not be updated")
    return stats


def refresh_models(db: Database, settings: Settings) -> int:
    """Papers' missing term counts and one bounded refresh of stale reader models (both
    bounded); a failure is logged, the pass goes on."""
    try:
        counted = terms.fill(db, limit=TERMS_PER_PASS)
        if counted:
            log.info("worker: counted the terms of %d paper(s)", counted)
        retrained = refresh_stale(db, settings, settings.recommend_refresh_per_pass)
    except Exception:  # models are derived: the web process and `recommend rebuild` retrain
        log.exception("worker: reader models could not be refreshed")
        return 0
    if retrained:
        log.info("worker: retrained %d reader model(s)", retrained)
    return retrained


def due_runs(db: Database, settings: Settings, clock: Clock) -> list[int]:
    """Make (or find) the runs that are due now; return the ids of those still sending."""
    now = clock.now()
    yesterday = now.date() - dt.timedelta(days=1)
    runs = [deliver.create_run(db, settings, "daily", yesterday, clock, schedule=True)]
    last_week = now.date() - dt.timedelta(days=7)
    runs.append(deliver.create_run(db, settings, "weekly", last_week, clock, schedule=True))
    return [r.id for r in runs if r.status == "sending"]


def run_worker(
    settings: Settings,
    *,
    once: bool = False,
    clock: Clock | None = None,
    db: Database | None = None,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    db = db or get_database(settings)
    db.upgrade()
    clock = clock or Clock()
    stop = {"now": False}

    def _stop(signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sender = deliver.Sender(db, settings, clock)
    sender.register()
    try:
        while not stop["now"]:
            try:
                ingest_if_due(db, settings, clock.now())
                fill_if_any(db, settings, clock.now())
                refresh_models(db, settings)
                deliver.recover(db, settings, clock, sender.id)
                due_runs(db, settings, clock)
                sender.send_runs(None, wait=False)
            except Exception:
                log.exception("worker pass failed; trying again next pass")
            if once:
                break
            waited = 0.0
            while waited < settings.worker_poll_seconds and not stop["now"]:
                clock.sleep(1.0)
                waited += 1.0
    finally:
        sender.unregister()
