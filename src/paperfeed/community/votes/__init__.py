"""Upvotes: one per user per paper, by a logged-in user or an API token.

- ``rule.py``: the rule and its types (what a vote does, what each voter and paper is told);
- ``backend.py``: the one protocol of the backends that apply it, and how one is run;
- ``stepwise.py``: a batch as a few plain statements in one transaction (any database; the
  choice where there are no writable CTEs, SQLite, whose statements cost no round trip);
- ``cte.py``: a batch as one statement (databases with writable CTEs, PostgreSQL);
- ``apply.py``: ``set_votes`` and the backends a database gets (``db.ops.features``);
- ``writer.py``, ``schedulers.py``, ``task.py``: ``VoteWriter``, which gathers the votes of a
  worker's requests into batches, on the event loop or in a task on it.
"""

from paperfeed.community.votes.apply import set_vote, set_votes, set_votes_async, voted_ids
from paperfeed.community.votes.rule import ByToken, TokenRefused, Vote, Voter, VoteResult
from paperfeed.community.votes.writer import VoteWriter

__all__ = [
    "ByToken",
    "TokenRefused",
    "Vote",
    "VoteResult",
    "VoteWriter",
    "Voter",
    "set_vote",
    "set_votes",
    "set_votes_async",
    "voted_ids",
]
