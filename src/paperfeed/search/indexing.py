"""This node's derived search indexes, kept up with the database: are they behind, and
catching them up. ``paperfeed index``, ``paperfeed ingest`` and the worker call these.

Both indexes are derived from the database: the keyword index (always) and the semantic one
(when ``paperfeed.search.vectors`` is installed and its embedder is available). An update
catches them up by the ``papers.modified_at`` watermark. Semantic updates take a lock shared
by every process and host of the database; a second update waits for the first, or with
``wait=False`` skips the semantic index and says so.
"""

from __future__ import annotations

import time
from typing import Any

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.keyword_sync import IndexBusy
from paperfeed.store.db import Database

Report = dict[str, dict[str, Any]]


def semantic_index(settings: Settings) -> Any:
    """The semantic engineer's vector search, or None (module absent or embedder off)."""
    return hybrid.vector_search(settings)


def indexes_behind(database: Database, settings: Settings) -> bool:
    """True when either index lacks papers the database has: the keyword index's watermark
    is older than the newest paper or it holds another number of documents, or papers wait
    to be embedded (an interrupted ingest, a restored database)."""
    if get_keyword_index(settings).is_behind(database):
        return True
    vectors = semantic_index(settings)
    if vectors is None:
        return False
    return bool(vectors.pending(database))


def update_indexes(
    database: Database,
    settings: Settings,
    *,
    keyword_only: bool = False,
    wait: bool = True,
    progress: bool = False,
) -> Report:
    """Catch both indexes up with the database; what each did (``skipped`` or ``failed``
    with a reason, else its counts), with the seconds it took. ``wait=False``: skip the
    semantic index when another process is updating it."""
    out: Report = {}
    started = time.perf_counter()
    try:
        out["keyword"] = dict(get_keyword_index(settings).update(database))
    except IndexBusy as exc:
        out["keyword"] = {"skipped": str(exc)}
    out["keyword"]["seconds"] = round(time.perf_counter() - started, 2)
    if not keyword_only:
        vectors = semantic_index(settings)
        if vectors is None:
            out["semantic"] = {"skipped": "embedder unavailable"}
        else:
            out["semantic"] = _update_semantic(vectors, database, wait=wait, progress=progress)
    return out


def _update_semantic(
    vectors: Any, database: Database, *, wait: bool, progress: bool
) -> dict[str, Any]:
    # lazy: the vector module (numpy, the ANN library) loads only where one is in use
    from paperfeed.search.vector_updates import UpdateBusy

    started = time.perf_counter()
    options = {} if wait else {"wait": False}
    try:
        done: dict[str, Any] = dict(vectors.update(database, progress=progress, **options))
    except UpdateBusy as exc:
        done = {"skipped": str(exc)}
    except Exception as exc:  # keyword search goes on; the next update retries
        done = {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}
    done["seconds"] = round(time.perf_counter() - started, 2)
    return done


def catch_up(
    database: Database, settings: Settings, *, changed: bool, progress: bool = False
) -> Report | None:
    """After an ingest: bring the indexes up to what was just committed (``changed``), or to
    what an interrupted ingest committed before (this one then changed nothing). None when
    they were up to date."""
    if changed or indexes_behind(database, settings):
        return update_indexes(database, settings, progress=progress)
    return None
