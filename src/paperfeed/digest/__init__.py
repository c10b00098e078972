"""Trending-paper digests by mail: subscriptions (double opt-in), composing, rendering and a
delivery ledger that never loses a recipient and never sends anything twice.

Modules: ``subscriptions/`` (preferences, signed links, the subscriber store, CSV import),
``compose`` (which papers each recipient gets), ``render`` (Jinja2 → multipart mail),
``smtp`` (the digest's SMTP session over ``mail.transport``: many messages on one
connection, each recipient's outcome), ``deliver/`` (runs, the ledger, senders, recovery,
status), ``throttle`` (site-wide rate limits) and ``preview``. The commands and the
scheduler that call them are in ``paperfeed.cli``.
"""

from __future__ import annotations


class DigestError(ValueError):
    """A request the digest code refuses, with a message fit for the user."""
