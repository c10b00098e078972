"""Password rules and hashing (Argon2id via argon2-cffi).

Rules: 8 to 128 characters (any characters, spaces too), not one of the most common passwords,
not the username or the email address. Hashes carry their parameters; :func:`needs_rehash`
tells when the configured ones changed, and login then stores a fresh hash.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paperfeed.community import CommunityError
from paperfeed.config import Settings

MIN_LENGTH = 8
MAX_LENGTH = 128


class PasswordProblem(CommunityError):
    """A new password breaks a rule."""


@cache
def common_passwords() -> frozenset[str]:
    text = files("paperfeed.community").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_new_password(password: str, *, username: str = "", email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordProblem(f"The password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordProblem(f"The password can have at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords():
        raise PasswordProblem("That password is one of the most common ones; choose another.")
    if username and lowered == username.lower():
        raise PasswordProblem("The password cannot be your username.")
    if email and (lowered == email.lower() or lowered == email.lower().split("@")[0]):
        raise PasswordProblem("The password cannot be your email address.")


@cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


def hash_password(password: str, settings: Settings) -> str:
    return hasher(settings).hash(password)


def verify_password(stored_hash: str, password: str, settings: Settings) -> bool:
    try:
        return hasher(settings).verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, settings: Settings) -> bool:
    try:
        return hasher(settings).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("not a password anyone has")


def burn_verify(password: str, settings: Settings) -> None:
    """Spend what a real verification costs, so an unknown login answers as slowly as a
    wrong password does."""
    verify_password(
        _dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib), password, settings
    )
