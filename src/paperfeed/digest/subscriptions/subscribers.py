"""The subscriber store: subscribe (double opt-in), confirm, unsubscribe, preferences, the
admin's additions and removals, hard bounces.

Only ``confirmed`` subscribers are ever sent a digest (``ELIGIBLE``); a ``pending`` address gets
the confirmation mail and nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError
from paperfeed.community.users import normalize_email as _normalize_email
from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.digest.subscriptions.links import confirm_mac_ok, confirm_token, parse_confirm
from paperfeed.digest.subscriptions.prefs import Prefs, make_prefs
from paperfeed.store.counters import count_toward
from paperfeed.store.db import Database
from paperfeed.store.models import Subscriber, utcnow
from paperfeed.store.records import record_of

log = logging.getLogger(__name__)

ELIGIBLE = "confirmed"


@dataclass(frozen=True, slots=True)
class SubscriberView:
    id: int
    email: str
    status: str
    prefs: Prefs
    user_id: int | None
    consent_at: dt.datetime | None
    consent_source: str | None
    hard_bounces: int


def _view(s: Subscriber) -> SubscriberView:
    return record_of(SubscriberView, s, prefs=prefs_of(s))


def prefs_of(s: Subscriber) -> Prefs:
    topics = {name: list(getattr(s, name) or []) for name in ("categories", "keywords", "authors")}
    return record_of(Prefs, s, **topics)


def _apply(sub: Subscriber, prefs: Prefs, now: dt.datetime) -> None:
    sub.period = prefs.period
    sub.timezone = prefs.timezone
    sub.send_hour = prefs.send_hour
    sub.send_weekday = prefs.send_weekday
    sub.max_papers = prefs.max_papers
    sub.categories = list(prefs.categories)
    sub.keywords = list(prefs.keywords)
    sub.authors = list(prefs.authors)
    sub.updated_at = now


def normalize_email(raw: str) -> str:
    try:
        return _normalize_email(raw)
    except CommunityError as exc:
        raise DigestError(str(exc)) from exc


def _lookup_form(raw: str) -> str:
    """How to look an address up: its normal form, or (not an address) the trimmed text,
    which then matches nothing new but still finds rows stored before the grammar."""
    try:
        return _normalize_email(raw)
    except CommunityError:
        return raw.strip().lower()


# --- subscribing --------------------------------------------------------------------------


def request_subscription(
    db: Database,
    settings: Settings,
    email: str,
    prefs: Prefs,
    *,
    user_id: int | None = None,
) -> str | None:
    """Record a wish to subscribe; return the confirmation token to mail, or None when no
    mail must go out (already confirmed: preferences updated; suppressed: refused quietly).

    The caller rate-limits and never tells the visitor which case it was."""
    address = normalize_email(email)
    now = utcnow()
    nonce = secrets.token_hex(16)
    for _ in range(2):
        try:
            with db.write() as session:
                sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
                if sub is None:
                    sub = Subscriber(email=address, status="pending", created_at=now)
                    session.add(sub)
                if sub.status == "suppressed":
                    return None
                if sub.status == ELIGIBLE:
                    if user_id is not None and sub.user_id in (None, user_id):
                        sub.user_id = user_id
                        _apply(sub, prefs, now)
                    return None
                _apply(sub, prefs, now)
                if user_id is not None:
                    sub.user_id = user_id
                sub.status = "pending"
                sub.confirm_nonce = nonce
                sub.confirm_sent_at = now
                session.flush()
                sid = sub.id
            return confirm_token(db, settings, sid, nonce)
        except IntegrityError:
            continue  # the same address subscribed concurrently: read it again
    return None


def _awaiting(
    session: Session, db: Database, settings: Settings, parsed: tuple[int, int, str]
) -> Subscriber | None:
    """The pending subscriber a parsed confirmation token names, if signed for its nonce."""
    sub = session.get(Subscriber, parsed[0])
    if sub is None or sub.status != "pending" or not sub.confirm_nonce:
        return None
    return sub if confirm_mac_ok(db, settings, parsed, sub.confirm_nonce) else None


def check_confirm_token(db: Database, settings: Settings, token: str) -> SubscriberView | None:
    """The pending subscriber a valid, unexpired, unused confirmation token names."""
    parsed = parse_confirm(token)
    if parsed is None:
        return None
    if parsed[1] < utcnow().replace(tzinfo=dt.UTC).timestamp():
        return None
    with db.read() as session:
        sub = _awaiting(session, db, settings, parsed)
        return None if sub is None else _view(sub)


def confirm(db: Database, settings: Settings, token: str) -> SubscriberView | None:
    """Confirm the subscription a token names (the POST of the confirmation page). Stores the
    consent time; the token stops working. None when the token is bad, expired or used."""
    parsed = parse_confirm(token)
    if parsed is None or check_confirm_token(db, settings, token) is None:
        return None
    now = utcnow()
    with db.write() as session:
        sub = _awaiting(session, db, settings, parsed)
        if sub is None:
            return None
        sub.confirm_nonce = None
        _consent(sub, "double opt-in", now)
        session.flush()
        return _view(sub)


def unsubscribe_id(db: Database, subscriber_id: int) -> bool:
    """Unsubscribe (idempotent). True when the subscriber exists."""
    now = utcnow()
    with db.write() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None:
            return False
        if sub.status in (ELIGIBLE, "pending"):
            sub.status = "unsubscribed"
            sub.unsubscribed_at = now
            sub.confirm_nonce = None
            sub.updated_at = now
        return True


def get(db: Database, subscriber_id: int) -> SubscriberView | None:
    with db.read() as session:
        sub = session.get(Subscriber, subscriber_id)
        return _view(sub) if sub else None


def get_by_email(db: Database, email: str) -> SubscriberView | None:
    with db.read() as session:
        sub = session.scalar(select(Subscriber).where(Subscriber.email == _lookup_form(email)))
        return _view(sub) if sub else None


def update_prefs(db: Database, subscriber_id: int, prefs: Prefs) -> None:
    with db.write() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None:
            raise DigestError("No such subscription.")
        _apply(sub, prefs, utcnow())


def resubscribe(db: Database, subscriber_id: int) -> bool:
    """From the manage page (the token proves the address): an unsubscribed address that had
    confirmed before is confirmed again. Pending or suppressed ones are not."""
    now = utcnow()
    with db.write() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None or sub.status != "unsubscribed" or sub.consent_at is None:
            return False
        _consent(sub, "re-subscribed from the manage page", now)
        return True


def _consent(sub: Subscriber, source: str, now: dt.datetime) -> None:
    """The address is confirmed (again) now: eligible, with the consent on record."""
    sub.status = ELIGIBLE
    sub.unsubscribed_at = None
    sub.consent_at = now
    sub.consent_source = source
    sub.updated_at = now


# --- admin ----------------------------------------------------------------------------------


def add(
    db: Database,
    settings: Settings,
    email: str,
    *,
    period: str = "daily",
    confirmed: bool = False,
    source: str = "cli add",
    prefs: Prefs | None = None,
) -> tuple[SubscriberView, str | None]:
    """Add an address. ``confirmed``: consent was given elsewhere (an existing list), logged
    as such; otherwise it is pending and the returned token should be mailed."""
    chosen = prefs or make_prefs(settings, period=period)
    if not confirmed:
        token = request_subscription(db, settings, email, chosen)
        view = get_by_email(db, normalize_email(email))
        assert view is not None
        return view, token
    address = normalize_email(email)
    now = utcnow()
    with db.write() as session:
        sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
        if sub is None:
            sub = Subscriber(email=address, created_at=now)
            session.add(sub)
        _apply(sub, chosen, now)
        if sub.status != "suppressed":
            if sub.status != ELIGIBLE:
                sub.consent_at = now
                sub.consent_source = f"{source} --confirmed"
            sub.status = ELIGIBLE
            sub.confirm_nonce = None
        session.flush()
        view = _view(sub)
    log.warning(
        "subscriber %s added as confirmed by an admin (%s --confirmed): consent given elsewhere",
        address,
        source,
    )
    return view, None


def list_all(db: Database) -> list[SubscriberView]:
    with db.read() as session:
        return [_view(s) for s in session.scalars(select(Subscriber).order_by(Subscriber.id))]


def page(
    db: Database, *, limit: int, offset: int = 0
) -> tuple[dict[str, int], list[SubscriberView]]:
    """(how many addresses there are per status, ``limit`` of them newest first)."""
    with db.read() as session:
        counts = {
            status: n
            for status, n in session.execute(
                select(Subscriber.status, func.count()).group_by(Subscriber.status)
            )
        }
        rows = session.scalars(
            select(Subscriber).order_by(Subscriber.id.desc()).limit(limit).offset(offset)
        ).all()
        return counts, [_view(s) for s in rows]


def remove(db: Database, email: str) -> bool:
    """Delete the address and its ledger rows (it is forgotten, not just unsubscribed)."""
    with db.write() as session:
        result: Any = session.execute(
            delete(Subscriber).where(Subscriber.email == _lookup_form(email))
        )
        return bool(result.rowcount)


def record_hard_bounce(session: Any, subscriber_id: int, settings: Settings) -> bool:
    """Count a permanent failure; suppress the address at the limit. True when suppressed."""
    limit, live = settings.digest_max_hard_bounces, Subscriber.status != "suppressed"
    suppressed = {"status": "suppressed", "suppressed_at": utcnow()}
    return count_toward(session, Subscriber.hard_bounces, subscriber_id, limit, live, suppressed)
