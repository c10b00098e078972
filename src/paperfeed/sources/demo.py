"""Demo data for a new site: real papers when the network allows, else a generated corpus.

Order of tries (each bounded by ``PAPERFEED_DEMO_FETCH_TIMEOUT``):
1. the last 7 days of Hugging Face's Daily Papers API (real papers and upvotes);
2. the latest papers of a few arXiv categories through the Atom API, featured on the day
   arXiv published them;
3. a generated corpus (demo_corpus.py), marked in ``site_meta`` so every page says "demo".
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

from sqlalchemy import delete, func, select

from paperfeed.config import Settings
from paperfeed.papers.site import DEMO_KEY, is_demo_site
from paperfeed.sources.demo_corpus import generate_listings
from paperfeed.sources.pipeline import IngestStats, ingest_records
from paperfeed.sources.readers import iter_daily_papers_array
from paperfeed.sources.remote import fetch_arxiv_recent_as_daily, fetch_daily_papers
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper, SiteMeta

REMOTE_DAYS = 7
ARXIV_CATEGORIES = ("cs.AI", "cs.CL", "cs.CV", "cs.LG")

Echo = Callable[[str], None]


def paper_count(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Paper)) or 0


def reset(db: Database) -> None:
    with db.write() as s:
        s.execute(delete(DailyEntry))
        s.execute(delete(Paper))
        s.execute(delete(SiteMeta).where(SiteMeta.key == DEMO_KEY))


def load_demo(
    db: Database,
    settings: Settings,
    *,
    reset_first: bool = False,
    if_empty: bool = False,
    echo: Echo = print,
    try_remote: bool = True,
    today: dt.date | None = None,
) -> str:
    if if_empty and not reset_first:
        count = paper_count(db)
        if count:
            return f"database already holds {count} papers; demo data not loaded"
    if reset_first:
        reset(db)
    if try_remote:
        for name, loader in (("Daily Papers API", _from_daily_papers), ("arXiv API", _from_arxiv)):
            started = time.monotonic()
            try:
                stats = loader(db, settings)
            except Exception as exc:  # offline, refused, timed out, bad answer: try the next
                echo(f"demo: {name} not reachable ({exc.__class__.__name__}: {exc}); next")
                continue
            if stats.inserted:
                took = time.monotonic() - started
                return f"demo: loaded real papers from the {name} in {took:.1f}s: " + (
                    stats.summary_line()
                )
            echo(f"demo: {name} returned no papers; next")
    stats = load_generated(db, today or dt.datetime.now(dt.UTC).date())
    return "demo: generated papers loaded (labelled demo): " + stats.summary_line()


def load_generated(db: Database, today: dt.date) -> IngestStats:
    text = json.dumps(generate_listings(today))
    stats = ingest_records(db, iter_daily_papers_array(text, "<demo corpus>"))
    with db.write() as s:
        s.merge(SiteMeta(key=DEMO_KEY, value="generated"))
    return stats


def _from_daily_papers(db: Database, settings: Settings) -> IngestStats:
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=i) for i in range(REMOTE_DAYS)]
    items = fetch_daily_papers(settings, days, deadline=settings.demo_fetch_timeout)
    return ingest_records(db, items)


def _from_arxiv(db: Database, settings: Settings) -> IngestStats:
    items = fetch_arxiv_recent_as_daily(
        settings, ARXIV_CATEGORIES, deadline=settings.demo_fetch_timeout
    )
    return ingest_records(db, items)


def is_demo(db: Database) -> bool:
    with db.read() as s:
        return is_demo_site(s)
