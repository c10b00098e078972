"""Account pages: sign up, log in, log out (here or everywhere), change and reset the
password, API tokens, delete the account.

Login is rate-limited per client address and slowed per account (``community.login_delay``);
reset per account and per client address. A failed login gets the same page and status
whether the user is unknown or the password wrong (the login is not echoed back, and an
unknown user costs a full Argon2 verification). Sign-up and reset answer the same page
whether or not the address is registered; their mail goes through the process's
:class:`MailQueue`, after the answer, so they also take about the same time.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.community import CommunityError, NotFound, sessions, tokens, users
from paperfeed.community import collections as colls
from paperfeed.community.keys import secret_key, sign
from paperfeed.community.login_delay import LoginDelay
from paperfeed.community.users import Account
from paperfeed.config import Settings
from paperfeed.mail import Mail
from paperfeed.store.db import Database
from paperfeed.web.auth import clear_session, cookie_name, session_cookie, set_session
from paperfeed.web.deps import (
    ContextDep,
    LimiterDep,
    Member,
    MemberDep,
    OutboxDep,
    ThrottleDep,
    ViewerDep,
    csrf_token,
    settings_of,
)
from paperfeed.web.pages.render import html_response, render

log = logging.getLogger(__name__)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(include_in_schema=False)

LOGIN_FAILED = "Wrong username or password."
TOO_MANY = "Too many attempts. Wait a minute and try again."
RESET_SENT = "If an account uses that address, a link to reset its password is on its way."
SIGNED_UP = (
    "Check your mail: a link to verify your address is on its way. Log in with your "
    "username and password."
)

Text = Annotated[str, Form(max_length=10_000)]


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("form_csrf", csrf_token(request))
    # No SMTP relay: pages that promise mail say it waits in the outbox (_mail_note.html).
    context.setdefault("no_relay", not settings_of(request).smtp_host)
    context.setdefault("period_nav", {"daily": "/", "weekly": "/", "monthly": "/"})
    response = html_response(render(request, template, context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(value: str | None) -> str:
    """A local path to go back to; anything else (other hosts, //, \\) becomes /."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(c.isspace() or ord(c) < 32 for c in value):
        return "/"
    return value


def redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _login_response(
    request: Request, settings: Settings, db: Database, account: Account, next_path: str
) -> Response:
    old = request.cookies.get(session_cookie(settings))
    if old:
        sessions.end_session(db, old)  # rotate: the pre-login session id never lives on
    token = sessions.create_session(db, account, settings.session_days)
    response = redirect(safe_next(next_path))
    set_session(response, settings, token)
    return response


# --- sign up, log in, log out ------------------------------------------------------------


@router.get("/signup")
def signup_form(request: Request, account: ViewerDep) -> Response:
    if account:
        return redirect("/")
    return page(request, "signup.html", username="", email="", error=None)


@router.post("/signup")
def signup(
    ctx: ContextDep,
    throttle: ThrottleDep,
    outbox: OutboxDep,
    username: Text = "",
    email: Text = "",
    password: Text = "",
) -> Response:
    request, settings, db = ctx.request, ctx.settings, ctx.db
    if not throttle.per_ip("signup-ip", settings.rate_limit_signup_ip):
        return page(request, "signup.html", 429, username=username, email=email, error=TOO_MANY)
    try:
        account = users.create_user(db, settings, username, email, password)
    except users.AddressTaken:
        # Answered like a sign-up that worked; the address's owner hears of it instead (a
        # few times an hour at most: the form must not become a way to flood them).
        address = users.normalize_email(email)
        if throttle.limiter.hit("signup-taken", settings.rate_limit_reset, address):
            outbox.put(_address_taken_mail(settings, address))
        return page(
            request, "login.html", next="/", error=None, notice=SIGNED_UP, mail_promised=True
        )
    except CommunityError as exc:
        return page(request, "signup.html", 400, username=username, email=email, error=str(exc))
    outbox.put(verification_mail(db, settings, account))
    return page(request, "login.html", next="/", error=None, notice=SIGNED_UP, mail_promised=True)


def verification_mail(db: Database, settings: Settings, account: Account) -> Mail:
    link = f"{settings.base_url.rstrip('/')}/verify/{users.verify_token(db, settings, account)}"
    text = (
        f"Someone (we hope you) made the account {account.username} on {settings.site_name} "
        f"with this address.\n\nTo confirm that it is yours, open this link and press the "
        f"button on the page (valid {settings.email_verify_link_hours} hours, once):\n\n"
        f"{link}\n\nUntil then no digest subscription is linked to the account. If it was "
        "not you, ignore this mail.\n"
    )
    return Mail(account.email, f"{settings.site_name}: verify your address", text)


def _address_taken_mail(settings: Settings, address: str) -> Mail:
    base = settings.base_url.rstrip("/")
    text = (
        f"Someone tried to create an account on {settings.site_name} with this address, "
        f"which already has one. Nothing was changed.\n\nIf it was you and you forgot your "
        f"password, ask for a new one here: {base}/reset\n\nIf not, ignore this mail.\n"
    )
    return Mail(address, f"{settings.site_name}: sign-up with your address", text)


# --- address verification (the link mailed at sign-up) -------------------------------------

BAD_VERIFY_LINK = "This link is invalid, expired or already used. Log in to get a new one."


@router.get("/verify/{token}")
def verify_page(ctx: ContextDep, token: str) -> Response:
    """A button, not the verification itself: mail scanners that open links change nothing."""
    found = users.check_verify_token(ctx.db, ctx.settings, token)
    return _verify_answer(ctx.request, found, form_token=token, done=False)


@router.post("/verify/{token}")
def verify(ctx: ContextDep, token: str) -> Response:
    found = users.verify_email(ctx.db, ctx.settings, token)
    return _verify_answer(ctx.request, found, form_token=None, done=True)


def _verify_answer(
    request: Request, found: Account | None, *, form_token: str | None, done: bool
) -> Response:
    """The verify page: the bad-link error when ``found`` is None, else its account's address
    (with the button's ``form_token`` before, ``done`` after)."""
    if found is None:
        return page(request, "verify.html", 400, error=BAD_VERIFY_LINK, token=None, done=False)
    return page(request, "verify.html", error=None, token=form_token, email=found.email, done=done)


@router.post("/account/verify")
def resend_verification(me: MemberDep, limiter: LimiterDep, outbox: OutboxDep) -> Response:
    """Mail a fresh verification link to the signed-in account's address."""
    settings, db, account = me.settings, me.db, me.account
    if users.email_verified(db, account):
        return redirect("/account/digest")
    if not limiter.hit("verify", settings.rate_limit_reset, str(account.id)):
        return redirect("/account/digest?sent=0")
    outbox.put(verification_mail(db, settings, account))
    return redirect("/account/digest?sent=1")


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=safe_next(next), error=None, notice=None)


def _device_cookie(settings: Settings) -> str:
    return cookie_name(settings, "pf_device")


def _throttle_key(request: Request, settings: Settings, db: Database, key: str) -> str:
    """``key``, or (account, device) when this browser logged in to that account before."""
    uid, _, rest = request.cookies.get(_device_cookie(settings), "").partition(".")
    device, _, mac = rest.partition(".")
    if not device or key != f"account:{uid}" or len(rest) > 200:
        return key
    expected = sign(secret_key(db, settings), "login-device", uid, device)
    return f"{key}/device:{device}" if hmac.compare_digest(expected, mac) else key


def _remember_device(
    response: Response, settings: Settings, db: Database, account: Account
) -> None:
    device = secrets.token_urlsafe(16)
    mac = sign(secret_key(db, settings), "login-device", str(account.id), device)
    response.set_cookie(
        _device_cookie(settings),
        f"{account.id}.{device}.{mac}",
        max_age=365 * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def _waiting(request: Request, seconds: float) -> Response:
    minutes = f"{math.ceil(seconds / 60)} minute(s)" if seconds > 90 else f"{math.ceil(seconds)} s"
    error = f"Too many failed logins for this account. Try again in {minutes}."
    response = page(request, "login.html", 429, next="/", error=error, notice=None)
    response.headers["Retry-After"] = str(math.ceil(seconds))
    return response


@router.post("/login")
def login(
    ctx: ContextDep, throttle: ThrottleDep, login: Text = "", password: Text = "", next: Text = "/"
) -> Response:
    request, settings, db = ctx.request, ctx.settings, ctx.db
    if not throttle.per_ip("login-ip", settings.rate_limit_login_ip):
        return page(request, "login.html", 429, next="/", error=TOO_MANY, notice=None)
    delay = LoginDelay(throttle.limiter, settings)
    key = _throttle_key(request, settings, db, users.login_key(db, login))
    wait = delay.claim(key)
    if wait:
        return _waiting(request, wait)
    account = users.authenticate(db, settings, login, password)
    if account is None:
        delay.failed(key)
        return page(request, "login.html", 400, next="/", error=LOGIN_FAILED, notice=None)
    delay.succeeded(key)
    response = _login_response(request, settings, db, account, next)
    _remember_device(response, settings, db, account)
    return response


@router.post("/logout")
def logout(ctx: ContextDep) -> Response:
    token = ctx.request.cookies.get(session_cookie(ctx.settings))
    if token:
        sessions.end_session(ctx.db, token)
    return _logged_out(ctx.settings, "/")


def _logged_out(settings: Settings, path: str) -> Response:
    """A redirect to ``path`` that drops this browser's session cookie."""
    response = redirect(path)
    clear_session(response, settings)
    return response


# --- the account page ----------------------------------------------------------------------


def _account_page(
    me: Member,
    status: int = 200,
    *,
    error: str | None = None,
    notice: str | None = None,
    new_token: str | None = None,
) -> Response:
    db, account = me.db, me.account
    return page(
        me.request,
        "account.html",
        status,
        error=error,
        notice=notice,
        new_token=new_token,
        tokens=tokens.list_tokens(db, account),
        collections=colls.for_user(db, account.username, include_private=True),
    )


@router.get("/account")
def account_page(me: MemberDep) -> Response:
    return _account_page(me)


# The forms that end sessions (password change, reset, log out everywhere) carry this
# checkbox, checked by default: a token is a login too. Unchecked, the field is absent.
RevokeTokens = Annotated[str, Form(max_length=10)]


def _revoke_tokens_if_asked(db: Database, account: Account, revoke_tokens: str) -> int:
    return tokens.revoke_all_tokens(db, account.id) if revoke_tokens else 0


@router.post("/account/password")
def change_password(
    me: MemberDep, current: Text = "", new: Text = "", revoke_tokens: RevokeTokens = ""
) -> Response:
    settings, db, account = me.settings, me.db, me.account
    try:
        users.change_password(db, settings, account, current, new)
    except CommunityError as exc:
        return _account_page(me, 400, error=str(exc))
    _revoke_tokens_if_asked(db, account, revoke_tokens)
    # Every session ended with the change; this browser gets a fresh one.
    return _login_response(me.request, settings, db, account, "/account")


@router.post("/account/logout-everywhere")
def logout_everywhere(me: MemberDep, revoke_tokens: RevokeTokens = "") -> Response:
    sessions.end_all_sessions(me.db, me.account.id)
    _revoke_tokens_if_asked(me.db, me.account, revoke_tokens)
    return _logged_out(me.settings, "/login")


@router.post("/account/delete")
def delete_account(me: MemberDep, password: Text = "") -> Response:
    if users.authenticate(me.db, me.settings, me.account.username, password) is None:
        return _account_page(me, 400, error="The password is wrong.")
    users.delete_account(me.db, me.account)
    return _logged_out(me.settings, "/")


@router.post("/account/tokens")
def create_token(me: MemberDep, name: Text = "", scope: Text = "read") -> Response:
    try:
        plain, _info = tokens.create_token(me.db, me.account, name, scope)
    except CommunityError as exc:
        return _account_page(me, 400, error=str(exc))
    return _account_page(me, new_token=plain)


@router.post("/account/tokens/{token_id:int}/revoke")
def revoke_token(me: MemberDep, token_id: Id) -> Response:
    try:
        tokens.revoke_token(me.db, me.account, token_id)
    except NotFound as exc:
        return _account_page(me, 404, error=str(exc))
    return redirect("/account")


# --- password reset ------------------------------------------------------------------------

BAD_RESET_LINK = "This link is invalid, expired or already used. Ask for a new one."


def _reset_page(request: Request, status: int = 200, **context: str | None) -> Response:
    """The reset page: the form asking for the address, or (with ``token``) the new password;
    ``context`` says which, and any ``error`` or ``notice``."""
    shown: dict[str, str | None] = {"error": None, "notice": None, "token": None, **context}
    return page(request, "reset.html", status, **shown, invalid=False)


@router.get("/reset")
def reset_form(request: Request) -> Response:
    return _reset_page(request)


@router.post("/reset")
def reset_request(
    ctx: ContextDep, throttle: ThrottleDep, outbox: OutboxDep, email: Text = ""
) -> Response:
    request, settings, db = ctx.request, ctx.settings, ctx.db
    try:
        address = users.normalize_email(email)
    except CommunityError as exc:
        return _reset_page(request, 400, error=str(exc))
    if not (
        throttle.per_ip("reset-ip", settings.rate_limit_reset_ip)
        and throttle.limiter.hit("reset", settings.rate_limit_reset, address)
    ):
        return _reset_page(request, 429, error=TOO_MANY)
    account = users.get_account_by_email(db, address)
    if account is not None and not account.is_banned:
        link = f"{settings.base_url.rstrip('/')}/reset/{users.reset_token(db, settings, account)}"
        text = (
            f"Someone (we hope you) asked to reset the password of {account.username} on "
            f"{settings.site_name}.\n\nSet a new password here (valid "
            f"{settings.reset_link_minutes} minutes, once):\n\n{link}\n\n"
            "If it was not you, ignore this mail; your password stays as it is.\n"
        )
        outbox.put(Mail(account.email, f"{settings.site_name}: reset your password", text))
    return _reset_page(request, notice=RESET_SENT)


@router.get("/reset/{token}")
def reset_link(ctx: ContextDep, token: str) -> Response:
    if users.check_reset_token(ctx.db, ctx.settings, token) is None:
        return _reset_page(ctx.request, 400, error=BAD_RESET_LINK)
    return _reset_page(ctx.request, token=token)


@router.post("/reset/{token}")
def reset_password(
    ctx: ContextDep, token: str, password: Text = "", revoke_tokens: RevokeTokens = ""
) -> Response:
    request, settings, db = ctx.request, ctx.settings, ctx.db
    account = users.check_reset_token(db, settings, token)
    if account is None:
        return _reset_page(request, 400, error=BAD_RESET_LINK)
    try:
        users.set_password(db, settings, account, password)
    except CommunityError as exc:
        return _reset_page(request, 400, error=str(exc), token=token)
    revoked = _revoke_tokens_if_asked(db, account, revoke_tokens)
    return page(
        request,
        "login.html",
        next="/",
        error=None,
        notice=f"Your password is set. Log in with it.{_revoked_note(revoked)}",
    )


def _revoked_note(count: int) -> str:
    return f" {count} API token{'s' if count != 1 else ''} revoked." if count else ""
