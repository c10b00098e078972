"""Accounts: sign-up, login, password change and reset, deletion, bans.

Deleting an account deletes everything it made: its sessions and tokens, its upvotes (the
papers' counts go down), its comments and the replies under them (counts go down), its claims
and collections. Papers it submitted stay on their daily lists, with the submitter cleared.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError, page_of
from paperfeed.community import passwords as pw
from paperfeed.community.keys import secret_key, sign
from paperfeed.config import Settings
from paperfeed.params import BadValue, signed_token
from paperfeed.store.db import Database
from paperfeed.store.models import Comment, DailyEntry, Paper, Upvote, User, UserSession, utcnow

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{2,31}$")
RESERVED = frozenset({"admin", "root", "api", "static", "system", "paperfeed", "anonymous"})


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    email: str
    is_admin: bool
    is_banned: bool


def _account(user: User) -> Account:
    return Account(user.id, user.username, user.email, user.is_admin, user.is_banned)


def normalize_username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise CommunityError(
            "Usernames have 3 to 32 characters: lower-case letters, digits, _ and -, "
            "starting with a letter or digit."
        )
    if name in RESERVED:
        raise CommunityError("That username is reserved.")
    return name


class AddressTaken(CommunityError):
    """Another account has this address. Sign-up answers as if it had worked (and mails that
    address instead), so the form never tells whether an address is registered."""


def normalize_email(raw: str) -> str:
    """The one grammar of every address the site accepts (sign-up, reset, subscriptions, the
    CLI), in the form it is stored, rate-limited and mailed under.

    RFC 5321 dot-atom mailboxes through ``email-validator``: no quoted local parts, comments,
    domain literals, commas or backslashes, which mail libraries would read as other or more
    recipients. ``%`` (the old source-routing hack: ``victim%other@relay``) is refused too.
    Trimmed, ASCII only (an internationalised domain becomes its IDNA form), lower-cased:
    ``(N)victim@x``, ``Victim@X`` and ``victim@x`` cannot count as different addresses."""
    text = raw.strip()
    if len(text) > 254 or "%" in text:
        raise CommunityError("That is not an email address.")
    try:
        checked = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise CommunityError(f"That is not an email address: {exc}") from exc
    ascii_form = checked.ascii_email  # set: SMTPUTF8 addresses were refused above
    if ascii_form is None:
        raise CommunityError("That is not an email address: use an ASCII local part.")
    return ascii_form.lower()


def create_user(
    db: Database,
    settings: Settings,
    username: str,
    email: str,
    password: str,
    *,
    is_admin: bool = False,
    verified: bool = False,
) -> Account:
    """A new account. ``verified``: the operator vouches for the address (``users create``);
    otherwise the owner must open the link of :func:`verify_token` first. Raises
    :class:`AddressTaken` when only the address is in use."""
    name = normalize_username(username)
    address = normalize_email(email)
    pw.check_new_password(password, username=name, email=address)
    hashed = pw.hash_password(password, settings)
    try:
        with db.write() as session:
            _check_free(session, name, address)
            user = User(
                username=name,
                email=address,
                password_hash=hashed,
                is_admin=is_admin,
                email_verified_at=utcnow() if verified else None,
            )
            session.add(user)
            session.flush()
            return _account(user)
    except IntegrityError as exc:  # a concurrent sign-up won the race: say which
        with db.read() as session:
            _check_free(session, name, address)
        raise CommunityError("That username is already taken.") from exc


def _check_free(session: Session, name: str, address: str) -> None:
    # Usernames are public (profile pages), so saying one is taken reveals nothing.
    if session.scalar(select(func.count()).select_from(User).where(User.username == name)):
        raise CommunityError("That username is already taken.")
    if session.scalar(select(func.count()).select_from(User).where(User.email == address)):
        raise AddressTaken("That email address is already registered.")


def _login_text(login: str) -> str:
    """A login as stored: an address in its normal form, else the lower-cased name."""
    key = login.strip().lower()
    if "@" in key:
        try:
            return normalize_email(key)
        except CommunityError:
            return key
    return key


def find(session: Session, login: str) -> User | None:
    """The user whose username or email is ``login`` (case-insensitive)."""
    key = _login_text(login)
    if not key or len(key) > 254:
        return None
    column = User.email if "@" in key else User.username
    return session.scalar(select(User).where(column == key))


def login_key(db: Database, login: str) -> str:
    """What login throttling counts on: the account ``login`` names (by username or address
    alike), else the normalised text."""
    with db.read() as session:
        user = find(session, login)
        return f"account:{user.id}" if user else f"unknown:{_login_text(login)}"


def get_account(db: Database, username: str) -> Account | None:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username.strip().lower()))
        return _account(user) if user else None


def get_account_by_email(db: Database, email: str) -> Account | None:
    with db.read() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        return _account(user) if user else None


def authenticate(db: Database, settings: Settings, login: str, password: str) -> Account | None:
    """The account when ``password`` is right and the account is not banned, else None.

    Unknown logins cost as much as wrong passwords. A hash made with other Argon2 parameters
    than the configured ones is replaced."""
    with db.read() as session:
        user = find(session, login)
        found = _account(user) if user else None
        stored = user.password_hash if user else None
    if found is None or stored is None or len(password) > pw.MAX_LENGTH:
        pw.burn_verify(password[: pw.MAX_LENGTH], settings)
        return None
    if not pw.verify_password(stored, password, settings):
        return None
    if found.is_banned:
        return None
    if pw.needs_rehash(stored, settings):
        fresh = pw.hash_password(password, settings)
        with db.write() as session:
            session.execute(
                update(User)
                .where(User.id == found.id, User.password_hash == stored)
                .values(password_hash=fresh)
            )
    return found


def change_password(
    db: Database, settings: Settings, account: Account, current: str, new: str
) -> None:
    with db.read() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == account.id))
    if stored is None or not pw.verify_password(stored, current, settings):
        raise CommunityError("The current password is wrong.")
    set_password(db, settings, account, new)


def set_password(db: Database, settings: Settings, account: Account, new: str) -> None:
    """Store a new password and end every session of the account (the caller logs in anew)."""
    pw.check_new_password(new, username=account.username, email=account.email)
    hashed = pw.hash_password(new, settings)
    with db.write() as session:
        session.execute(update(User).where(User.id == account.id).values(password_hash=hashed))
        session.execute(delete(UserSession).where(UserSession.user_id == account.id))


# --- password reset links -------------------------------------------------------------------
# token = "<user id>.<expiry, epoch seconds>.<HMAC(secret, user id, expiry, password hash)>"
# Signed (no table), expiring, and single-use: using it changes the password hash, which
# invalidates the signature of every link issued before.


def reset_token(db: Database, settings: Settings, account: Account) -> str:
    with db.read() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == account.id)) or ""
    return _link_token(db, settings, "reset", account.id, settings.reset_link_minutes * 60, stored)


def check_reset_token(db: Database, settings: Settings, token: str) -> Account | None:
    with db.read() as session:
        user = _linked_user(db, settings, session, token, "reset", lambda u: u.password_hash)
        return _account(user) if user else None


def _link_token(
    db: Database, settings: Settings, purpose: str, user_id: int, seconds: int, bound: str
) -> str:
    """``<user id>.<expiry>.<HMAC(secret, purpose, user id, expiry, bound)>``: a link for one
    purpose that dies when ``bound`` (the password hash, the address) changes."""
    expires = int(time.time()) + seconds
    mac = sign(secret_key(db, settings), purpose, str(user_id), str(expires), bound)
    return f"{user_id}.{expires}.{mac}"


def _linked_user(
    db: Database,
    settings: Settings,
    session: Session,
    token: str,
    purpose: str,
    bound: Callable[[User], str],
) -> User | None:
    """The user a valid, unexpired link token of ``purpose`` names (not banned), else None."""
    try:
        (user_id, expires), mac = signed_token(token, 2)
    except BadValue:
        return None
    if expires < time.time():
        return None
    user = session.get(User, user_id)
    if user is None or user.is_banned:
        return None
    expected = sign(secret_key(db, settings), purpose, str(user_id), str(expires), bound(user))
    return user if hmac.compare_digest(expected, mac) else None


# --- address verification ------------------------------------------------------------------
# token = "<user id>.<expiry, epoch seconds>.<HMAC(secret, user id, expiry, address)>"
# Signed (no table), expiring (PAPERFEED_EMAIL_VERIFY_LINK_HOURS), single-use (it only works
# while the account is unverified) and bound to the address it was mailed to.


def verify_token(db: Database, settings: Settings, account: Account) -> str:
    seconds = settings.email_verify_link_hours * 3600
    return _link_token(db, settings, "verify-email", account.id, seconds, account.email)


def _verifiable(db: Database, settings: Settings, session: Session, token: str) -> User | None:
    user = _linked_user(db, settings, session, token, "verify-email", lambda u: u.email)
    return user if user is not None and user.email_verified_at is None else None


def check_verify_token(db: Database, settings: Settings, token: str) -> Account | None:
    """The unverified account a valid, unexpired, unused verification link names."""
    with db.read() as session:
        user = _verifiable(db, settings, session, token)
        return _account(user) if user else None


def verify_email(db: Database, settings: Settings, token: str) -> Account | None:
    """Mark the account's address verified (the POST behind the link); None when the link is
    bad, expired or already used."""
    with db.write() as session:
        user = _verifiable(db, settings, session, token)
        if user is None:
            return None
        user.email_verified_at = utcnow()
        return _account(user)


def email_verified(db: Database, account: Account) -> bool:
    with db.read() as session:
        when = session.scalar(select(User.email_verified_at).where(User.id == account.id))
        return when is not None


# --- deletion and moderation -------------------------------------------------------------


def delete_account(db: Database, account: Account) -> None:
    with db.write() as session:
        _remove_votes(session, account.id)
        _remove_comments(session, account.id)
        session.execute(
            update(DailyEntry)
            .where(DailyEntry.submitted_by == account.username, DailyEntry.source == "user")
            .values(submitted_by=None)
        )
        # Sessions, tokens, claims, collections go through ON DELETE CASCADE.
        session.execute(delete(User).where(User.id == account.id))


def _remove_votes(session: Session, user_id: int) -> None:
    paper_ids = list(session.scalars(select(Upvote.paper_id).where(Upvote.user_id == user_id)))
    if paper_ids:
        session.execute(
            update(Paper).where(Paper.id.in_(paper_ids)).values(user_upvotes=Paper.user_upvotes - 1)
        )
        session.execute(delete(Upvote).where(Upvote.user_id == user_id))


def _remove_comments(session: Session, user_id: int) -> None:
    # lazy: comments imports this module (Account); markdown-it need not load for the CLI
    from paperfeed.community.comments import delete_comment_rows

    own = list(
        session.scalars(
            select(Comment.id).where(Comment.user_id == user_id).order_by(Comment.id.desc())
        )
    )
    delete_comment_rows(session, own)


def set_banned(db: Database, username: str, banned: bool) -> Account:
    """Ban (ends every session, refuses logins and tokens) or unban a user."""
    with db.write() as session:
        user = _user_named(session, username)
        user.is_banned = banned
        if banned:
            session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        return _account(user)


def set_admin(db: Database, username: str, admin: bool) -> Account:
    with db.write() as session:
        user = _user_named(session, username)
        user.is_admin = admin
        return _account(user)


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise CommunityError(f"No user {username!r}.")
    return user


def list_accounts(db: Database) -> list[Account]:
    with db.read() as session:
        return [_account(u) for u in session.scalars(select(User).order_by(User.id))]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account as the admin's list shows it."""

    account: Account
    verified: bool
    created_at: dt.datetime


def accounts_page(db: Database, *, limit: int, offset: int = 0) -> tuple[int, list[AccountRow]]:
    """(how many accounts there are, ``limit`` of them newest first from ``offset``)."""
    with db.read() as session:
        total, rows = page_of(session, select(User).order_by(User.id.desc()), limit, offset)
        return total, [
            AccountRow(_account(u), u.email_verified_at is not None, u.created_at) for (u,) in rows
        ]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
