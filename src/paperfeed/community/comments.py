"""Comments: markdown rendered with markdown-it-py, then sanitised with nh3 (an allowlist).

What survives: paragraphs, emphasis, code, quotes, lists, headings h3-h6 (h1/h2 demoted), links
(http, https, mailto only; every link gets ``rel="nofollow ugc noopener"``), line breaks and
rules. No raw HTML is passed through markdown-it (``html: False``), and nh3 removes any element
or attribute outside the allowlist (so no ``<script>``, no ``on*`` handlers, no ``style``, no
``javascript:`` / ``data:`` URLs). The HTML is stored when written and shown as is.

One level of replies: a reply to a reply attaches to the top-level comment.
``papers.user_comments`` counts visible (not hidden) comments and replies; it changes in the
same transaction as the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from paperfeed.community import (
    CommunityError,
    Forbidden,
    NotFound,
    clean_text,
    found,
    page_of,
)
from paperfeed.community.users import Account
from paperfeed.store.db import Database
from paperfeed.store.models import Comment, Paper, User, utcnow

MAX_BODY = 10_000
TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
}  # fmt: skip
ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image"])
    return md


def sanitize(html: str) -> str:
    """The allowlisted part of ``html``. Idempotent: ``sanitize(sanitize(x)) == sanitize(x)``."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    html = _markdown().render(text)
    # Headings h1/h2 belong to the page; comments start at h3.
    for level in (1, 2):
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    return sanitize(html)


@dataclass(slots=True)
class CommentView:
    id: int
    author: str
    body: str
    html: str
    hidden: bool
    created_at: dt.datetime
    edited_at: dt.datetime | None
    parent_id: int | None
    replies: list[CommentView] = field(default_factory=list)


def _clean_body(body: str) -> str:
    body = clean_text(body).strip()
    if not body:
        raise CommunityError("The comment is empty.")
    if len(body) > MAX_BODY:
        raise CommunityError(f"Comments have at most {MAX_BODY} characters.")
    return body


def paper_id_of(session: Session, arxiv_id: str) -> int:
    found = session.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
    if found is None:
        raise NotFound(f"No paper {arxiv_id[:40]} on this site.")
    return found


def add_comment(
    db: Database, account: Account, arxiv_id: str, body: str, parent_id: int | None = None
) -> CommentView:
    body = _clean_body(body)
    html = render_markdown(body)
    with db.write() as session:
        paper_id = paper_id_of(session, arxiv_id)
        if parent_id is not None:
            parent = session.get(Comment, parent_id)
            if parent is None or parent.paper_id != paper_id or parent.hidden:
                raise NotFound("The comment you reply to is not there any more.")
            parent_id = parent.parent_id or parent.id
        row = Comment(
            paper_id=paper_id, user_id=account.id, parent_id=parent_id, body=body, body_html=html
        )
        session.add(row)
        session.execute(
            update(Paper).where(Paper.id == paper_id).values(user_comments=Paper.user_comments + 1)
        )
        session.flush()
        return CommentView(
            row.id, account.username, body, html, False, row.created_at, None, parent_id
        )


def _own(session: Session, account: Account, comment_id: int) -> Comment:
    row = session.get(Comment, comment_id)
    if row is None or (row.hidden and not account.is_admin):
        raise NotFound("No such comment.")
    if row.user_id != account.id:
        raise Forbidden("Only its author can change this comment.")
    return row


def edit_comment(db: Database, account: Account, comment_id: int, body: str) -> CommentView:
    body = _clean_body(body)
    html = render_markdown(body)
    with db.write() as session:
        row = _own(session, account, comment_id)
        row.body, row.body_html, row.edited_at = body, html, utcnow()
        return CommentView(
            row.id, account.username, body, html, row.hidden, row.created_at, row.edited_at,
            row.parent_id,
        )  # fmt: skip


def delete_comment(db: Database, account: Account, comment_id: int) -> None:
    """The author deletes their comment (with the replies under it); admins may delete any."""
    with db.write() as session:
        row = found(session.get(Comment, comment_id), "No such comment.")
        if row.user_id != account.id and not account.is_admin:
            raise Forbidden("Only its author can delete this comment.")
        delete_comment_rows(session, [comment_id])


def delete_comment_rows(session: Session, comment_ids: list[int]) -> None:
    """Delete comments and their replies, lowering each paper's visible-comment count."""
    if not comment_ids:
        return
    doomed = select(Comment.id).where(
        Comment.id.in_(comment_ids) | Comment.parent_id.in_(comment_ids)
    )
    counts = session.execute(
        select(Comment.paper_id, func.count())
        .where(Comment.id.in_(doomed), Comment.hidden.is_(False))
        .group_by(Comment.paper_id)
    ).all()
    for paper_id, n in counts:
        session.execute(
            update(Paper).where(Paper.id == paper_id).values(user_comments=Paper.user_comments - n)
        )
    ids = list(session.scalars(doomed))
    session.execute(delete(Comment).where(Comment.parent_id.in_(ids)))
    session.execute(delete(Comment).where(Comment.id.in_(ids)))


def set_hidden(db: Database, admin: Account, comment_id: int, hidden: bool) -> None:
    if not admin.is_admin:
        raise Forbidden("Only admins hide comments.")
    with db.write() as session:
        row = found(session.get(Comment, comment_id), "No such comment.")
        if row.hidden == hidden:
            return
        row.hidden = hidden
        step = -1 if hidden else 1
        session.execute(
            update(Paper)
            .where(Paper.id == row.paper_id)
            .values(user_comments=Paper.user_comments + step)
        )


def get_comment(db: Database, comment_id: int) -> tuple[CommentView, str] | None:
    """A comment and the arXiv id of its paper."""
    with db.read() as session:
        row = session.execute(
            select(Comment, User.username, Paper.arxiv_id)
            .join(User, User.id == Comment.user_id)
            .join(Paper, Paper.id == Comment.paper_id)
            .where(Comment.id == comment_id)
        ).first()
    if row is None:
        return None
    c, username, arxiv_id = row
    return _view(c, username), arxiv_id


def _view(c: Comment, username: str) -> CommentView:
    return CommentView(
        c.id, username, c.body, c.body_html, c.hidden, c.created_at, c.edited_at, c.parent_id
    )


def thread(session: Session, arxiv_id: str, *, include_hidden: bool = False) -> list[CommentView]:
    """Top-level comments oldest first, each with its replies oldest first. Hidden comments
    are returned (flagged) only when ``include_hidden``; a hidden top-level comment with
    visible replies stays as a placeholder."""
    rows = session.execute(
        select(Comment, User.username)
        .join(User, User.id == Comment.user_id)
        .join(Paper, Paper.id == Comment.paper_id)
        .where(Paper.arxiv_id == arxiv_id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    tops: dict[int, CommentView] = {}
    replies: list[CommentView] = []
    for c, username in rows:
        hidden_text = c.hidden and not include_hidden
        view = CommentView(
            c.id,
            "" if hidden_text else username,
            "" if hidden_text else c.body,
            "" if hidden_text else c.body_html,
            c.hidden,
            c.created_at,
            c.edited_at,
            c.parent_id,
        )
        if c.parent_id is None:
            tops[c.id] = view
        elif not hidden_text:
            replies.append(view)
    for reply in replies:
        parent = tops.get(reply.parent_id or 0)
        if parent is not None:
            parent.replies.append(reply)
    return [t for t in tops.values() if not (t.hidden and not include_hidden and not t.replies)]


def recent(
    db: Database, *, limit: int, offset: int = 0
) -> tuple[int, list[tuple[CommentView, str]]]:
    """(how many comments there are, hidden ones too; ``limit`` of them newest first, each
    with the arXiv id of its paper)."""
    stmt = (
        select(Comment, User.username, Paper.arxiv_id)
        .join(User, User.id == Comment.user_id)
        .join(Paper, Paper.id == Comment.paper_id)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )
    with db.read() as session:
        total, rows = page_of(session, stmt, limit, offset)
    return total, [(_view(c, username), arxiv_id) for c, username, arxiv_id in rows]
