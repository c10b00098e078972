"""The reader's private feed: ``/feeds/for-you/{token}.atom`` (Atom) and ``.xml`` (RSS 2.0).

The token in the path is the credential (``recommend.feed_tokens``: made and revoked on the
signals page, only its hash kept). An unknown, revoked or malformed token, or a banned
reader's, is a plain 404 that says nothing more. The answer lists the reader's
recommendations among the papers first published in the last :data:`FEED_DAYS` days (UTC),
best first, each summary led by the reason; showing them is not recorded as an impression
(a feed reader polls without a person looking).

Never kept in the page cache (the cache is shared by every visitor and keyed by path): each
request ranks afresh, so a dismissal or a revocation shows at once. ``Cache-Control:
private, no-store`` keeps shared proxies from keeping it; ``X-Robots-Tag: noindex`` keeps a
leaked URL out of search engines. The documents are written by ``web/feeds.py``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from paperfeed.config import Settings
from paperfeed.recommend.service import recommend
from paperfeed.recommend.signals import user_for_feed_token
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from paperfeed.web.deps import DatabaseDep, SettingsDep, slow
from paperfeed.web.feeds import ATOM_TYPE, GET_HEAD, RSS_TYPE, FeedDoc, render_atom, render_rss

FEED_DAYS = 7
FEED_LIMIT = 50
HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
router = APIRouter(prefix="/feeds/for-you", include_in_schema=False)


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] + "."


def private_doc(db: Database, settings: Settings, token: str) -> FeedDoc | None:
    """The feed behind ``token``, or None when the token opens nothing."""
    user_id = user_for_feed_token(db, token)
    if user_id is None:
        return None
    end = utcnow().date()
    start = end - dt.timedelta(days=FEED_DAYS - 1)
    found = recommend(
        db, settings, user_id, start=start, end=end, limit=FEED_LIMIT, record=False
    ).items
    return FeedDoc(
        f"{settings.site_name}: for you",
        f"Papers of the last {FEED_DAYS} days picked for you, best first.",
        "/for-you",
        f"/feeds/for-you/{token}",
        [r.item for r in found],
        notes={r.item.arxiv_id: _sentence(r.reason) for r in found},
    )


@router.api_route("/{token}.xml", methods=GET_HEAD)
@router.api_route("/{token}.atom", methods=GET_HEAD)
async def private_feed(
    request: Request, settings: SettingsDep, db: DatabaseDep, token: str
) -> Response:
    # In the thread pool: a reader without a model is trained on first read (a write).
    doc = await slow(private_doc, db, settings, token)
    if doc is None:
        raise HTTPException(404, "Not found.")
    if request.url.path.endswith(".xml"):
        return Response(render_rss(doc, settings), media_type=RSS_TYPE, headers=HEADERS)
    return Response(render_atom(doc, settings), media_type=ATOM_TYPE, headers=HEADERS)
