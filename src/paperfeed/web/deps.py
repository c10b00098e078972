"""What a route needs, as FastAPI dependencies (in the style of the FastAPI full-stack
template's ``api/deps.py``): a route names them as parameters, ``settings: SettingsDep``,
``db: DatabaseDep``, ``account: UserDep``, ``votes: VotesDep``, and stays thin. What a route
needs together comes as one: ``ctx: ContextDep`` (the request, settings and database),
``me: MemberDep`` (the same with the logged-in user; ``AdminMemberDep``: an admin) and
``throttle: ThrottleDep`` (the rate limiter with the client's address).

Services
    ``create_app`` puts the per-app services in ``app.state`` (settings, the database, the
    response cache, the vote writer, the submission fetcher); the rate limiter and the mail
    queue are made here on first use (under a lock: sync routes run in the thread pool,
    several at once). This module is the one that reads ``app.state``: routes take the
    ``...Dep`` parameters, and helpers that only hold the request (rendering, error pages)
    use the accessors ``settings_of``, ``database_of`` and ``cache_of``. The pure-ASGI fast
    paths (``cached_pages.py``, ``api/bearer_votes.py``) are handed theirs by ``create_app``.

Who is asking
    ``Authorization: Bearer pf_…`` → that token's user (cookies are then ignored; a revoked
    or unknown token is a 401 on any route). Otherwise the session cookie → its user.
    Otherwise anonymous. Resolved once per request and kept on ``request.state``; a request
    with neither a token nor a session cookie never touches the database. What each kind of
    caller may do is decided in one place, the table of ``web/access.py``.

Where work runs: THE rule (its one input is ``db.ops.features.in_process``)
    1. No database work, or a cache hit: on the event loop.
    2. A short read (the caller's lookup, a page or list rendered around a few indexed
       queries): on the loop when the database runs in this process (SQLite: no round trip,
       and a thread trading the GIL with a busy loop delayed the other requests more,
       benchmarks/RESULTS.md), in the thread pool otherwise (PostgreSQL: a round trip never
       stalls the worker). :func:`short_read` and :func:`cached` apply it, and so does the
       caller's dependency: call sites do not choose.
    3. Work that may wait longer (writes, which may wait for SQLite's lock; password hashing;
       search with its embedder; mail; arXiv): in the thread pool, always. Such a route is a
       plain ``def`` (FastAPI runs it in its thread pool), or awaits :func:`slow`. Votes are
       written by the ``VoteWriter``'s own thread.
    The dependencies here are ``async def`` because they only hand out a service or apply
    rule 2 themselves: a plain ``def`` dependency costs a trip to the thread pool on every
    request.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any, ParamSpec, TypeVar, cast

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from paperfeed.community import sessions, tokens
from paperfeed.community.ratelimit import RateLimiter
from paperfeed.community.submissions import SubmissionFetcher
from paperfeed.community.users import Account
from paperfeed.community.votes import VoteWriter
from paperfeed.config import Settings
from paperfeed.mail import Mailer, MailQueue
from paperfeed.store.db import Database
from paperfeed.web.auth import LoginRequired, bearer, csrf_token_for, session_cookie
from paperfeed.web.cache import PageCache, TTLCache

P = ParamSpec("P")
T = TypeVar("T")
Caller = tuple[Account | None, str]  # the account, and "session", "read", "write" or "anonymous"
ANONYMOUS: Caller = (None, "anonymous")
_lock = threading.Lock()


# --- where work runs (the rule above) ------------------------------------------------------


def reads_on_loop(db: Database) -> bool:
    """Rule 2: whether a short read of ``db`` runs on the event loop."""
    return db.ops.features.in_process


async def short_read(db: Database, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, a short read of ``db``, where rule 2 puts it."""
    if reads_on_loop(db):
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


async def slow(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in the thread pool (rule 3), from an async route."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def cached(
    cache: TTLCache[T], db: Database, key: Hashable, compute: Callable[[], T], *, long: bool = False
) -> T:
    """The value of ``key`` in ``cache``, else ``compute()``: a short read of ``db`` where rule
    2 puts it, or ``long`` work (rule 3) in the thread pool (``TTLCache.compute``)."""
    return await cache.compute(key, compute, in_thread=long or not reads_on_loop(db))


# --- the app's services ----------------------------------------------------------------------


def settings_of(request: HTTPConnection) -> Settings:
    """This app's settings (read per request: a test may swap them on a running app)."""
    return cast(Settings, request.app.state.settings)


def database_of(request: HTTPConnection) -> Database:
    return cast(Database, request.app.state.db)


def cache_of(request: HTTPConnection) -> PageCache:
    """The worker's cache of rendered answers (pages, feeds, API bodies)."""
    return cast(PageCache, request.app.state.cache)


def _votes_of(request: HTTPConnection) -> VoteWriter:
    return cast(VoteWriter, request.app.state.votes)


def _fetcher_of(request: HTTPConnection) -> SubmissionFetcher:
    return cast(SubmissionFetcher, request.app.state.submission_fetcher)


def _made_once(request: HTTPConnection, name: str, make: Callable[[Any], T]) -> T:
    """``app.state.<name>``, made by ``make(app.state)`` on first use (under the lock; once
    made, read without it: the day list asks on every request)."""
    state = request.app.state
    made: T | None = getattr(state, name, None)
    if made is not None:
        return made
    with _lock:
        found: T | None = getattr(state, name, None)
        if found is None:
            found = make(state)
            setattr(state, name, found)
        return found


def _limiter_of(request: HTTPConnection) -> RateLimiter:
    """The rate limiter of this worker (its counters are shared by all workers)."""
    return _made_once(request, "rate_limiter", lambda state: RateLimiter(state.db, state.settings))


def _outbox_of(request: HTTPConnection) -> MailQueue:
    """The worker's mail queue (pages never wait for SMTP): one queue, one sending thread."""
    return _made_once(request, "mail_queue", lambda state: MailQueue(Mailer(state.settings)))


def query_keys_of(request: HTTPConnection) -> dict[bytes, Any]:
    """This app's memo of raw query strings → validated cache keys (``api/routes.py``)."""
    return _made_once(request, "query_keys", lambda state: {})


def client_ip(request: HTTPConnection) -> str:
    """The client's address: the socket's peer, or what a trusted proxy says
    (``PAPERFEED_FORWARDED_ALLOW_IPS``, applied by uvicorn before the app sees it)."""
    return request.client.host if request.client else "unknown"


def _on_loop(of: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    """``of(request)`` as an async dependency: it only hands out a service (see the top)."""

    async def dependency(request: Request) -> T:
        return of(request)

    return dependency


# --- who is asking -------------------------------------------------------------------------


def _known_caller(request: HTTPConnection) -> Caller | None:
    """The caller when no lookup is needed (already resolved, or no credential sent)."""
    cached_caller: Caller | None = getattr(request.state, "pf_viewer", None)
    if cached_caller is not None:
        return cached_caller
    if "authorization" in request.headers:
        return None
    return None if request.cookies.get(session_cookie(settings_of(request))) else ANONYMOUS


def caller(request: HTTPConnection) -> Caller:
    """The caller's account and how it came: ``"session"``, ``"read"`` or ``"write"`` (a
    token's scope), or ``(None, "anonymous")``. A bad token raises a 401. May query the
    database: from async code, await :func:`get_caller`."""
    known = _known_caller(request)
    if known is not None:
        return known
    db = database_of(request)
    result = ANONYMOUS
    header = request.headers.get("authorization")
    if header is not None:
        token = bearer(header)
        found = tokens.token_account(db, token) if token else None
        if found is None:
            raise HTTPException(401, tokens.TOKEN_REFUSED, headers={"WWW-Authenticate": "Bearer"})
        result = (found[0], found[1])
    else:
        raw = request.cookies[session_cookie(settings_of(request))]
        account = sessions.session_account(db, raw)
        if account is not None:
            result = (account, "session")
    request.state.pf_viewer = result
    return result


async def get_caller(request: Request) -> Caller:
    """:func:`caller`, its lookup where rule 2 puts it."""
    known = _known_caller(request)
    if known is not None:
        return known
    return await short_read(database_of(request), caller, request)


def viewer(request: HTTPConnection) -> Account | None:
    """The logged-in user (session or token), or None."""
    return caller(request)[0]


def require_user(request: HTTPConnection) -> Account:
    """The logged-in user (session or any token), else :class:`LoginRequired`."""
    return _user(caller(request))


def require_write(request: HTTPConnection) -> Account:
    """A user allowed to change things: a browser session or a ``write`` token."""
    return _writer(caller(request))


def require_admin(request: HTTPConnection) -> Account:
    """An admin in a browser session (``access`` refuses tokens on admin routes first)."""
    return _admin(caller(request))


def _user(who: Caller) -> Account:
    if who[0] is None:
        raise LoginRequired()
    return who[0]


def _writer(who: Caller) -> Account:
    account = _user(who)
    if who[1] == "read":
        raise HTTPException(403, tokens.READ_ONLY)
    return account


def _admin(who: Caller) -> Account:
    account = _user(who)
    if who[1] != "session" or not account.is_admin:
        raise HTTPException(403, "admins only")
    return account


CallerDep = Annotated[Caller, Depends(get_caller)]


def _of_caller(check: Callable[[Caller], T]) -> Callable[[Caller], Awaitable[T]]:
    """``check(caller)`` as an async dependency, the caller looked up where rule 2 puts it."""

    async def dependency(who: CallerDep) -> T:
        return check(who)

    return dependency


def _anyone(who: Caller) -> Account | None:
    return who[0]


def csrf_token(request: HTTPConnection) -> str:
    """The token this page's forms must carry (``auth.csrf_token_for``)."""
    return csrf_token_for(request, settings_of(request), database_of(request))


@dataclass(frozen=True, slots=True)
class Context:
    """What most routes use together: the request, the app's settings and its database."""

    request: Request
    settings: Settings
    db: Database


async def _context(request: Request) -> Context:
    return Context(request, settings_of(request), database_of(request))


@dataclass(frozen=True, slots=True)
class Throttle:
    """The worker's rate limiter with the client's address, for the forms counted per address
    (sign-up, login, reset, subscribe)."""

    limiter: RateLimiter
    ip: str

    def per_ip(self, name: str, rule: str) -> bool:
        """One more hit of ``name`` from this address; False when over ``rule``."""
        return self.limiter.hit(name, rule, self.ip)


async def _throttle(request: Request) -> Throttle:
    return Throttle(_limiter_of(request), client_ip(request))


# --- what routes name -------------------------------------------------------------------------

SettingsDep = Annotated[Settings, Depends(_on_loop(settings_of))]
DatabaseDep = Annotated[Database, Depends(_on_loop(database_of))]
CacheDep = Annotated[PageCache, Depends(_on_loop(cache_of))]
ViewerDep = Annotated[Account | None, Depends(_of_caller(_anyone))]  # None when anonymous
UserDep = Annotated[Account, Depends(_of_caller(_user))]  # a session or any token
WriterDep = Annotated[Account, Depends(_of_caller(_writer))]  # a session or a write token
AdminDep = Annotated[Account, Depends(_of_caller(_admin))]  # an admin's session
VotesDep = Annotated[VoteWriter, Depends(_on_loop(_votes_of))]
FetcherDep = Annotated[SubmissionFetcher, Depends(_on_loop(_fetcher_of))]
LimiterDep = Annotated[RateLimiter, Depends(_on_loop(_limiter_of))]
OutboxDep = Annotated[MailQueue, Depends(_on_loop(_outbox_of))]
ClientIpDep = Annotated[str, Depends(_on_loop(client_ip))]
ContextDep = Annotated[Context, Depends(_context)]  # request, settings, db
ThrottleDep = Annotated[Throttle, Depends(_throttle)]  # rate limiter, client address


@dataclass(frozen=True, slots=True)
class Member(Context):
    """A :class:`Context` with the logged-in user who asks (``MemberDep``: a session or any
    token; ``AdminMemberDep``: an admin's session)."""

    account: Account


async def _member(request: Request, account: UserDep) -> Member:
    return Member(request, settings_of(request), database_of(request), account)


async def _admin_member(request: Request, account: AdminDep) -> Member:
    return Member(request, settings_of(request), database_of(request), account)


MemberDep = Annotated[Member, Depends(_member)]  # request, settings, db, the user
AdminMemberDep = Annotated[Member, Depends(_admin_member)]  # the same, the user an admin
