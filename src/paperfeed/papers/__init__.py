"""The read model: what the site shows of its papers, for the pages, the JSON API, the feeds,
search and the digests. It sits just above the store and imports only ``config``, ``text``,
``params`` and ``store``.

- ``ids.py``: the arXiv id grammar, the id shape of URL paths, version stripping;
- ``ranking.py``: the daily order and the trending score (pure functions);
- ``items.py``: :class:`FeedItem` / :class:`PaperDetail` and the columns they are read from;
- ``days.py``: one day, a period, the latest days, the newest entries;
- ``trending.py``: papers by trending score;
- ``lookup.py``: papers by arXiv id or row id, a user's submissions, the simple keyword match;
- ``site.py``: facts about the whole site (demo data);
- ``categories.py``: papers whose arXiv categories are not known yet.

The functions and types callers use are re-exported here (``papers.day_items(session, day)``).
"""

from paperfeed.papers.categories import categories_unknown, count_unknown_categories
from paperfeed.papers.days import (
    adjacent_days,
    day_items,
    iso_week,
    latest_day,
    latest_days,
    newest_first,
    period_items,
    recent_items,
)
from paperfeed.papers.items import FeedItem, PaperDetail, item_columns, item_from_row
from paperfeed.papers.lookup import (
    count_papers,
    get_paper,
    items_by_paper_ids,
    items_of,
    search_items,
    submitted_ids,
)
from paperfeed.papers.site import is_demo_site
from paperfeed.papers.trending import period_trending_items, trending_items

__all__ = [
    "FeedItem",
    "PaperDetail",
    "adjacent_days",
    "categories_unknown",
    "count_papers",
    "count_unknown_categories",
    "day_items",
    "get_paper",
    "is_demo_site",
    "iso_week",
    "item_columns",
    "item_from_row",
    "items_by_paper_ids",
    "items_of",
    "latest_day",
    "latest_days",
    "newest_first",
    "period_items",
    "period_trending_items",
    "recent_items",
    "search_items",
    "submitted_ids",
    "trending_items",
]
