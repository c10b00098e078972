"""Typed SQLAlchemy 2 models.

Conventions:
- every datetime is naive UTC (SQLite has no time zones; PostgreSQL columns are
  ``timestamp without time zone``); the API adds the ``Z``;
- ``Paper.modified_at`` moves on every insert or change; derived indexes (search, caches)
  follow it as a watermark;
- imported counts (from Daily Papers listings) are kept apart from counts of this site's own
  users (``user_upvotes``, ``user_comments``), so a re-import never clobbers local votes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(String(32), unique=True)
    # Latest arXiv version known (1, 2, ...); None when no source told us.
    version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(32))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    license: Mapped[str | None] = mapped_column(String(255))
    submitter: Mapped[str | None] = mapped_column(String(255))
    github_repo: Mapped[str | None] = mapped_column(String(512))
    github_stars: Mapped[int | None] = mapped_column(Integer)
    project_page: Mapped[str | None] = mapped_column(String(1024))
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str] | None] = mapped_column(JSON)
    # Media a listing links (Daily Papers' ``mediaUrls``: videos, figures), http(s) URLs.
    media_urls: Mapped[list[str] | None] = mapped_column(JSON)
    organization: Mapped[str | None] = mapped_column(String(255))
    imported_upvotes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    imported_comments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    user_upvotes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    user_comments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)

    daily_entries: Mapped[list[DailyEntry]] = relationship(
        back_populates="paper", cascade="all, delete-orphan", order_by="DailyEntry.day"
    )

    @property
    def upvotes(self) -> int:
        return self.imported_upvotes + self.user_upvotes

    @property
    def num_comments(self) -> int:
        return self.imported_comments + self.user_comments


class PaperName(Base):
    """A name a paper can be found by (derived from ``papers.authors`` and
    ``papers.organization``, rewritten with them: ``store/names.py``): ``kind`` ``author``
    (``position`` in the author list) or ``org`` (position 0), ``key`` the name as matched
    (``text.name_key``: case, accents and spacing ignored). The author and organization
    pages look papers up by it."""

    __tablename__ = "paper_names"
    __table_args__ = (Index("ix_paper_names_kind_key", "kind", "key"),)

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(255))


class DailyEntry(Base):
    """A paper featured on a day's list. One row per (paper, day)."""

    __tablename__ = "daily_entries"
    __table_args__ = (
        UniqueConstraint("paper_id", "day", name="uq_daily_entries_paper_day"),
        Index("ix_daily_entries_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Username shown as the submitter; imported listings keep theirs when the source has one.
    submitted_by: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where the entry came from: "import", "demo", "user".
    source: Mapped[str] = mapped_column(String(16), default="import")

    paper: Mapped[Paper] = relationship(back_populates="daily_entries")


class SiteMeta(Base):
    """Small key/value facts about the site (e.g. ``demo`` when demo data was loaded)."""

    __tablename__ = "site_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PaperEmbedding(Base):
    """A paper's sentence embedding (title + abstract), the durable copy the ANN index is
    rebuilt from. ``content_hash`` tells whether the text changed since it was embedded;
    ``paper_modified_at`` is the paper's ``modified_at`` when it was last checked (a paper
    modified since then is re-checked; it is re-embedded only when its hash changed).
    ``embedded_at`` moves only when the vector changes: ANN indexes follow it as a watermark."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (
        Index("ix_paper_embeddings_embedded_at", "embedded_at"),
        # One model's count and newest embedded_at without reading the vectors (0013).
        Index("ix_paper_embeddings_model_embedded_at", "model", "embedded_at"),
    )

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(128))
    dim: Mapped[int] = mapped_column(Integer)
    # float32 little-endian, ``dim`` values, unit length.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))
    paper_modified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    embedded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class IndexState(Base):
    """Where a derived index (keyword, vectors) stands: the ``Paper.modified_at`` watermark
    it has caught up to, per node (``name`` includes the node when indexes are per node)."""

    __tablename__ = "index_state"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    watermark: Mapped[dt.datetime | None] = mapped_column(DateTime)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MetadataFillMiss(Base):
    """A paper the metadata fill (``sources/metadata_fill.py``) asked arXiv about and got no
    categories for (arXiv did not know it, or refused its id). It is not asked again before
    ``retry_after``, which moves further out with each miss (``attempts``)."""

    __tablename__ = "metadata_fill_misses"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    tried_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    retry_after: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str | None] = mapped_column(String(255))


# --------------------------------------------------------------------------- community
# Accounts, sessions, votes, comments, claims, collections, API tokens (migration 0003).
# Secrets are never stored in the clear: passwords are Argon2id hashes, session ids and API
# tokens are stored as SHA-256 digests of high-entropy random values.


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower case, [a-z0-9_-], 3-32 characters (community/users.py checks the grammar).
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default="0")
    is_banned: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Set when the owner opened the signed link mailed to ``email`` (or an admin made the
    # account with ``paperfeed users create``). Nothing is linked to an unverified address.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)


class UserSession(Base):
    """A login. ``id`` is the SHA-256 hex of the cookie's random value."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A personal API token. ``token_hash`` is the SHA-256 hex of the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, shown in lists so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))  # "read" | "write"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Upvote(Base):
    """One user's vote for a paper. ``papers.user_upvotes`` counts these rows; both change in
    the same transaction (community/votes/)."""

    __tablename__ = "upvotes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Comment(Base):
    """A markdown comment on a paper, or a reply to one (one level: ``parent_id`` is always a
    top-level comment). ``body_html`` is rendered and sanitised when written."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_paper_created", "paper_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuthorshipClaim(Base):
    """A user says they are ``author_name`` among a paper's authors; an admin decides."""

    __tablename__ = "authorship_claims"
    __table_args__ = (UniqueConstraint("user_id", "paper_id", name="uq_claims_user_paper"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    author_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SubmissionAttempt(Base):
    """One submission that counts toward the daily limit: a known paper added at once, or an
    arXiv fetch in the background (``fetching``, then ``added`` or ``failed`` with the reason).
    Every worker counts the same rows for the daily limit and the caps on running fetches."""

    __tablename__ = "submission_attempts"
    __table_args__ = (Index("ix_submission_attempts_user_day", "user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    arxiv_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CollectionItem(Base):
    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RateLimitCounter(Base):
    """A fixed-window counter of the rate limiter (community/ratelimit.py) when no Redis is
    configured: shared by every worker process through the database."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Seconds since the epoch when the window ends.
    expires_at: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- digests
# Mail subscriptions and the delivery ledger (migration 0004, paperfeed/digest/).


class Subscriber(Base):
    """An address that asked for the trending digest (double opt-in), with or without an
    account. ``status``: ``pending`` (only the confirmation mail may go to it), ``confirmed``,
    ``unsubscribed`` or ``suppressed`` (too many hard bounces)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    period: Mapped[str] = mapped_column(String(8), default="daily")  # "daily" | "weekly"
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=7)  # local hour, 0-23
    send_weekday: Mapped[int] = mapped_column(Integer, default=0)  # weekly: 0 = Monday
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Signed confirmation links carry this nonce; confirming clears it (single use).
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    confirm_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # How consent was given: "double opt-in", "cli add --confirmed", "cli import --confirmed".
    consent_source: Mapped[str | None] = mapped_column(String(64))
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    suppressed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DigestRun(Base):
    """One digest of a kind for a period (``daily`` 2025-03-07, ``weekly`` 2025-W10).
    ``status``: ``sending``, ``paused`` (too many consecutive failures) or ``done``."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("kind", "period_key", name="uq_digest_runs_kind_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    period_key: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)  # exclusive
    status: Mapped[str] = mapped_column(String(16), default="sending")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DigestContent(Base):
    """A list of papers frozen for a run; every recipient with the same list shares it."""

    __tablename__ = "digest_contents"
    __table_args__ = (UniqueConstraint("run_id", "key", name="uq_digest_contents_run_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the paper ids
    paper_ids: Mapped[list[int]] = mapped_column(JSON)
    # A reader's own content: the reasons of its leading "For you" papers; shared ones: None.
    for_you: Mapped[list[str] | None] = mapped_column(JSON)


class DigestContentPaper(Base):
    """Which contents hold a paper: how "never the same paper twice" is checked."""

    __tablename__ = "digest_content_papers"

    content_id: Mapped[int] = mapped_column(
        ForeignKey("digest_contents.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DigestDelivery(Base):
    """One recipient of one run: the ledger row. ``status``: ``pending`` → ``sending`` →
    ``sent`` | ``deferred`` (retried at ``next_attempt_at``) | ``failed``; a row left in
    ``sending`` by a sender that died becomes ``uncertain`` (never re-sent automatically);
    ``skipped`` when the address stopped being eligible before its turn."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "subscriber_id", name="uq_digest_deliveries_run_subscriber"),
        # The claim walks these in order: no sort, however many rows are queued.
        Index("ix_digest_deliveries_queue", "run_id", "status", "next_attempt_at", "id"),
        Index("ix_digest_deliveries_due", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    content_id: Mapped[int] = mapped_column(
        ForeignKey("digest_contents.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[dt.datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    give_up_at: Mapped[dt.datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DigestSender(Base):
    """A live sending process. Its claims (``digest_deliveries.claimed_by``) become
    ``uncertain`` when it is found dead: its pid gone on this host, or no heartbeat."""

    __tablename__ = "digest_senders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DigestThrottle(Base):
    """The site-wide send throttle (migration 0005, paperfeed/digest/throttle.py): one row,
    locked by every sender before it takes a send slot, so all senders on one database
    together keep ``PAPERFEED_DIGEST_RATE_PER_SECOND`` and ``_PER_HOUR``."""

    __tablename__ = "digest_throttle"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # slots taken
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # when the last was taken


class DigestSendSlot(Base):
    """A send slot taken within the last hour (number ``seq`` of the throttle's sequence):
    the hourly cap looks up the slot taken N before. Slots older than an hour are deleted."""

    __tablename__ = "digest_send_slots"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
