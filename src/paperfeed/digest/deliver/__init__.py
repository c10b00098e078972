"""Delivering digests: runs, the delivery ledger, senders, recovery and status.

A digest never loses a recipient and never sends anything twice:

- ``runs``: a run per (kind, period) freezes every recipient's list in one transaction
  before any mail goes out; it pauses after
  ``PAPERFEED_DIGEST_PAUSE_AFTER_FAILURES`` consecutive non-successes (``digest send
  --resume`` continues it) and is done when no delivery is left open;
- ``ledger``: one row per recipient, ``pending → sending → sent | deferred | failed``,
  claimed one at a time (skip-locked), retried with backoff until stale;
- ``sender``: the loop of one sending process, one commit per message, the claim committed
  before the SMTP transaction starts; site-wide rate limits (``digest/throttle.py``);
- ``recovery``: a dead sender's claim becomes ``uncertain``, never re-sent automatically,
  until an admin resolves it (``paperfeed digest resolve``);
- ``status``: what ``paperfeed digest status`` reports.

The names below are the package's interface (the CLI, the worker, tests and benchmarks use
them through ``deliver.<name>``).
"""

from __future__ import annotations

from paperfeed.digest.deliver.ledger import Claim, SendStats
from paperfeed.digest.deliver.recovery import Resolved, recover, resolve_uncertain
from paperfeed.digest.deliver.runs import RunInfo, create_run, find_run, resume_run
from paperfeed.digest.deliver.sender import Sender
from paperfeed.digest.deliver.status import RunStatus, run_status, runs_page

__all__ = [
    "Claim",
    "Resolved",
    "RunInfo",
    "RunStatus",
    "SendStats",
    "Sender",
    "create_run",
    "find_run",
    "recover",
    "resolve_uncertain",
    "resume_run",
    "run_status",
    "runs_page",
]
