"""Personal API tokens: ``pf_`` + 32 random bytes, shown once, stored as SHA-256, scoped
``read`` or ``write``, revocable."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, func, select, update

from paperfeed.community import CommunityError, NotFound, clean_text
from paperfeed.community.keys import digest
from paperfeed.community.sql import sql
from paperfeed.community.users import Account
from paperfeed.store.db import Database
from paperfeed.store.models import ApiToken, utcnow
from paperfeed.store.records import record_of

Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
MAX_TOKENS = 50


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    scope: str
    created_at: object
    last_used_at: object
    revoked: bool


def create_token(db: Database, account: Account, name: str, scope: str) -> tuple[str, TokenInfo]:
    """A new token: its plaintext (to show once) and what is kept."""
    name = " ".join(clean_text(name).split())[:64] or "token"
    if scope not in SCOPES:
        raise CommunityError("The scope is read or write.")
    token = "pf_" + secrets.token_urlsafe(32)
    with db.write() as session:
        live = session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == account.id, ApiToken.revoked_at.is_(None))
        )
        if (live or 0) >= MAX_TOKENS:
            raise CommunityError(f"At most {MAX_TOKENS} live tokens; revoke one first.")
        row = ApiToken(
            user_id=account.id,
            name=name,
            token_hash=digest(token),
            prefix=token[:10],
            scope=scope,
        )
        session.add(row)
        session.flush()
        return token, _info(row)


def _info(row: ApiToken) -> TokenInfo:
    return record_of(TokenInfo, row, revoked=row.revoked_at is not None)


def list_tokens(db: Database, account: Account) -> list[TokenInfo]:
    with db.read() as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.user_id == account.id).order_by(ApiToken.id.desc())
        )
        return [_info(r) for r in rows]


def revoke_token(db: Database, account: Account, token_id: int) -> None:
    with db.write() as session:
        done = cast(
            CursorResult[Any],
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    ApiToken.user_id == account.id,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            ),
        ).rowcount
    if not done:
        raise NotFound("No such live token.")


def revoke_all_tokens(db: Database, user_id: int) -> int:
    """Revoke every live token of a user (after a password change or reset, or "log out
    everywhere", when the user asks); how many were live."""
    with db.write() as session:
        done = cast(
            CursorResult[Any],
            session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ),
        ).rowcount
    return int(done or 0)


# What a request with a refused token is told (401, and 403 for a write with a read token).
TOKEN_REFUSED = "invalid or revoked API token"
READ_ONLY = "this API token is read-only"

# Every API write looks its token up, so this is the driver's own SQL (Database.fetch_one).
_TOKEN_ACCOUNT = sql(
    "SELECT u.{users.id}, u.{users.username}, u.{users.email}, u.{users.is_admin}, "
    "u.{users.is_banned}, t.{api_tokens.scope} "
    "FROM {users} u JOIN {api_tokens} t ON t.{api_tokens.user_id} = u.{users.id} "
    "WHERE t.{api_tokens.token_hash} = ? AND t.{api_tokens.revoked_at} IS NULL"
)


def token_account(db: Database, token: str) -> tuple[Account, str] | None:
    """The account and scope of a live token, else None."""
    if not token.startswith("pf_") or len(token) > 128:
        return None
    row = db.fetch_one(_TOKEN_ACCOUNT, (digest(token),))
    if row is None:
        return None
    user_id, username, email, is_admin, is_banned, scope = row
    if is_banned:
        return None
    return Account(user_id, username, email, bool(is_admin), bool(is_banned)), scope
