"""Digest mail: Jinja2 templates (``digest/templates``) to a multipart/alternative message.

- text/plain: reads well on its own (numbered papers, wrapped abstracts, plain links);
- text/html: table layout, CSS inlined by css-inline (remote stylesheets off), a dark-mode
  block kept as a ``<style>`` for clients that honour ``prefers-color-scheme``; titles,
  authors and abstracts autoescaped.

A content (one list of papers) is rendered and inlined once; each recipient's copy only
swaps in its address and its unsubscribe/manage links, so rendering 100,000 digests costs a
few renders plus string replacements. Headers: From, Reply-To (if set), To, Subject, Date, a
deterministic Message-ID per (run, subscriber), List-Id, List-Unsubscribe and
List-Unsubscribe-Post (RFC 8058). DKIM signing (which must cover both List-Unsubscribe
headers) is the relay's job; see README.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import textwrap
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import cache
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select

from paperfeed.community.keys import secret_key
from paperfeed.config import Settings
from paperfeed.digest.compose import Period
from paperfeed.digest.subscriptions.links import link_token_with_key
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.text import safe_url, truncate

MAX_AUTHORS = 5
SNIPPET_CHARS = 320
# Stand-ins for the per-recipient parts; plain letters survive escaping and inlining.
P_EMAIL, P_UNSUB, P_MANAGE = "PFxEMAILx7Q", "PFxUNSUBx7Q", "PFxMANAGEx7Q"
HEADINGS = {"daily": "Today's trending papers", "weekly": "The week's best papers"}
FOR_YOU_HEADING = "For you"


@dataclass(frozen=True, slots=True)
class Card:
    arxiv_id: str
    title: str
    authors_line: str
    upvotes: int
    snippet: str
    snippet_wrapped: str
    code_url: str | None


@dataclass(frozen=True, slots=True)
class ForYouCard:
    """A paper of the reader's "For you" section and why it is there."""

    paper: Card
    reason: str


@dataclass(frozen=True, slots=True)
class RenderedContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Recipient:
    subscriber_id: int
    email: str


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("paperfeed.digest", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def card(row: Any) -> Card:
    authors = [_clean(a) for a in row.authors or []]
    line = ", ".join(authors[:MAX_AUTHORS]) + (" et al." if len(authors) > MAX_AUTHORS else "")
    snippet = truncate(row.abstract, SNIPPET_CHARS)
    code = safe_url(row.github_repo)
    return Card(
        row.arxiv_id,
        _clean(row.title),
        line,
        int(row.upvotes),
        snippet,
        textwrap.fill(snippet, 76, initial_indent="   ", subsequent_indent="   "),
        None if code == "#" else code,
    )


class Renderer:
    """Renders digests for one database and settings; keeps recent contents and cards."""

    def __init__(self, db: Database, settings: Settings, cache_size: int = 512) -> None:
        self.db, self.settings = db, settings
        self.base_url = settings.base_url.rstrip("/")
        self.key = secret_key(db, settings)
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
        self._cards: dict[int, Card] = {}
        self._contents: OrderedDict[tuple[str, int], RenderedContent] = OrderedDict()
        self.cache_size = cache_size
        domain = settings.mail_from.rpartition("@")[2] or "localhost"
        self.domain = domain
        self.from_header = formataddr((settings.site_name, settings.mail_from))

    def cards(self, paper_ids: list[int]) -> list[Card]:
        missing = [p for p in paper_ids if p not in self._cards]
        if missing:
            with self.db.read() as session:
                rows = session.execute(
                    select(
                        Paper.id,
                        Paper.arxiv_id,
                        Paper.title,
                        Paper.authors,
                        Paper.abstract,
                        Paper.github_repo,
                        (Paper.imported_upvotes + Paper.user_upvotes).label("upvotes"),
                    ).where(Paper.id.in_(missing))
                )
                for row in rows:
                    self._cards[row.id] = card(row)
        return [self._cards[p] for p in paper_ids if p in self._cards]

    def content(
        self,
        period: Period,
        content_id: int,
        paper_ids: list[int],
        reasons: Sequence[str] = (),
    ) -> RenderedContent:
        key = (period.key, content_id)
        found = self._contents.get(key)
        if found is not None:
            self._contents.move_to_end(key)
            return found
        found = self.render_content(period, paper_ids, reasons)
        self._contents[key] = found
        if len(self._contents) > self.cache_size:
            self._contents.popitem(last=False)
        return found

    def render_content(
        self, period: Period, paper_ids: list[int], reasons: Sequence[str] = ()
    ) -> RenderedContent:
        """``reasons``: one per leading paper of the reader's "For you" section."""
        s = self.settings
        everything = self.cards(paper_ids)  # a paper deleted since the run is left out
        for_you = [
            ForYouCard(self._cards[p], r)
            for p, r in zip(paper_ids, reasons, strict=False)
            if p in self._cards
        ]
        cards = self.cards(list(paper_ids[len(reasons) :]))
        first = everything[0].title if everything else ""
        more = f" (+{len(everything) - 1} more)" if len(everything) > 1 else ""
        subject = f"{s.site_name} {period.kind}: {truncate(first, 90)}{more}"
        context = {
            "site_name": s.site_name,
            "base_url": self.base_url,
            "subject": subject,
            "heading": HEADINGS[period.kind],
            "period_label": period.label,
            "kind": period.kind,
            "papers": cards,
            "for_you": for_you,
            "for_you_heading": FOR_YOU_HEADING,
            "signals_url": f"{self.base_url}/for-you/signals",
            "preheader": ", ".join(c.title for c in everything[:3]),
            "email_placeholder": P_EMAIL,
            "manage_url": P_MANAGE,
            "unsubscribe_url": P_UNSUB,
        }
        env = environment()
        text = env.get_template("digest.txt").render(context)
        html = self.inliner.inline(env.get_template("digest.html").render(context))
        return RenderedContent(subject, text, html)

    # --- per recipient
    def links(self, subscriber_id: int) -> tuple[str, str]:
        unsub = link_token_with_key(self.key, "unsubscribe", subscriber_id)
        manage = link_token_with_key(self.key, "manage", subscriber_id)
        return (
            f"{self.base_url}/unsubscribe/{unsub}",
            f"{self.base_url}/subscriptions/{manage}",
        )

    def message_id(self, run_id: int, subscriber_id: int) -> str:
        return f"<digest.{run_id}.{subscriber_id}@{self.domain}>"

    def message(
        self,
        content: RenderedContent,
        recipient: Recipient,
        run_id: int,
        period: Period,
        now: dt.datetime,
    ) -> bytes:
        """The whole message (CRLF line ends), ready for SMTP DATA."""
        unsub, manage = self.links(recipient.subscriber_id)
        email_html = recipient.email.replace("&", "&amp;").replace("<", "&lt;")
        text = (
            content.text.replace(P_EMAIL, recipient.email)
            .replace(P_UNSUB, unsub)
            .replace(P_MANAGE, manage)
        )
        html = (
            content.html.replace(P_EMAIL, email_html)
            .replace(P_UNSUB, unsub)
            .replace(P_MANAGE, manage)
        )
        boundary = f"=_pf_{run_id}_{recipient.subscriber_id}"
        head = self._headers(content.subject, recipient, run_id, period, now, unsub, boundary)
        return _multipart(head, boundary, text, html)

    def _headers(
        self,
        subject: str,
        recipient: Recipient,
        run_id: int,
        period: Period,
        now: dt.datetime,
        unsub: str,
        boundary: str,
    ) -> str:
        s = self.settings
        if not subject.isascii():
            subject = Header(subject, "utf-8", maxlinelen=76).encode()
        headers = [
            ("From", self.from_header),
            ("To", recipient.email),
            ("Subject", subject),
            ("Date", format_datetime(now.replace(tzinfo=dt.UTC), usegmt=True)),
            ("Message-ID", self.message_id(run_id, recipient.subscriber_id)),
            (
                "List-Id",
                f"{_ascii(s.site_name)} {period.kind} digest <{period.kind}.digest.{self.domain}>",
            ),
            ("List-Unsubscribe", f"<{unsub}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        if s.mail_reply_to:
            headers.insert(1, ("Reply-To", s.mail_reply_to))
        return "".join(f"{k}: {v}\r\n" for k, v in headers)


def _multipart(head: str, boundary: str, text: str, html: str) -> bytes:
    """``head`` and the two alternatives: text (quoted-printable), then HTML (base64)."""
    text_qp = binascii.b2a_qp(text.encode(), quotetabs=False, istext=True, header=False)
    html_b64 = base64.encodebytes(html.encode())
    out = bytearray(head.encode())
    out += b"\r\nThis is a multipart message in MIME format.\r\n"
    out += f"--{boundary}\r\n".encode()
    out += b"Content-Type: text/plain; charset=utf-8\r\n"
    out += b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    out += text_qp.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out += f"\r\n--{boundary}\r\n".encode()
    out += b"Content-Type: text/html; charset=utf-8\r\n"
    out += b"Content-Transfer-Encoding: base64\r\n\r\n"
    out += html_b64.replace(b"\n", b"\r\n")
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def _ascii(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isprintable() and c not in '<>"') or "x"
