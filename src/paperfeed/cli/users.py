"""``paperfeed users …``: create the first admin, list, ban, promote."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from paperfeed.community import CommunityError, users
from paperfeed.config import get_settings
from paperfeed.store.db import get_database


@contextmanager
def _refusal_as_error() -> Iterator[None]:
    """What the community refuses is the command's error (its message, exit status 1)."""
    try:
        yield
    except CommunityError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.argument("email")
@click.option("--username", help="Default: the part of EMAIL before @ (cleaned).")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, username: str | None, admin: bool, password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a random password is printed once."""
    settings = get_settings()
    database = get_database(settings)
    database.upgrade()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        shown = False
    else:
        password = secrets.token_urlsafe(18)
        shown = True
    name = (
        username or "".join(c for c in email.split("@")[0].lower() if c.isalnum() or c in "_-")[:32]
    )
    try:
        # The operator vouches for the address: the account counts as verified.
        account = users.create_user(
            database, settings, name, email, password, is_admin=admin, verified=True
        )
    except CommunityError as exc:
        raise click.ClickException(_with_username_hint(str(exc), name, username)) from exc
    role = "admin" if account.is_admin else "user"
    click.echo(f"created {role} {account.username} <{account.email}>")
    if shown:
        click.echo(f"password (shown once, change it at /account): {password}")


def _with_username_hint(message: str, name: str, given: str | None) -> str:
    """A refused username names the way out: the name was made from the address, or given."""
    if "sername" not in message:
        return message
    if given:
        return f"{message} Choose another with --username NAME."
    return f"{message} ({name!r}, made from the address.) Choose one with --username NAME."


@users_group.command("list")
def list_users() -> None:
    """Every user, with role and status."""
    for a in users.list_accounts(get_database()):
        flags = " ".join(f for f, on in (("admin", a.is_admin), ("banned", a.is_banned)) if on)
        click.echo(f"{a.username}\t{a.email}\t{flags}")


@users_group.command("ban")
@click.argument("username")
@click.option("--undo", is_flag=True, help="Lift the ban.")
def ban(username: str, undo: bool) -> None:
    """Ban a user (ends their sessions, refuses their logins and tokens)."""
    with _refusal_as_error():
        account = users.set_banned(get_database(), username, not undo)
    click.echo(f"{account.username}: {'banned' if account.is_banned else 'not banned'}")


@users_group.command("set-admin")
@click.argument("username")
@click.option("--undo", is_flag=True, help="Take admin rights away.")
def set_admin(username: str, undo: bool) -> None:
    """Give a user admin rights."""
    with _refusal_as_error():
        account = users.set_admin(get_database(), username, not undo)
    click.echo(f"{account.username}: {'admin' if account.is_admin else 'user'}")
