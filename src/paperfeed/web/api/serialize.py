"""FeedItem → the Hugging Face-shaped JSON of the API (plain dicts, orjson bytes) and markdown.

Conventions (see schemas.py for the documented shapes):
- timestamps: naive UTC from the database → ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the
  ``huggingface_hub`` client parses only a trailing ``Z``, never ``+00:00``);
- ``_id`` / ``discussionId``: this site has no Mongo ids, so they are stable 24-hex digests
  of what they name (the same paper always gets the same ids);
- optional links and counts are present as ``null`` when unknown; ``submittedBy`` /
  ``submittedOnDailyBy``, ``organization`` and ``mediaUrls`` only when known; no ``thumbnail``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import orjson

from paperfeed.papers import FeedItem, PaperDetail


def iso_z(moment: dt.datetime | None) -> str | None:
    """Naive-UTC (or aware) datetime → ``2025-03-03T12:00:00.000Z``; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def object_id(*parts: str) -> str:
    """A stable 24-hex id (the length of Hugging Face's ids) for what ``parts`` name."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def user_ref(username: str) -> dict[str, Any]:
    return {
        "_id": object_id("user", username),
        "user": username,
        "fullname": username,
        "avatarUrl": "",
        "type": "user",
    }


def organization_ref(name: str) -> dict[str, Any]:
    return {"name": name, "fullname": name, "avatarUrl": ""}


def paper_object(item: FeedItem, *, with_comments: bool = False) -> dict[str, Any]:
    """The ``paper`` object: what ``/api/papers/{id}`` returns and a daily item nests."""
    paper: dict[str, Any] = {
        "id": item.arxiv_id,
        "authors": [
            {"_id": object_id("author", item.arxiv_id, str(n)), "name": name, "hidden": False}
            for n, name in enumerate(item.authors)
        ],
        "publishedAt": iso_z(item.published_at),
        "submittedOnDailyAt": iso_z(item.submitted_at),
        "title": item.title,
        "summary": item.abstract,
        "upvotes": item.upvotes,
        "discussionId": object_id("discussion", item.arxiv_id),
        "ai_summary": item.ai_summary,
        "ai_keywords": item.ai_keywords,
        "githubRepo": item.github_repo,
        "githubStars": item.github_stars,
        "projectPage": item.project_page,
    }
    if with_comments:
        paper["numComments"] = item.num_comments
    if item.submitted_by:
        paper["submittedOnDailyBy"] = user_ref(item.submitted_by)
    if item.organization:
        paper["organization"] = organization_ref(item.organization)
    if item.media_urls:
        paper["mediaUrls"] = item.media_urls
    return paper


def daily_item(item: FeedItem) -> dict[str, Any]:
    """One entry of ``/api/daily_papers``."""
    entry: dict[str, Any] = {
        "paper": paper_object(item),
        "publishedAt": iso_z(item.submitted_at or item.published_at),
        "title": item.title,
        "summary": item.abstract,
        "numComments": item.num_comments,
    }
    if item.submitted_by:
        entry["submittedBy"] = user_ref(item.submitted_by)
    if item.organization:
        entry["organization"] = organization_ref(item.organization)
    entry["isAuthorParticipating"] = False
    return entry


def daily_list_bytes(items: list[FeedItem]) -> bytes:
    return orjson.dumps([daily_item(i) for i in items])


def paper_list_bytes(items: list[FeedItem]) -> bytes:
    return orjson.dumps([paper_object(i, with_comments=True) for i in items])


def paper_bytes(detail: PaperDetail) -> bytes:
    return orjson.dumps(paper_object(detail.item, with_comments=True))


def paper_markdown(detail: PaperDetail, base_url: str) -> str:
    """The paper page as markdown (what ``HfApi.read_paper`` returns).

    Imported fields go through :func:`md_text`, so a renderer shows them literally; the links
    this page makes itself (paper page, arXiv, PDF, DOI) stay as written."""
    item = detail.item
    lines = [f"# {md_text(_one_line(item.title))}", ""]
    if item.authors:
        names = ", ".join(md_text(_one_line(a)) for a in item.authors)
        lines += [f"**Authors:** {names}", ""]
    lines += [_md_facts(detail), ""]
    lines += ["## Links", "", *_md_links(item, base_url)]
    lines += ["", "## Abstract", "", md_text(item.abstract.strip()) or "(no abstract)", ""]
    if item.ai_summary:
        lines += ["## AI summary", "", md_text(item.ai_summary.strip()), ""]
    if item.ai_keywords:
        keywords = ", ".join(md_text(_one_line(k)) for k in item.ai_keywords)
        lines += [f"**AI keywords:** {keywords}", ""]
    return "\n".join(lines)


def _md_facts(detail: PaperDetail) -> str:
    item = detail.item
    facts = []
    if item.published_at:
        facts.append(f"**Published:** {item.published_at:%Y-%m-%d}")
    if detail.featured_days:
        days = ", ".join(f"{d:%Y-%m-%d}" for d in detail.featured_days)
        facts.append(f"**Featured:** {days}")
    if item.submitted_by:
        facts.append(f"**Submitted by:** {md_text(item.submitted_by)}")
    facts.append(f"**Upvotes:** {item.upvotes}")
    facts.append(f"**Comments:** {item.num_comments}")
    if item.organization:
        facts.append(f"**Organization:** {md_text(_one_line(item.organization))}")
    return " · ".join(facts)


def _md_links(item: FeedItem, base_url: str) -> list[str]:
    links = [
        f"- Paper page: {base_url.rstrip('/')}/papers/{item.arxiv_id}",
        f"- arXiv: {item.arxiv_url}",
        f"- PDF: {item.pdf_url}",
    ]
    if item.github_repo:
        stars = f" ({item.github_stars} stars)" if item.github_stars is not None else ""
        links.append(f"- Code: {md_text(item.github_repo)}{stars}")
    if item.project_page:
        links.append(f"- Project page: {md_text(item.project_page)}")
    if item.doi:
        links.append(f"- DOI: https://doi.org/{md_text(item.doi)}")
    return links


# Characters that start markup anywhere in a line: emphasis, code, links and images, raw HTML
# and autolinks, entities, GFM tables and strikethrough, headings (and their closing #s).
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~#!])")
# Markup that only counts at the start of a line: list items, setext heading underlines.
_MD_LINE_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_MD_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings


def md_text(text: str) -> str:
    """Imported text as markdown that renders to exactly that text: markdown-active ASCII
    punctuation backslash-escaped (CommonMark allows it before any punctuation), each line's
    indent and trailing spaces dropped (no code block, no hard break); blank lines stay."""
    out = []
    for line in _MD_LINE_BREAK.split(text):
        line = _MD_INLINE.sub(r"\\\1", line.strip())
        out.append(_MD_LINE_START.sub(_escape_line_start, line))
    return "\n".join(out)


def _escape_line_start(match: re.Match[str]) -> str:
    token = match.group(1)
    return "\\" + token if not token[0].isdigit() else token + "\\"


def _one_line(text: str) -> str:
    return " ".join(text.split())
