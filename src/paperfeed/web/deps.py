"""Per-process services a request needs, made once per app and found through the request.

Pages and the API both take them from here (the API used to import them from a page
module). Each is created lazily on first use and kept in ``app.state``; creation is locked
because sync handlers run in the thread pool, several at once.
"""

from __future__ import annotations

import threading

from fastapi import Request

from paperfeed.community.ratelimit import RateLimiter
from paperfeed.mail import Mailer, MailQueue

_lock = threading.Lock()


def limiter(request: Request) -> RateLimiter:
    """The rate limiter of this worker (its counters are shared by all workers)."""
    state = request.app.state
    with _lock:
        found: RateLimiter | None = getattr(state, "rate_limiter", None)
        if found is None:
            found = state.rate_limiter = RateLimiter(state.db, state.settings)
        return found


def outbox(request: Request) -> MailQueue:
    """The worker process's mail queue (pages never wait for SMTP): one queue, one sending
    thread."""
    state = request.app.state
    with _lock:
        found: MailQueue | None = getattr(state, "mail_queue", None)
        if found is None:
            found = state.mail_queue = MailQueue(Mailer(state.settings))
        return found


def client_ip(request: Request) -> str:
    """The client's address: the socket's peer, or what a trusted proxy says
    (``PAPERFEED_FORWARDED_ALLOW_IPS``, applied by uvicorn before the app sees it)."""
    return request.client.host if request.client else "unknown"
