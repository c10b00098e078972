"""The vote rule, the same whichever backend applies it (``backend.py``).

One vote per user per paper. A vote sets a state (up, or not), so repeating one changes
nothing. The vote row and ``papers.user_upvotes`` change in one transaction, so the feed's
live count (imported + user) is always the number of rows. In a batch the votes apply in
order (only each user and paper's last wish counts), and every vote is answered with its
paper's total after the whole batch. A vote by an unknown, revoked or banned API token is
refused (``TokenRefused``), one by a read-only token forbidden; a vote on an unknown paper is
``NotFound``. A refused vote changes nothing and the others of its batch still apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paperfeed.community import CommunityError, Forbidden, NotFound
from paperfeed.community.tokens import READ_ONLY, TOKEN_REFUSED
from paperfeed.papers.ids import is_arxiv_id


class TokenRefused(CommunityError):
    """The API token is unknown or revoked, or its user is banned (HTTP 401)."""


@dataclass(frozen=True)
class ByToken:
    """A voter known only by an API token (its SHA-256, as stored): the token is checked in
    the vote's own transaction, so an API vote costs no separate lookup and a token revoked
    a moment ago can no longer vote."""

    token_hash: str


Voter = int | ByToken  # a user id (a logged-in browser), or an API token
Vote = tuple[Voter, str, bool]  # (voter, arXiv id, up)
VoteResult = tuple[int, bool] | CommunityError

# Whether a voter may vote, as every backend's statements answer it (the SQL ones write
# these numbers and the scope ``'read'`` themselves).
ALLOWED, REFUSED, READ_ONLY_TOKEN = 0, 1, 2


def token_verdict(user_id: int | None, is_banned: object, scope: str | None) -> int:
    """``ALLOWED``, ``REFUSED`` or ``READ_ONLY_TOKEN`` for a token's row (``user_id`` None:
    no live token has that hash). A banned user's token reads as unknown."""
    if user_id is None or is_banned:
        return REFUSED
    return READ_ONLY_TOKEN if scope == "read" else ALLOWED


def answer(arxiv_id: str, up: bool, verdict: int, total: int | None) -> VoteResult:
    """One vote's answer: its voter's refusal first, then an unknown paper (``total`` None),
    else the paper's total and the vote's state."""
    if verdict == REFUSED:
        return TokenRefused(TOKEN_REFUSED)
    if verdict == READ_ONLY_TOKEN:
        return Forbidden(READ_ONLY)
    if total is None:
        return no_paper(arxiv_id)
    return (int(total), up)


def no_paper(arxiv_id: str) -> NotFound:
    return NotFound(f"No paper {arxiv_id[:40]!r} on this site.")


def impossible(batch: Sequence[Vote]) -> set[int]:
    """Positions of votes on an id no paper can have (a NUL, say). They never reach the
    database: on PostgreSQL one such value fails the whole statement, every vote in it."""
    return {i for i, (_, arxiv_id, _) in enumerate(batch) if not is_arxiv_id(arxiv_id)}


def merge(batch: Sequence[Vote], bad: set[int], applied: list[VoteResult]) -> list[VoteResult]:
    """The answers of ``batch``: ``NotFound`` at the ``bad`` positions, ``applied`` between."""
    rest = iter(applied)
    return [no_paper(vote[1]) if i in bad else next(rest) for i, vote in enumerate(batch)]
