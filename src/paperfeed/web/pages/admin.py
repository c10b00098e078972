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
EXCERPT_CHARS = 200  # of a comment in the list
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


Column = tuple[str, Callable[[Any], Cell]]  # a heading, and the cell it makes of a row


def _table(total: int, summary: str, columns: Sequence[Column], rows: Sequence[Any]) -> Table:
    return Table(
        total, summary, [name for name, _ in columns], [[f(r) for _, f in columns] for r in rows]
    )


def _plain(text: str) -> Cell:
    return text, None


USER_COLUMNS: list[Column] = [
    ("user", lambda r: (r.account.username, f"/u/{r.account.username}")),
    ("email", lambda r: _plain(r.account.email + ("" if r.verified else " (unverified)"))),
    ("role", lambda r: _plain("admin" if r.account.is_admin else "user")),
    ("status", lambda r: _plain("banned" if r.account.is_banned else "active")),
    ("joined", lambda r: _plain(when(r.created_at))),
]
COMMENT_COLUMNS: list[Column] = [
    ("when", lambda r: _plain(when(r[0].created_at))),
    ("by", lambda r: (r[0].author, f"/u/{r[0].author}")),
    ("paper", lambda r: (r[1], f"/papers/{r[1]}#comment-{r[0].id}")),
    ("text", lambda r: _plain(("[hidden] " if r[0].hidden else "") + excerpt(r[0].body))),
]
CLAIM_COLUMNS: list[Column] = [
    ("when", lambda c: _plain(when(c.created_at))),
    ("by", lambda c: (c.username, f"/u/{c.username}")),
    ("as author", lambda c: _plain(c.author_name)),
    ("paper", lambda c: (c.title or c.arxiv_id, f"/papers/{c.arxiv_id}")),
    ("status", lambda c: _plain(c.status)),
]
SUBSCRIBER_COLUMNS: list[Column] = [
    ("email", lambda s: _plain(s.email)),
    ("status", lambda s: _plain(s.status)),
    ("period", lambda s: _plain(s.prefs.period)),
    ("consent", lambda s: _plain(f"{when(s.consent_at)} {s.consent_source or ''}".strip())),
]
RUN_COLUMNS: list[Column] = [
    ("run", lambda r: _plain(str(r.id))),
    ("period", lambda r: _plain(f"{r.kind} {r.period_key}")),
    ("status", lambda r: _plain(r.status + (f" ({r.paused_reason})" if r.paused_reason else ""))),
    ("deliveries", lambda r: _plain(by_state(r.counts))),
]
OUTBOX_COLUMNS: list[Column] = [
    ("date", lambda e: _plain(e.when)),
    ("to", lambda e: _plain(e.to)),
    ("subject", lambda e: (e.subject or "(no subject)", f"/admin/outbox/{e.name}")),
]


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def by_state(counts: dict[str, int]) -> str:
    """``3 confirmed, 1 pending``."""
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _users(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = users.accounts_page(db, limit=PAGE_SIZE, offset=offset)
    return _table(total, counted(total, "account"), USER_COLUMNS, rows)


def _comments(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = comments.recent(db, limit=PAGE_SIZE, offset=offset)
    return _table(total, counted(total, "comment"), COMMENT_COLUMNS, rows)


def _claims(db: Database, settings: Settings, offset: int) -> Table:
    total, pending = claims.count(db), claims.count(db, status="pending")
    summary = f"{counted(total, 'claim')}, {pending} pending (decided on /admin)"
    rows = claims.claims(db, limit=PAGE_SIZE, offset=offset)
    return _table(total, summary, CLAIM_COLUMNS, rows)


def _subscribers(db: Database, settings: Settings, offset: int) -> Table:
    counts, rows = subs.page(db, limit=PAGE_SIZE, offset=offset)
    total = sum(counts.values())
    summary = counted(total, "address", "addresses") + (f": {by_state(counts)}" if counts else "")
    return _table(total, summary, SUBSCRIBER_COLUMNS, rows)


def _digests(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = deliver.runs_page(db, limit=PAGE_SIZE, offset=offset)
    return _table(total, counted(total, "run"), RUN_COLUMNS, rows)


def _outbox(db: Database, settings: Settings, offset: int) -> Table:
    total, rows = Outbox.of(settings).page(offset, PAGE_SIZE)
    relay = " A relay is configured: new mail goes to it." if settings.smtp_host else ""
    kept = f"at most {settings.outbox_max_messages} kept"
    summary = f"{counted(total, 'message')}, newest first ({kept}).{relay}"
    return _table(total, summary, OUTBOX_COLUMNS, rows)


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
