"""Digest subscription pages.

``GET|POST /subscribe``                  the form (anyone; signed-in users also pick topics)
``GET|POST /subscribe/confirm/{token}``  GET shows a button, only the POST confirms (link
                                         scanners that fetch the link change nothing)
``GET|POST /unsubscribe/{token}``        GET shows a button; POST unsubscribes: RFC 8058
                                         one-click, no session, no CSRF token (the signed token
                                         is the credential; SecurityMiddleware exempts exactly
                                         this route), idempotent, always 200 for a valid token
``GET|POST /subscriptions/{token}``      manage preferences (the footer's second link)
``GET|POST /account/digest``             the signed-in user's digest settings

An account's address is only trusted once verified (``users.verify_email``): until then
``/account/digest`` shows no subscription and no manage link, and a signed-in subscribe is
refused, since anyone can sign up with someone else's address.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from paperfeed.community import users
from paperfeed.community.users import Account
from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import Database
from paperfeed.web.deps import (
    ClientIpDep,
    DatabaseDep,
    LimiterDep,
    OutboxDep,
    SettingsDep,
    UserDep,
    ViewerDep,
)
from paperfeed.web.pages.account import page

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
CHECK_INBOX = (
    "Thanks! If that address can subscribe, a confirmation link is on its way. "
    "Nothing else is sent until you press the button behind it."
)
VERIFY_FIRST = (
    "Verify your account's address first: open the link we mailed you at sign-up. "
    "Until then no subscription is linked to your account."
)
RESEND_REFUSED = "Several links were mailed already. Use the latest, or try again later."
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _form_page(request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("weekdays", WEEKDAYS)
    ctx.setdefault("error", None)
    ctx.setdefault("notice", None)
    ctx.setdefault("unverified", False)
    return page(request, template, status, **ctx)


def _unverified(db: Database, account: Account | None) -> bool:
    return account is not None and not users.email_verified(db, account)


def _prefs_from_form(settings: Settings, form: dict[str, str], topics: bool) -> subs.Prefs:
    return subs.make_prefs(
        settings,
        period=form.get("period", "daily"),
        timezone=form.get("timezone") or "UTC",
        send_hour=form.get("send_hour") or 7,
        send_weekday=form.get("send_weekday") or 0,
        max_papers=form.get("max_papers") or None,
        categories=form.get("categories") if topics else None,
        keywords=form.get("keywords") if topics else None,
        authors=form.get("authors") if topics else None,
    )


async def _form(request: Request) -> dict[str, str]:
    """The form's text fields, read on the loop so that the route can be a plain ``def``."""
    data = await request.form()
    return {k: str(v)[:2000] for k, v in data.items() if isinstance(v, str)}


FormFields = Annotated[dict[str, str], Depends(_form)]


@router.get("/subscribe")
def subscribe_form(request: Request, db: DatabaseDep, account: ViewerDep) -> Response:
    # The footer box (on cached, shared pages, so without a CSRF token) GETs here with the
    # address filled in; this page's button makes the POST.
    email = account.email if account else request.query_params.get("email", "")[:254]
    period = request.query_params.get("period", "daily")
    prefs = subs.Prefs(period=period if period in subs.PERIODS else "daily")
    return _form_page(
        request,
        "subscribe.html",
        prefs=prefs,
        email=email,
        unverified=_unverified(db, account),
    )


@router.post("/subscribe")
def subscribe(
    request: Request,
    settings: SettingsDep,
    db: DatabaseDep,
    limiter: LimiterDep,
    outbox: OutboxDep,
    ip: ClientIpDep,
    account: ViewerDep,
    form: FormFields,
) -> Response:
    email = account.email if account else form.get("email", "")
    if _unverified(db, account):
        return _form_page(
            request,
            "subscribe.html",
            403,
            prefs=subs.Prefs(),
            email=email,
            unverified=True,
            error=VERIFY_FIRST,
        )
    try:
        prefs = _prefs_from_form(settings, form, topics=account is not None)
        address = subs.normalize_email(email)
    except DigestError as exc:
        return _form_page(
            request, "subscribe.html", 400, prefs=subs.Prefs(), email=email, error=str(exc)
        )
    if not limiter.hit("subscribe-ip", settings.rate_limit_subscribe_ip, ip):
        return _form_page(
            request,
            "subscribe.html",
            429,
            prefs=prefs,
            email=email,
            error="Too many requests. Try again later.",
        )
    if limiter.hit("subscribe", settings.rate_limit_subscribe, address):
        user_id = account.id if account else None
        token = subs.request_subscription(db, settings, address, prefs, user_id=user_id)
        if token:  # sent after the answer, which must not tell whether one went out
            outbox.put(subs.confirmation_mail(settings, address, token))
    # Same answer whatever happened: the page never tells whether an address is known.
    return _form_page(request, "subscribe_done.html", notice=CHECK_INBOX)


@router.get("/subscribe/confirm/{token}")
def confirm_page(request: Request, settings: SettingsDep, db: DatabaseDep, token: str) -> Response:
    found = subs.check_confirm_token(db, settings, token)
    return _form_page(
        request,
        "subscribe_confirm.html",
        200 if found else 400,
        token=token if found else None,
        email=found.email if found else "",
        done=False,
    )


@router.post("/subscribe/confirm/{token}")
def confirm(request: Request, settings: SettingsDep, db: DatabaseDep, token: str) -> Response:
    found = subs.confirm(db, settings, token)
    if found is None:
        return _form_page(request, "subscribe_confirm.html", 400, token=None, email="", done=False)
    manage = subs.link_token(db, settings, "manage", found.id)
    return _form_page(
        request, "subscribe_confirm.html", token=None, email=found.email, done=True, manage=manage
    )


@router.get("/unsubscribe/{token}")
def unsubscribe_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, token: str
) -> Response:
    sid = subs.check_link_token(db, settings, "unsubscribe", token)
    sub = subs.get(db, sid) if sid else None
    return _form_page(
        request,
        "unsubscribe.html",
        200 if sub else 400,
        token=token if sub else None,
        sub=sub,
        done=False,
    )


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, settings: SettingsDep, db: DatabaseDep, token: str) -> Response:
    """RFC 8058 one-click: the body (``List-Unsubscribe=One-Click``) is not needed, the token
    is. Repeating it changes nothing and answers 200 again."""
    sid = subs.check_link_token(db, settings, "unsubscribe", token)
    if sid is None or not subs.unsubscribe_id(db, sid):
        return _form_page(request, "unsubscribe.html", 400, token=None, sub=None, done=False)
    return _form_page(
        request,
        "unsubscribe.html",
        token=None,
        sub=subs.get(db, sid),
        done=True,
        manage=subs.link_token(db, settings, "manage", sid),
    )


def _manage(settings: Settings, db: Database, token: str) -> subs.SubscriberView | None:
    sid = subs.check_link_token(db, settings, "manage", token)
    return subs.get(db, sid) if sid else None


@router.get("/subscriptions/{token}")
def manage_page(request: Request, settings: SettingsDep, db: DatabaseDep, token: str) -> Response:
    sub = _manage(settings, db, token)
    if sub is None:
        return _form_page(request, "subscription_manage.html", 400, sub=None, token=None)
    return _form_page(request, "subscription_manage.html", sub=sub, prefs=sub.prefs, token=token)


@router.post("/subscriptions/{token}")
def manage(
    request: Request, settings: SettingsDep, db: DatabaseDep, form: FormFields, token: str
) -> Response:
    sub = _manage(settings, db, token)
    if sub is None:
        return _form_page(request, "subscription_manage.html", 400, sub=None, token=None)
    action = form.get("action", "save")
    if action == "unsubscribe":
        subs.unsubscribe_id(db, sub.id)
        notice = "You are unsubscribed."
    elif action == "resubscribe":
        ok = subs.resubscribe(db, sub.id)
        notice = "Welcome back: you are subscribed again." if ok else "Nothing changed."
    else:
        try:
            subs.update_prefs(db, sub.id, _prefs_from_form(settings, form, topics=True))
        except DigestError as exc:
            return _form_page(
                request,
                "subscription_manage.html",
                400,
                sub=sub,
                prefs=sub.prefs,
                token=token,
                error=str(exc),
            )
        notice = "Preferences saved."
    fresh = subs.get(db, sub.id)
    assert fresh is not None
    return _form_page(
        request,
        "subscription_manage.html",
        sub=fresh,
        prefs=fresh.prefs,
        token=token,
        notice=notice,
    )


@router.get("/account/digest")
def account_digest(
    request: Request, settings: SettingsDep, db: DatabaseDep, account: UserDep
) -> Response:
    if _unverified(db, account):
        sent = request.query_params.get("sent")
        return _form_page(
            request,
            "subscribe.html",
            prefs=subs.Prefs(),
            email=account.email,
            unverified=True,
            error=RESEND_REFUSED if sent == "0" else None if sent == "1" else VERIFY_FIRST,
            notice="A new verification link is on its way." if sent == "1" else None,
        )
    sub = subs.get_by_email(db, account.email)
    manage = subs.link_token(db, settings, "manage", sub.id) if sub else None
    return _form_page(
        request,
        "subscribe.html",
        prefs=sub.prefs if sub else subs.Prefs(),
        email=account.email,
        sub=sub,
        manage=manage,
    )
