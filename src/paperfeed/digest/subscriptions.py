"""Subscriptions: double opt-in, one-click unsubscribe, preferences, admin import.

Tokens (HMAC-SHA256 under the site's secret key, ``community.keys``):

- confirm: ``<id>.<expiry>.<mac(id, expiry, nonce)>``. Expiring
  (``PAPERFEED_DIGEST_CONFIRM_LINK_HOURS``) and single-use: confirming clears the nonce, and a
  new request makes a new one, so every older link stops working.
- unsubscribe / manage: ``<id>.<mac(purpose, id)>``. They never expire (a digest from last
  year must still unsubscribe) and are the whole credential: no session, no CSRF token.

Only ``confirmed`` subscribers are ever sent a digest (``ELIGIBLE``); a ``pending`` address gets
the confirmation mail and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import logging
import secrets
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.community import CommunityError
from paperfeed.community.keys import secret_key, sign
from paperfeed.community.users import normalize_email as _normalize_email
from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.mail import Mail, Mailer, MailError
from paperfeed.params import BadValue, is_unicode, signed_token, whole_number
from paperfeed.store.db import Database
from paperfeed.store.models import Subscriber, utcnow

log = logging.getLogger(__name__)

PERIODS = ("daily", "weekly")
ELIGIBLE = "confirmed"
MAX_TOPICS = 20
MAX_TOPIC_CHARS = 100


@dataclass(slots=True)
class Prefs:
    period: str = "daily"
    timezone: str = "UTC"
    send_hour: int = 7
    send_weekday: int = 0
    max_papers: int = 10
    categories: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    @property
    def has_topics(self) -> bool:
        return bool(self.categories or self.keywords or self.authors)


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
    return SubscriberView(
        s.id,
        s.email,
        s.status,
        prefs_of(s),
        s.user_id,
        s.consent_at,
        s.consent_source,
        s.hard_bounces,
    )


def prefs_of(s: Subscriber) -> Prefs:
    return Prefs(
        s.period,
        s.timezone,
        s.send_hour,
        s.send_weekday,
        s.max_papers,
        list(s.categories or []),
        list(s.keywords or []),
        list(s.authors or []),
    )


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


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _topic_list(raw: Iterable[str] | str | None) -> list[str]:
    if raw is None:
        return []
    items = raw.replace("\n", ",").split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        value = " ".join(str(item).split())[:MAX_TOPIC_CHARS]
        if value and value.lower() not in {o.lower() for o in out}:
            out.append(value)
    if len(out) > MAX_TOPICS:
        raise DigestError(f"At most {MAX_TOPICS} entries per topic list.")
    return out


def make_prefs(
    settings: Settings,
    *,
    period: str = "daily",
    timezone: str = "UTC",
    send_hour: int | str = 7,
    send_weekday: int | str = 0,
    max_papers: int | str | None = None,
    categories: Iterable[str] | str | None = None,
    keywords: Iterable[str] | str | None = None,
    authors: Iterable[str] | str | None = None,
) -> Prefs:
    """Checked preferences, or :class:`DigestError` saying what is wrong."""
    if period not in PERIODS:
        raise DigestError("The period is daily or weekly.")
    if timezone not in _zones():
        raise DigestError("Unknown time zone (use a name like Europe/Paris or UTC).")
    try:  # ASCII digits; bounds wide enough that the range check below keeps its message
        hour, weekday = _number(send_hour), _number(send_weekday)
        papers = settings.digest_default_papers if max_papers in (None, "") else _number(max_papers)
    except (TypeError, ValueError) as exc:
        raise DigestError("Hour, day and number of papers are whole numbers.") from exc
    if not 0 <= hour <= 23 or not 0 <= weekday <= 6 or not 1 <= papers <= 50:
        raise DigestError("The hour is 0-23, the day 0-6 (Monday = 0), papers 1-50.")
    cats = [c for c in _topic_list(categories)]
    for c in cats:
        if not all(ch.isalnum() or ch in ".-" for ch in c):
            raise DigestError(f"Not an arXiv category: {c!r} (e.g. cs.CL).")
    return Prefs(
        period,
        timezone,
        hour,
        weekday,
        papers,
        cats,
        _topic_list(keywords),
        _topic_list(authors),
    )


# --- tokens ---------------------------------------------------------------------------------


def _key(db: Database, settings: Settings) -> bytes:
    return secret_key(db, settings)


def confirm_token(db: Database, settings: Settings, subscriber_id: int, nonce: str) -> str:
    expires = int(utcnow().replace(tzinfo=dt.UTC).timestamp())
    expires += settings.digest_confirm_link_hours * 3600
    mac = sign(_key(db, settings), "digest-confirm", str(subscriber_id), str(expires), nonce)
    return f"{subscriber_id}.{expires}.{mac}"


def link_token(db: Database, settings: Settings, purpose: str, subscriber_id: int) -> str:
    """The never-expiring ``unsubscribe`` or ``manage`` token of a subscriber."""
    return f"{subscriber_id}.{sign(_key(db, settings), 'digest-' + purpose, str(subscriber_id))}"


def link_token_with_key(key: bytes, purpose: str, subscriber_id: int) -> str:
    return f"{subscriber_id}.{sign(key, 'digest-' + purpose, str(subscriber_id))}"


def check_link_token(db: Database, settings: Settings, purpose: str, token: str) -> int | None:
    """The subscriber id a valid ``unsubscribe``/``manage`` token names, else None."""
    try:
        (sid,), mac = signed_token(token, 1, max_length=100)
    except BadValue:
        return None
    expected = sign(_key(db, settings), "digest-" + purpose, str(sid))
    return sid if hmac.compare_digest(expected, mac) else None


def _number(value: int | str) -> int:
    return value if isinstance(value, int) else whole_number(value, 0, 10**6, "number")


def _parse_confirm(token: str) -> tuple[int, int, str] | None:
    try:
        (sid, expires), mac = signed_token(token, 2)
    except BadValue:
        return None
    return sid, expires, mac


def check_confirm_token(db: Database, settings: Settings, token: str) -> SubscriberView | None:
    """The pending subscriber a valid, unexpired, unused confirmation token names."""
    parsed = _parse_confirm(token)
    if parsed is None:
        return None
    sid, expires, mac = parsed
    if expires < utcnow().replace(tzinfo=dt.UTC).timestamp():
        return None
    with db.read() as session:
        sub = session.get(Subscriber, sid)
        if sub is None or sub.status != "pending" or not sub.confirm_nonce:
            return None
        expected = sign(
            _key(db, settings), "digest-confirm", str(sid), str(expires), sub.confirm_nonce
        )
        if not hmac.compare_digest(expected, mac):
            return None
        return _view(sub)


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


def confirm(db: Database, settings: Settings, token: str) -> SubscriberView | None:
    """Confirm the subscription a token names (the POST of the confirmation page). Stores the
    consent time; the token stops working. None when the token is bad, expired or used."""
    parsed = _parse_confirm(token)
    if parsed is None or check_confirm_token(db, settings, token) is None:
        return None
    sid, _, _ = parsed
    now = utcnow()
    with db.write() as session:
        sub = session.get(Subscriber, sid)
        if sub is None or sub.status != "pending" or not sub.confirm_nonce:
            return None
        expected = sign(
            _key(db, settings), "digest-confirm", str(sid), str(parsed[1]), sub.confirm_nonce
        )
        if not hmac.compare_digest(expected, parsed[2]):
            return None
        sub.status = ELIGIBLE
        sub.confirm_nonce = None
        sub.consent_at = now
        sub.consent_source = "double opt-in"
        sub.unsubscribed_at = None
        sub.updated_at = now
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
        sub.status = ELIGIBLE
        sub.unsubscribed_at = None
        sub.consent_at = now
        sub.consent_source = "re-subscribed from the manage page"
        sub.updated_at = now
        return True


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


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(
    db: Database, settings: Settings, text: str, *, confirmed: bool
) -> tuple[ImportReport, list[tuple[str, str]]]:
    """Rows ``email[,period[,topics]]`` (a header row naming ``email`` is allowed; topics are
    ``;``-separated, ``cat:cs.CL``, ``author:Name`` or plain keywords). Bad rows are reported
    with their line number; good rows are kept. Returns the report and, when not
    ``confirmed``, the (email, token) pairs whose confirmation mail should go out."""
    report = ImportReport()
    to_mail: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for line, row, problem in _csv_rows(reader):
        if problem:
            report.errors.append((line, problem))
            continue
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if header is None and line == 1 and "email" in [c.lower() for c in cells]:
            header = [c.lower() for c in cells]
            continue
        record: dict[str, str] = (
            dict(zip(header, cells, strict=False))
            if header
            else dict(zip(("email", "period", "topics"), cells, strict=False))
        )
        try:
            prefs = _row_prefs(settings, record)
            view, token = add(
                db, settings, record.get("email", ""), confirmed=confirmed, prefs=prefs,
                source="cli import",
            )  # fmt: skip
            report.added += 1
            if token:
                to_mail.append((view.email, token))
        except DigestError as exc:
            report.errors.append((line, str(exc)))
    return report, to_mail


def _csv_rows(reader: Any) -> Iterable[tuple[int, list[str], str | None]]:
    """``(line, cells, None)`` per row, or ``(line, [], reason)`` for a row that cannot be
    used; csv's own errors (a field over its 128 KB limit) cost that row only."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, [], f"unreadable row ({exc})"
            continue
        joined = "".join(row)
        if "\x00" in joined:
            yield reader.line_num, [], "contains a NUL character"
        elif not is_unicode(joined):
            yield reader.line_num, [], "not valid UTF-8"
        else:
            yield reader.line_num, row, None


def decode_csv(data: bytes) -> str:
    """A CSV file's text: UTF-8 (a BOM is dropped); bytes that are not UTF-8 are kept as lone
    surrogates so that :func:`import_csv` rejects only the rows holding them."""
    return data.decode("utf-8-sig", "surrogateescape")


def _row_prefs(settings: Settings, record: dict[str, str]) -> Prefs:
    cats: list[str] = []
    kws: list[str] = []
    authors: list[str] = []
    for topic in (record.get("topics") or "").split(";"):
        topic = topic.strip()
        if not topic:
            continue
        kind, sep, value = topic.partition(":")
        if sep and kind.lower() in ("cat", "category"):
            cats.append(value)
        elif sep and kind.lower() == "author":
            authors.append(value)
        else:
            kws.append(topic)
    return make_prefs(
        settings,
        period=(record.get("period") or "daily").lower(),
        categories=cats,
        keywords=kws,
        authors=authors,
    )


def list_all(db: Database) -> list[SubscriberView]:
    with db.read() as session:
        return [_view(s) for s in session.scalars(select(Subscriber).order_by(Subscriber.id))]


def remove(db: Database, email: str) -> bool:
    """Delete the address and its ledger rows (it is forgotten, not just unsubscribed)."""
    with db.write() as session:
        result: Any = session.execute(
            delete(Subscriber).where(Subscriber.email == _lookup_form(email))
        )
        return bool(result.rowcount)


def record_hard_bounce(session: Any, subscriber_id: int, settings: Settings) -> bool:
    """Count a permanent failure; suppress the address at the limit. True when suppressed."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(hard_bounces=Subscriber.hard_bounces + 1)
    )
    result: Any = session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.hard_bounces >= settings.digest_max_hard_bounces,
            Subscriber.status != "suppressed",
        )
        .values(status="suppressed", suppressed_at=utcnow())
    )
    return bool(result.rowcount)


def confirmation_mail(settings: Settings, email: str, token: str) -> Mail:
    """The one mail an unconfirmed address may get."""
    link = f"{settings.base_url.rstrip('/')}/subscribe/confirm/{token}"
    text = (
        f"Someone (hopefully you) asked to get {settings.site_name}'s trending papers "
        f"by mail at {email}.\n\n"
        f"To confirm, open this link and press the button on the page:\n\n{link}\n\n"
        f"The link works once and expires in {settings.digest_confirm_link_hours} hours. "
        "If you did not ask for this, ignore this mail: nothing more will be sent.\n"
    )
    return Mail(to=email, subject=f"Confirm your {settings.site_name} digest", text=text)


def send_confirmation(settings: Settings, email: str, token: str) -> bool:
    """Mail the confirmation link; False (logged) when no SMTP server is set or it failed."""
    mailer = Mailer(settings)
    if not mailer.configured:
        log.warning("no SMTP server configured: confirmation for %s not sent", email)
        return False
    try:
        mailer.send(confirmation_mail(settings, email, token))
    except MailError:
        log.exception("confirmation mail to %s failed", email)
        return False
    return True
