"""Subscriptions: double opt-in, one-click unsubscribe, preferences, admin import.

- ``prefs``: the preferences a subscriber chooses, checked;
- ``links``: the signed confirm / unsubscribe / manage tokens, and the confirmation mail;
- ``subscribers``: the subscriber store (subscribe, confirm, unsubscribe, admin add and
  remove, hard bounces); only ``confirmed`` subscribers (``ELIGIBLE``) are ever sent a digest;
- ``csv_import``: an existing list imported from CSV.

The names below are the package's interface (pages, CLI and tests use them through
``subs.<name>``).
"""

from __future__ import annotations

from paperfeed.digest.subscriptions.csv_import import ImportReport, decode_csv, import_csv
from paperfeed.digest.subscriptions.links import (
    check_link_token,
    confirm_token,
    confirmation_mail,
    link_token,
    link_token_with_key,
    send_confirmation,
)
from paperfeed.digest.subscriptions.prefs import PERIODS, Prefs, make_prefs
from paperfeed.digest.subscriptions.subscribers import (
    ELIGIBLE,
    SubscriberView,
    add,
    check_confirm_token,
    confirm,
    get,
    get_by_email,
    list_all,
    normalize_email,
    page,
    prefs_of,
    record_hard_bounce,
    remove,
    request_subscription,
    resubscribe,
    unsubscribe_id,
    update_prefs,
)

__all__ = [
    "ELIGIBLE",
    "PERIODS",
    "ImportReport",
    "Prefs",
    "SubscriberView",
    "add",
    "check_confirm_token",
    "check_link_token",
    "confirm",
    "confirm_token",
    "confirmation_mail",
    "decode_csv",
    "get",
    "get_by_email",
    "import_csv",
    "link_token",
    "link_token_with_key",
    "list_all",
    "make_prefs",
    "normalize_email",
    "page",
    "prefs_of",
    "record_hard_bounce",
    "remove",
    "request_subscription",
    "resubscribe",
    "send_confirmation",
    "unsubscribe_id",
    "update_prefs",
]
