"""The signed links a subscriber gets, and the confirmation mail that carries the first.

Tokens (HMAC-SHA256 under the site's secret key, ``community.keys``):

- confirm: ``<id>.<expiry>.<mac(id, expiry, nonce)>``. Expiring
  (``PAPERFEED_DIGEST_CONFIRM_LINK_HOURS``) and single-use: confirming clears the nonce, and a
  new request makes a new one, so every older link stops working.
- unsubscribe / manage: ``<id>.<mac(purpose, id)>``. They never expire (a digest from last
  year must still unsubscribe) and are the whole credential: no session, no CSRF token.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from paperfeed.community.keys import secret_key, sign
from paperfeed.config import Settings
from paperfeed.mail import Mail, Mailer, MailError
from paperfeed.params import BadValue, signed_token
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow

log = logging.getLogger(__name__)


def _key(db: Database, settings: Settings) -> bytes:
    return secret_key(db, settings)


def confirm_token(db: Database, settings: Settings, subscriber_id: int, nonce: str) -> str:
    expires = int(utcnow().replace(tzinfo=dt.UTC).timestamp())
    expires += settings.digest_confirm_link_hours * 3600
    mac = sign(_key(db, settings), "digest-confirm", str(subscriber_id), str(expires), nonce)
    return f"{subscriber_id}.{expires}.{mac}"


def parse_confirm(token: str) -> tuple[int, int, str] | None:
    """``(subscriber id, expiry, mac)`` of a well-formed confirmation token, else None."""
    try:
        (sid, expires), mac = signed_token(token, 2)
    except BadValue:
        return None
    return sid, expires, mac


def confirm_mac_ok(
    db: Database, settings: Settings, parsed: tuple[int, int, str], nonce: str
) -> bool:
    """Whether a parsed confirmation token was signed for the subscriber's current nonce."""
    sid, expires, mac = parsed
    expected = sign(_key(db, settings), "digest-confirm", str(sid), str(expires), nonce)
    return hmac.compare_digest(expected, mac)


def link_token(db: Database, settings: Settings, purpose: str, subscriber_id: int) -> str:
    """The never-expiring ``unsubscribe`` or ``manage`` token of a subscriber."""
    return link_token_with_key(_key(db, settings), purpose, subscriber_id)


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
    """Mail the confirmation link (to the outbox on a site with no relay); False (logged)
    when that failed."""
    try:
        Mailer(settings).send(confirmation_mail(settings, email, token))
    except MailError:
        log.exception("confirmation mail to %s failed", email)
        return False
    return True
