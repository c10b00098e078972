"""The digest one subscriber would get now, rendered as it would be sent: nothing is sent
or recorded. ``paperfeed digest preview`` shows it."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.digest import for_you
from paperfeed.digest.clock import Clock
from paperfeed.digest.compose import SUBSCRIBER_COLUMNS, Composer, Period, subscriber_row
from paperfeed.digest.render import Recipient, Renderer
from paperfeed.digest.subscriptions import SubscriberView
from paperfeed.store.db import Database
from paperfeed.store.models import Subscriber


@dataclass(frozen=True)
class Preview:
    papers: int
    data: bytes  # the whole message (eml), or one part's content (html, text)


def preview(
    db: Database, settings: Settings, sub: SubscriberView, period: Period, fmt: str = "eml"
) -> Preview | None:
    """``sub``'s digest for ``period`` as of now: the message (``fmt`` "eml"), or its HTML
    ("html") or plain-text ("text") part. None when it would be empty (nothing is sent)."""
    clock = Clock()
    with db.read() as session:
        wanted = for_you.readers(session, period.kind, [sub.id])
    pick = for_you.gather_picks(db, settings, period, wanted).get(sub.id)
    with db.read() as session:
        composer = Composer(session, db, settings, period, clock.now())
        row = subscriber_row(
            session.execute(select(*SUBSCRIBER_COLUMNS).where(Subscriber.id == sub.id)).one()
        )
        candidates = composer.candidate_ids([row]) | {p for p, _ in (pick.ranked if pick else ())}
        sent = composer.already_sent(candidates).get(sub.id, frozenset())
        got = for_you.compose(composer, row, sent, pick)
    papers = list(got.papers)
    if not papers:
        return None
    renderer = Renderer(db, settings)
    content = renderer.render_content(period, papers, got.reasons)
    data = renderer.message(content, Recipient(sub.id, sub.email), 0, period, clock.now())
    if fmt != "eml":
        data = _part(data, "html" if fmt == "html" else "plain")
    return Preview(len(papers), data)


def _part(data: bytes, subtype: str) -> bytes:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).encode()
