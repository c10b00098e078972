"""The digest's "For you" section, through a real SMTP server: readers with an account get
the period's papers ranked for them (with reasons) above the trending list, never a paper
twice within a mail or across digests; the switch removes it; subscribers without an account
keep the shared digest; the papers shown are recorded as impressions."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import delete, insert, select

from paperfeed import papers
from paperfeed.config import Settings, get_settings
from paperfeed.digest import deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import FakeClock
from paperfeed.digest.compose import period_for
from paperfeed.digest.preview import preview
from paperfeed.recommend import candidates
from paperfeed.recommend.signals import dismiss, set_digest_for_you
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, DigestContent, Paper, Subscriber
from tests.digest.conftest import SmtpSink
from tests.recommend.rank_corpus import Corpus, add_user, build, impressions, upvote

T0 = dt.datetime(2025, 3, 26, 6, 0)
WEEK1 = dt.date(2025, 3, 3)  # Monday: papers 2-8 of the corpus are first published that week
WEEK2 = dt.date(2025, 3, 10)
PAPER_URL = re.compile(r"https://papers\.example\.org/papers/(\d{4}\.\d{5})")
REASON_A = "close to “Topic A paper 0”, which you upvoted"


@pytest.fixture
def fy_settings(digest_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("PAPERFEED_ANN_REFRESH_SECONDS", "0")
    get_settings.cache_clear()
    candidates.forget_pools()
    yield get_settings()
    candidates.forget_pools()


@pytest.fixture
def corpus(database: Database, fy_settings: Settings) -> Corpus:
    """The ranking tests' corpus (topics A and B, one paper a day from March 1), each paper
    featured on its publication day."""
    found = build(database, fy_settings)
    with database.write() as s:
        for paper_id, day in found.day_of.items():
            at = dt.datetime.combine(day, dt.time(9))
            s.add(DailyEntry(paper_id=paper_id, day=day, submitted_at=at, source="import"))
    return found


def subscribe(
    db: Database, email: str, period: str, user_id: int | None = None, max_papers: int = 4
) -> None:
    with db.write() as s:
        s.execute(
            insert(Subscriber),
            [
                {
                    "email": email,
                    "user_id": user_id,
                    "status": "confirmed",
                    "period": period,
                    "timezone": "UTC",
                    "send_hour": 7,
                    "send_weekday": 0,
                    "max_papers": max_papers,
                    "categories": [],
                    "keywords": [],
                    "authors": [],
                    "consent_at": T0,
                    "consent_source": "test",
                    "created_at": T0,
                    "updated_at": T0,
                }
            ],
        )


def send(db: Database, settings: Settings, kind: str, day: dt.date) -> None:
    clock = FakeClock(T0)
    run = deliver.create_run(db, settings, kind, day, clock)
    sender = deliver.Sender(db, settings, clock, rng=random.Random(7))
    sender.register()
    try:
        sender.send_runs([run.id])
    finally:
        sender.unregister()


def sections(mail: EmailMessage) -> tuple[list[str], list[str], str]:
    """(For-you arXiv ids, the other ids, the text part) of a digest, in mail order."""
    text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    text = text.replace("\r\n", "\n")
    _, sep, rest = text.partition("\nFor you\n-------\n")
    if not sep:
        return [], PAPER_URL.findall(text), text
    top, _, below = rest.partition("Turn this section off")
    return PAPER_URL.findall(top), PAPER_URL.findall(below), text


def only(sink: SmtpSink, address: str) -> EmailMessage:
    (mail,) = sink.to(address)
    return mail


def ids_of(db: Database, arxiv_ids: list[str]) -> list[int]:
    with db.read() as s:
        stmt = select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(arxiv_ids))
        found = {str(a): int(i) for a, i in s.execute(stmt)}
    return [found[a] for a in arxiv_ids]


def test_for_you_section_ranked_with_reasons(
    database: Database, fy_settings: Settings, corpus: Corpus, smtp_sink: SmtpSink
) -> None:
    ann, bob, cy = (add_user(database, n) for n in ("ann", "bob", "cy"))
    upvote(database, ann, corpus.topics["A"][0])
    upvote(database, bob, corpus.topics["B"][0])
    subscribe(database, "ann@x.org", "weekly", ann, max_papers=6)
    subscribe(database, "bob@x.org", "weekly", bob)
    subscribe(database, "cy@x.org", "weekly", cy)
    subscribe(database, "anon1@x.org", "weekly")
    subscribe(database, "anon2@x.org", "weekly")
    send(database, fy_settings, "weekly", WEEK1)

    a_mine, a_rest, a_text = sections(only(smtp_sink, "ann@x.org"))
    assert len(a_mine) == 3 and a_rest  # half of the 6 papers, then the trending list
    assert {corpus.topic_of(p) for p in ids_of(database, a_mine)} == {"A"}
    assert a_text.count(REASON_A) == 3
    assert "https://papers.example.org/for-you/signals" in a_text
    assert len(a_mine + a_rest) == len(set(a_mine + a_rest)) == 6  # never twice in a mail
    html = str(only(smtp_sink, "ann@x.org").get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert "For you" in html and "Topic A paper 0" in html and "/for-you/signals" in html
    b_mine, _, _ = sections(only(smtp_sink, "bob@x.org"))
    assert b_mine and {corpus.topic_of(p) for p in ids_of(database, b_mine)} == {"B"}

    # No account, or an account with no signal at all: the shared digest, unchanged.
    with database.read() as s:
        week = papers.period_items(s, WEEK1, WEEK1 + dt.timedelta(days=7))
    shared = [i.arxiv_id for i in week][:4]
    for address in ("anon1@x.org", "anon2@x.org", "cy@x.org"):
        mine, rest, text = sections(only(smtp_sink, address))
        assert mine == [] and rest == shared and "For you" not in text
    with database.read() as s:
        contents = s.execute(select(DigestContent.paper_ids, DigestContent.for_you)).all()
    assert sum(1 for _, reasons in contents if reasons is None) == 1  # one shared content
    assert sorted(len(r or []) for _, r in contents) == [0, 2, 3]

    # The section's papers are recorded as shown; nothing for the reader without one.
    assert set(impressions(database, ann)) == set(ids_of(database, a_mine))
    assert impressions(database, cy) == {}


def test_switch_off_removes_the_section(
    database: Database, fy_settings: Settings, corpus: Corpus, smtp_sink: SmtpSink
) -> None:
    ann, bob = add_user(database, "ann"), add_user(database, "bob")
    for user, address in [(ann, "ann@x.org"), (bob, "bob@x.org")]:
        upvote(database, user, corpus.topics["A"][0])
        subscribe(database, address, "weekly", user)
    set_digest_for_you(database, ann, False)
    # The preview shows the section as it would be sent, and records nothing.
    bob_sub = subs.get_by_email(database, "bob@x.org")
    assert bob_sub is not None
    shown = preview(database, fy_settings, bob_sub, period_for("weekly", WEEK2), "text")
    assert shown is not None and REASON_A in shown.data.decode()
    assert impressions(database, bob) == {}
    send(database, fy_settings, "weekly", WEEK2)
    mine, rest, text = sections(only(smtp_sink, "ann@x.org"))
    assert mine == [] and rest and "For you" not in text
    assert impressions(database, ann) == {}
    b_mine, _, _ = sections(only(smtp_sink, "bob@x.org"))
    assert len(b_mine) == 2  # the same signals, the section on
    set_digest_for_you(database, ann, True)
    send(database, fy_settings, "weekly", WEEK2 + dt.timedelta(days=7))
    back, _, _ = sections(smtp_sink.to("ann@x.org")[-1])
    assert back


def test_never_a_paper_twice_across_digests(
    database: Database, fy_settings: Settings, corpus: Corpus, smtp_sink: SmtpSink
) -> None:
    """Daily sections look back three days: consecutive days rank overlapping papers, and
    the best A paper of the overlap (March 5) must not come back the second day. Nothing is
    featured, so the For-you papers are the only ones the earlier-digest check must know."""
    with database.write() as s:
        s.execute(delete(DailyEntry))
    dan = add_user(database, "dan")
    upvote(database, dan, corpus.topics["A"][0])
    subscribe(database, "dan@x.org", "daily", dan)
    subscribe(database, "eve@x.org", "daily")
    send(database, fy_settings, "daily", dt.date(2025, 3, 5))
    send(database, fy_settings, "daily", dt.date(2025, 3, 6))
    first, second = smtp_sink.to("dan@x.org")
    one, two = sections(first), sections(second)
    assert one[0] and two[0]  # a section both days
    march5 = corpus.arxiv_of[corpus.topics["A"][2]]
    assert march5 in one[0]
    seen = one[0] + one[1] + two[0] + two[1]
    assert len(seen) == len(set(seen)), seen


def test_a_dismissed_paper_is_in_neither_section(
    database: Database, fy_settings: Settings, corpus: Corpus, smtp_sink: SmtpSink
) -> None:
    """The period's top trending paper, dismissed by a reader with a For-you section and by
    one with no positive signal (no section): neither digest has it; the shared one does."""
    with database.read() as s:
        week = papers.period_items(s, WEEK1, WEEK1 + dt.timedelta(days=7))
    top = week[0].arxiv_id
    ann, cy = add_user(database, "ann"), add_user(database, "cy")
    upvote(database, ann, corpus.topics["A"][0], corpus.topics["B"][0])
    for user, address in [(ann, "ann@x.org"), (cy, "cy@x.org")]:
        dismiss(database, user, top)
        subscribe(database, address, "weekly", user)
    subscribe(database, "anon@x.org", "weekly")
    send(database, fy_settings, "weekly", WEEK1)
    mine, rest, _ = sections(only(smtp_sink, "ann@x.org"))
    assert mine and rest and top not in mine + rest
    assert len(mine + rest) == 4  # the list below filled up without it
    for address in ("cy@x.org", "anon@x.org"):
        none, shared, _ = sections(only(smtp_sink, address))
        assert none == [] and len(shared) == 4
        assert (top in shared) == (address == "anon@x.org")
