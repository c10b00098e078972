"""The admin's lists, each paginated (``?page=N``, 50 a page, newest first) with its count:

``GET /admin/users``        accounts: role, status, verified address
``GET /admin/comments``     recent comments, hidden ones too
``GET /admin/claims``       authorship claims of every status (pending ones are decided on /admin)
``GET /admin/subscribers``  digest subscribers, with how many there are per status
``GET /admin/digests``      digest runs with their deliveries per state
``GET /admin/outbox``       the mail a site with no SMTP relay wrote to disk (``mail.outbox``)
``GET /admin/outbox/{name}`` one message as text: its links clickable, its HTML part shown as
                            source text, never rendered as the site's HTML

The queries are the services' (``community``, ``digest``, ``mail.outbox``); this module only
turns their rows into the cells of one table template. Every route is ``ADMIN`` in
``web/access.py``: an admin's browser session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from paperfeed.community import claims, comments, users
from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.mail.outbox import Outbox, segments
from paperfeed.params import is_whole_number
from paperfeed.store.db import Database
from paperfeed.web.deps import AdminDep, DatabaseDep, SettingsDep
from paperfeed.web.pages.account import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGE = 100_000
BAD_PAGE = f"The page is a whole number from 1 to {MAX_PAGE}."

Cell = tuple[str, str | None]  # text, and the link it is (None: plain text)


@dataclass(frozen=True, slots=True)
class Table:
    total: int
    summary: str
    columns: Sequence[str]
    rows: list[list[Cell]]


def page_number(request: Request) -> int | None:
    """``?page=N`` in the shared grammar (ASCII digits, 1 to MAX_PAGE), else None."""
    raw = request.query_params.get("page", "1")
    return int(raw) if is_whole_number(raw, 1, MAX_PAGE) else None


def counted(n: int, noun: str, plural: str = "") -> str:
    """``1 account``, ``2 accounts``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def nav(db: Database, settings: Settings) -> list[tuple[str, str, str]]:
    """The admin's sections with their counts: (label, path, count)."""
    sub_counts, _ = subs.page(db, limit=0)
    confirmed = sub_counts.get(subs.ELIGIBLE, 0)
    return [
        ("Users", "/admin/users", str(users.accounts_page(db, limit=0)[0])),
        ("Comments", "/admin/comments", str(comments.recent(db, limit=0)[0])),
        ("Claims", "/admin/claims", f"{claims.count(db, status='pending')} pending"),
        ("Subscribers", "/admin/subscribers", f"{confirmed} confirmed"),
        ("Digest runs", "/admin/digests", str(deliver.runs_page(db, limit=0)[0])),
        ("Outbox", "/admin/outbox", str(Outbox.of(settings).page(0, 0)[0])),
    ]


def _users(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = users.accounts_page(db, limit=PAGE_SIZE, offset=offset)
    return Table(
        total,
        counted(total, "account"),
        ("user", "email", "role", "status", "joined"),
        [
            [
                (r.account.username, f"/u/{r.account.username}"),
                (r.account.email + ("" if r.verified else " (unverified)"), None),
                ("admin" if r.account.is_admin else "user", None),
                ("banned" if r.account.is_banned else "active", None),
                (when(r.created_at), None),
            ]
            for r in rows
        ],
    )


def _comments(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = comments.recent(db, limit=PAGE_SIZE, offset=offset)
    return Table(
        total,
        counted(total, "comment"),
        ("when", "by", "paper", "text"),
        [
            [
                (when(c.created_at), None),
                (c.author, f"/u/{c.author}"),
                (c.arxiv_id, f"/papers/{c.arxiv_id}#comment-{c.id}"),
                (("[hidden] " if c.hidden else "") + c.excerpt, None),
            ]
            for c in rows
        ],
    )


def _claims(db: Database, settings: Settings, offset: int) -> Table:
    total = claims.count(db)
    pending = claims.count(db, status="pending")
    rows = claims.claims(db, limit=PAGE_SIZE, offset=offset)
    return Table(
        total,
        f"{counted(total, 'claim')}, {pending} pending (decided on /admin)",
        ("when", "by", "as author", "paper", "status"),
        [
            [
                (when(c.created_at), None),
                (c.username, f"/u/{c.username}"),
                (c.author_name, None),
                (c.title or c.arxiv_id, f"/papers/{c.arxiv_id}"),
                (c.status, None),
            ]
            for c in rows
        ],
    )


def _subscribers(db: Database, settings: Settings, offset: int) -> Table:
    counts, rows = subs.page(db, limit=PAGE_SIZE, offset=offset)
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return Table(
        sum(counts.values()),
        counted(sum(counts.values()), "address", "addresses")
        + (f": {by_status}" if by_status else ""),
        ("email", "status", "period", "consent"),
        [
            [
                (s.email, None),
                (s.status, None),
                (s.prefs.period, None),
                (f"{when(s.consent_at)} {s.consent_source or ''}".strip(), None),
            ]
            for s in rows
        ],
    )


def _digests(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = deliver.runs_page(db, limit=PAGE_SIZE, offset=offset)
    return Table(
        total,
        counted(total, "run"),
        ("run", "period", "status", "deliveries"),
        [
            [
                (str(r.id), None),
                (f"{r.kind} {r.period_key}", None),
                (r.status + (f" ({r.paused_reason})" if r.paused_reason else ""), None),
                (", ".join(f"{n} {state}" for state, n in sorted(r.counts.items())), None),
            ]
            for r in rows
        ],
    )


def _outbox(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = Outbox.of(settings).page(offset, PAGE_SIZE)
    relay = "A relay is configured: new mail goes to it." if settings.smtp_host else ""
    return Table(
        total,
        f"{counted(total, 'message')}, newest first (at most {settings.outbox_max_messages} "
        f"kept). {relay}",
        ("date", "to", "subject"),
        [
            [
                (e.when, None),
                (e.to, None),
                (e.subject or "(no subject)", f"/admin/outbox/{e.name}"),
            ]
            for e in rows
        ],
    )


Lister = Callable[[Database, Settings, int], Table]
SECTIONS: dict[str, tuple[str, Lister]] = {
    "users": ("Users", _users),
    "comments": ("Recent comments", _comments),
    "claims": ("Authorship claims", _claims),
    "subscribers": ("Digest subscribers", _subscribers),
    "digests": ("Digest runs", _digests),
    "outbox": ("Outbox", _outbox),
}


def _list_page(request: Request, db: Database, settings: Settings, section: str) -> Response:
    title, lister = SECTIONS[section]
    number = page_number(request)
    common: dict[str, Any] = {"heading": title, "section": section, "admin_nav": nav(db, settings)}
    if number is None:
        return page(request, "admin_list.html", 400, error=BAD_PAGE, table=None, **common)
    table = lister(db, settings, (number - 1) * PAGE_SIZE)
    pages = max(1, -(-table.total // PAGE_SIZE))
    return page(
        request,
        "admin_list.html",
        error=None,
        table=table,
        page_number=number,
        pages=pages,
        **common,
    )


def _list_route(section: str) -> Callable[..., Response]:
    def route(
        request: Request, db: DatabaseDep, settings: SettingsDep, admin: AdminDep
    ) -> Response:
        return _list_page(request, db, settings, section)

    route.__name__ = f"admin_{section}_list"
    return route


for _section in SECTIONS:
    router.add_api_route(f"/admin/{_section}", _list_route(_section), methods=["GET"])


@router.get("/admin/outbox/{name}")
def admin_outbox_message(
    request: Request, db: DatabaseDep, settings: SettingsDep, admin: AdminDep, name: str
) -> Response:
    shown = Outbox.of(settings).read(name)
    if shown is None:
        raise HTTPException(404, "No such message in the outbox.")
    return page(
        request,
        "admin_outbox_message.html",
        error=None,
        message=shown,
        text=segments(shown.text),
        admin_nav=nav(db, settings),
        section="outbox",
    )
