"""``paperfeed users …``: create the first admin, list, ban, promote."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from paperfeed.community import CommunityError, users
from paperfeed.config import get_settings
from paperfeed.store.db import Database, get_database


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


Switch = Callable[[Database, str, bool], str]  # (db, username, on) -> what it says


def _switch(name: str, undo_help: str) -> Callable[[Switch], click.Command]:
    """``paperfeed users NAME USERNAME [--undo]``: the decorated function turns one of a
    user's switches on (off with ``--undo``) and says where the user then stands."""

    def register(switch: Switch) -> click.Command:
        @users_group.command(name, help=switch.__doc__)
        @click.argument("username")
        @click.option("--undo", is_flag=True, help=undo_help)
        def command(username: str, undo: bool) -> None:
            with _refusal_as_error():
                click.echo(switch(get_database(), username, not undo))

        return command

    return register


@_switch("ban", "Lift the ban.")
def ban(db: Database, username: str, on: bool) -> str:
    """Ban a user (ends their sessions, refuses their logins and tokens)."""
    account = users.set_banned(db, username, on)
    return f"{account.username}: {'banned' if account.is_banned else 'not banned'}"


@_switch("set-admin", "Take admin rights away.")
def set_admin(db: Database, username: str, on: bool) -> str:
    """Give a user admin rights."""
    account = users.set_admin(db, username, on)
    return f"{account.username}: {'admin' if account.is_admin else 'user'}"
