"""Trending-paper digests by mail: subscriptions (double opt-in), composing, rendering and a
delivery ledger that never loses a recipient and never sends anything twice.

Modules: ``subscriptions`` (subscribe, confirm, unsubscribe, preferences, admin import),
``compose`` (which papers each recipient gets), ``render`` (Jinja2 → multipart mail),
``smtp`` (a connection-reusing sender that reports each recipient's SMTP code), ``deliver``
(runs, the ledger, claims, retries) and ``preview``. The commands and the scheduler that
call them are in ``paperfeed.cli``.
"""

from __future__ import annotations


class DigestError(ValueError):
    """A request the digest code refuses, with a message fit for the user."""
