"""The reader's signals page: what the personal feed learns from, and its settings.

Routes (all need a browser session; every form carries the CSRF token)
    ``GET /for-you/signals``                    the signals, newest first, and the settings
    ``POST /for-you/signals/paper``             one paper: ``action`` is ``remove-seed``,
                                                ``undismiss``, ``ignore`` or ``unignore``
    ``POST /for-you/signals/pause``             ``paused=1`` pauses learning, else resumes
    ``POST /for-you/signals/follows``           followed categories and authors (replaced)
    ``POST /for-you/signals/digest``            ``on=1``: the digest's "For you" section
    ``POST /for-you/signals/forget``            "Delete all my signals": without
                                                ``confirm=yes`` it answers the confirmation
    ``POST /for-you/signals/feed``              ``action`` ``create`` (the secret URL is shown
                                                once, on the answer) or ``revoke``

A change redirects back (303) with ``?done=CODE``, which the page turns into a fixed short
message (no text from the query is echoed). A refusal (``recommend.RecommendError``) renders
the page with the message and the input kept (400; 404 for a paper not on this site).
Each kind lists :data:`SHOWN` papers unless ``?all=KIND`` asks for every listed one
(``signals_of`` lists the newest 500 of each kind and counts them all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from paperfeed.recommend import PaperNotFound, RecommendError, signals
from paperfeed.store.db import Database
from paperfeed.web.deps import Member, MemberDep
from paperfeed.web.pages.account import page, redirect

router = APIRouter(include_in_schema=False)
PAGE = "/for-you/signals"
SHOWN = 50  # papers of each kind before "show all"
KINDS = ("seeded", "upvoted", "saved", "claimed", "dismissed", "ignored")
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=200)]

DONE = {
    "remove-seed": "Seed removed.",
    "undismiss": "Dismissal undone: the paper may be recommended again.",
    "ignore": "Not learned from any more.",
    "unignore": "Learned from again.",
    "paused": "Learning paused: your feed keeps its last model.",
    "resumed": "Learning resumed.",
    "follows": "Followed categories and authors saved.",
    "digest-on": "Your digest has a For-you section.",
    "digest-off": "Your digest has no For-you section any more.",
    "forgot": "All your signals are deleted.",
    "revoked": "Your private feed URL is revoked.",
}


def _ignore(db: Database, user_id: int, arxiv_id: str) -> None:
    signals.ignore(db, user_id, arxiv_id, True)


def _unignore(db: Database, user_id: int, arxiv_id: str) -> None:
    signals.ignore(db, user_id, arxiv_id, False)


PAPER_ACTIONS: dict[str, Callable[[Database, int, str], None]] = {
    "remove-seed": signals.remove_seed,
    "undismiss": signals.undismiss,
    "ignore": _ignore,
    "unignore": _unignore,
}


def _done(code: str) -> Response:
    return redirect(f"{PAGE}?done={code}")


def _signals_page(me: Member, status: int = 200, **context: Any) -> Response:
    """The page; ``context`` may hold ``error``, ``notice``, ``feed_urls`` (just made),
    ``confirm_forget`` and the follows form's input (``categories``, ``authors``)."""
    view = signals.signals_of(me.db, me.account.id)
    show_all = me.request.query_params.get("all", "")
    shown = {k: getattr(view, k) if k == show_all else getattr(view, k)[:SHOWN] for k in KINDS}
    context.setdefault("error", None)
    context.setdefault("notice", DONE.get(me.request.query_params.get("done", "")))
    context.setdefault("categories", ", ".join(view.prefs.categories))
    context.setdefault("authors", "\n".join(view.prefs.authors))
    return page(
        me.request,
        "for_you_signals.html",
        status,
        view=view,
        shown=shown,
        ignored_ids={p.arxiv_id for p in view.ignored},
        listed=signals.LISTED,
        **context,
    )


@router.get(PAGE)
def signals_page(me: MemberDep) -> Response:
    return _signals_page(me)


@router.post(f"{PAGE}/paper")
def paper_signal(me: MemberDep, arxiv_id: Short = "", action: Short = "") -> Response:
    act = PAPER_ACTIONS.get(action)
    if act is None:
        return _signals_page(me, 400, error="Choose what to do with the paper.")
    try:
        act(me.db, me.account.id, arxiv_id)
    except RecommendError as exc:
        return _signals_page(me, 404 if isinstance(exc, PaperNotFound) else 400, error=str(exc))
    return _done(action)


@router.post(f"{PAGE}/pause")
def pause(me: MemberDep, paused: Short = "") -> Response:
    signals.set_paused(me.db, me.account.id, paused == "1")
    return _done("paused" if paused == "1" else "resumed")


@router.post(f"{PAGE}/follows")
def follows(me: MemberDep, categories: Text = "", authors: Text = "") -> Response:
    try:
        signals.set_follows(me.db, me.account.id, *signals.follows_from_text(categories, authors))
    except RecommendError as exc:
        return _signals_page(me, 400, error=str(exc), categories=categories, authors=authors)
    return _done("follows")


@router.post(f"{PAGE}/digest")
def digest(me: MemberDep, on: Short = "") -> Response:
    signals.set_digest_for_you(me.db, me.account.id, on == "1")
    return _done("digest-on" if on == "1" else "digest-off")


@router.post(f"{PAGE}/forget")
def forget(me: MemberDep, confirm: Short = "") -> Response:
    if confirm != "yes":
        return _signals_page(me, confirm_forget=True)
    signals.forget_all(me.db, me.account.id)
    return _done("forgot")


@router.post(f"{PAGE}/feed")
def feed_token(me: MemberDep, action: Short = "") -> Response:
    if action == "revoke":
        signals.revoke_feed_token(me.db, me.account.id)
        return _done("revoked")
    if action != "create":
        return _signals_page(me, 400, error="Choose to create or to revoke the feed URL.")
    token = signals.new_feed_token(me.db, me.account.id)
    base = me.settings.base_url.rstrip("/")
    urls = {fmt: f"{base}/feeds/for-you/{token}.{fmt}" for fmt in ("atom", "xml")}
    return _signals_page(me, feed_urls=urls)
