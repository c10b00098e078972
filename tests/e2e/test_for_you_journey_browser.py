"""One reader's whole For-you journey in real headless Chromium against a real server, on
SQLite, or on PostgreSQL when PAPERFEED_TEST_DATABASE_URL names one (the ``database``
fixture's choice), with mail through a loopback aiosmtpd server:

sign up in the form and verify the address by the mailed link; seed /for-you with three
papers (one of each topic: reef acoustics, tensor compilers, medieval manuscripts) and see
the page ranked by the nearest papers, each named after the seed of its own topic; upvote
three compiler papers on the cards and dismiss the week's most upvoted reef paper, in place;
then the page has moved to the compiler topic and lost the dismissed, upvoted and seed
papers, and the JSON API (a read token made on /account), the private Atom feed (made on
/for-you/signals) and a weekly digest sent by ``paperfeed digest send`` (subscribed in the
browser, confirmed by the mailed double opt-in link) all agree with it. The dismissed paper
is in the digest of a subscriber without an account, and in no place of the reader's.

The corpus is written here: three invented topics, a week of papers (Monday to Sunday) with
stored embeddings (each topic's axis plus noise) and topic words in titles and abstracts,
the seeds a week earlier. Assertions are about topics, exclusions and agreement between the
four places, never scores.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.for_you import section_size
from paperfeed.recommend import candidates, train
from paperfeed.store.db import Database
from paperfeed.web import for_you_feed
from tests.digest.conftest import (  # noqa: F401 (fixtures used by name)
    SmtpSink,
    digest_settings,
    smtp_sink,
)
from tests.digest.test_digest_for_you import sections
from tests.e2e.conftest import DESKTOP, settings_from_env
from tests.e2e.test_community_browser import signup
from tests.factories import add_entry, add_paper
from tests.recommend import rank_corpus as rc
from tests.web.test_for_you_feed import entries

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MONDAY = dt.date(2025, 6, 2)  # the week every surface ranks: June 2 to June 8
SUNDAY_EVENING = dt.datetime(2025, 6, 8, 23)  # "now" for the private feed's last 7 days
SEED_DAY = dt.date(2025, 5, 27)
READER = "rhea"
ADDRESS = f"{READER}@example.org"
CONTROL = "no-account@example.org"  # a subscriber without an account: the shared digest
MAX_PAPERS = 10  # per digest: the For-you section is half of it
REEF, UPVOTED, OTHER = "reef", "compiler", "manuscript"
PHRASES = {
    REEF: [
        "snapping shrimp choruses on coral reefs",
        "hydrophone arrays around atoll lagoons",
        "larval fish settlement guided by reef sound",
        "bleaching and the fading soundscape of reefs",
        "parrotfish grazing noise on fore reefs",
        "dusk choruses of damselfish colonies",
        "tidal rhythms in reef soundscapes",
        "boat noise masking reef fish calls",
        "grouper spawning aggregations heard by hydrophones",
    ],
    UPVOTED: [
        "loop tiling for tensor compiler kernels",
        "kernel fusion in deep learning compilers",
        "autotuning GPU schedules for tensor programs",
        "polyhedral scheduling of convolution loops",
        "memory layout search for attention kernels",
        "vectorising sparse tensor code generation",
        "cost models for operator fusion in compilers",
        "register tiling for matrix multiply units",
        "lowering einsum expressions to fused loops",
    ],
    OTHER: [
        "dating medieval iron gall ink by spectroscopy",
        "parchment collagen as a clock for manuscripts",
        "scribal hands in monastic codices",
        "watermarks in late medieval paper manuscripts",
        "palimpsest recovery under multispectral light",
        "pigments of illuminated psalters",
        "binding structures of Carolingian books",
        "marginal glosses in glossed psalters",
        "ruling patterns of parchment quires",
    ],
}
WORDS = {
    REEF: "coral reef fish hydrophone soundscape acoustic ocean",
    UPVOTED: "tensor compiler kernel loop schedule GPU fusion",
    OTHER: "medieval manuscript parchment ink scribe codex",
}
LINK = {
    "verify": re.compile(r"/verify/[^\s/]+"),
    "confirm": re.compile(r"/subscribe/confirm/[^\s/]+"),
}
FEED_PATH = re.compile(r"/feeds/for-you/[A-Za-z0-9_-]{43}")


@dataclass
class Library:
    """The corpus: each arXiv id's and each title's topic, and the seeds (one a topic,
    published a week before the others)."""

    topic_of: dict[str, str] = field(default_factory=dict)
    title_topic: dict[str, str] = field(default_factory=dict)
    seeds: list[str] = field(default_factory=list)

    def topics(self, arxiv_ids: list[str]) -> list[str]:
        return [self.topic_of[a] for a in arxiv_ids]

    def named(self, reason: str) -> str:
        """The topic of the paper a reason names ("close to “TITLE”, which you ...")."""
        return self.title_topic[reason.partition("“")[2].partition("”")[0]]

    def week(self) -> set[str]:
        return {a for a in self.topic_of if a not in self.seeds}


def _vector(axis: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(0.0, 0.15, rc.DIM)
    v[axis] += 1.0
    return v / np.linalg.norm(v)


def upvotes_of(topic: str, i: int) -> int:
    """Imported upvotes: reef papers are the week's most upvoted (its trending list)."""
    return 20 + i if topic == REEF else (5 * i + len(topic)) % 9


def _add(db: Database, settings: Settings, arxiv_id: str, topic: str, i: int) -> str:
    """Paper ``i`` of ``topic`` (its i-th phrase), featured on its day and embedded: the
    last phrase of each topic is its seed, a week older; its title."""
    phrase, axis = PHRASES[topic][i], list(PHRASES).index(topic)
    title = phrase[:1].upper() + phrase[1:]
    seed = i == len(PHRASES[topic]) - 1
    day = SEED_DAY if seed else MONDAY + dt.timedelta(days=(3 * i + axis) % 7)
    paper_id = add_paper(
        db,
        arxiv_id,
        title=title,
        abstract=f"We study {phrase}. Keywords: {WORDS[topic]}.",
        authors=[f"Invented {topic.title()} Author {i}"],
        published_at=dt.datetime.combine(day, dt.time(10 + axis)),
        imported_upvotes=upvotes_of(topic, i),
    )
    add_entry(db, arxiv_id, day)
    rc.embed(db, settings, paper_id, _vector(axis, np.random.default_rng(100 * axis + i)))
    return title


@pytest.fixture
def server_settings(
    digest_settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    """The digest tests' mail settings (this sink, links on papers.example.org), cheap
    accounts, and new embeddings seen at once."""
    with settings_from_env(monkeypatch, ANN_REFRESH_SECONDS="0") as served:
        candidates.forget_pools()
        yield served
        candidates.forget_pools()


@pytest.fixture
def library(server: str, database: Database, server_settings: Settings) -> Library:
    found = Library()
    for axis, (topic, phrases) in enumerate(PHRASES.items()):
        for i in range(len(phrases)):
            seed = i == len(phrases) - 1
            arxiv_id = f"{'2505' if seed else '2506'}.{10000 + 100 * axis + i:05d}"
            found.title_topic[_add(database, server_settings, arxiv_id, topic, i)] = topic
            found.topic_of[arxiv_id] = topic
            if seed:
                found.seeds.append(arxiv_id)
    return found


# --- the browser's side ------------------------------------------------------------------


def mailed_path(sink: SmtpSink, kind: str) -> str:
    """The site path of the newest ``kind`` link mailed to the reader (waiting for the
    server's mail queue to hand it to the sink)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for mail in reversed(sink.to(ADDRESS)):
            found = LINK[kind].search(str(mail.get_content()))
            if found:
                return found.group(0)
        time.sleep(0.05)
    pytest.fail(f"no {kind} link mailed to {ADDRESS}: {[m['Subject'] for m in sink.messages]}")


def join(page: Any, server: str, sink: SmtpSink) -> None:
    """Sign up in the form, log in, and verify the address by the mailed link."""
    signup(page, server, READER)
    page.goto(server + mailed_path(sink, "verify"))
    page.get_by_role("button", name="Verify my address").click()
    page.get_by_text(ADDRESS).wait_for()
    assert page.get_by_role("button", name="Verify my address").count() == 0


def read_page(page: Any, server: str) -> tuple[str, list[str], list[str]]:
    """(method, arXiv ids, reasons) of /for-you this week, as the browser shows them."""
    page.goto(f"{server}/for-you?tab=week")
    method = page.locator(".method").get_attribute("data-method") or ""
    cards = page.locator("ol.cards > li.card").evaluate_all(
        """els => els.map(e => [e.id.slice(6),
                                (e.querySelector('.reason') || {}).textContent || ''])"""
    )
    return method, [c[0] for c in cards], [c[1].strip() for c in cards]


def settled_page(
    page: Any, server: str, db: Database, settings: Settings
) -> tuple[str, list[str], list[str]]:
    """The page once the model the last signals call for is trained: a read of a reader
    with changed signals queues the retraining in the background and ranks with what it has."""
    read_page(page, server)
    assert train.trainer_for(db, settings).wait_idle(60)
    return read_page(page, server)


def card(page: Any, arxiv_id: str) -> Any:
    return page.locator(f'ol.cards > li.card[id="paper-{arxiv_id}"]')


def onboard(page: Any, server: str, library: Library) -> tuple[str, list[str], list[str]]:
    """Paste the seeds (arXiv URLs) into the onboarding form; the page as it answers."""
    page.goto(f"{server}/for-you?tab=week")
    assert page.locator("#onboarding-h").is_visible()
    page.fill("#seed-text", "\n".join(f"https://arxiv.org/abs/{a}v1" for a in library.seeds))
    page.get_by_role("button", name="Add these papers").click()
    report = page.locator(".seed-report").inner_text()
    assert report.startswith("Added 3 papers") and all(a in report for a in library.seeds)
    return read_page(page, server)


def react(page: Any, library: Library, shown: list[str]) -> tuple[list[str], str]:
    """Upvote the first three compiler papers the page shows, and dismiss its most upvoted
    reef paper (the week's trending one), all in place (no navigation); (upvoted, dismissed)."""
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    upvoted = [a for a in shown if library.topic_of[a] == UPVOTED][:3]
    for arxiv_id in upvoted:
        card(page, arxiv_id).locator("button.vote").click()
        card(page, arxiv_id).locator("button.vote[aria-pressed=true]").wait_for()
    reef = [a for a in shown if library.topic_of[a] == REEF]
    dismissed = max(reef, key=lambda a: int(card(page, a).locator(".vote-n").inner_text()))
    card(page, dismissed).get_by_role("button", name="Not interested").click()
    card(page, dismissed).get_by_role("button", name="Undo not interested").wait_for()
    assert navigations == []
    return upvoted, dismissed


def new_token(page: Any, server: str) -> str:
    page.goto(f"{server}/account")
    page.fill("#t-name", "journey script")
    page.select_option("#t-scope", "read")
    page.get_by_role("button", name="Create token").click()
    return str(page.locator("#new-token").inner_text()).strip()


def new_feed(page: Any, server: str) -> str:
    """The private feed's path (without .atom), made on the signals page."""
    page.goto(f"{server}/for-you/signals")
    page.get_by_role("button", name="Create a private feed URL").click()
    found = FEED_PATH.search(page.locator("#feed-url-atom").inner_text())
    assert found
    return found.group(0)


def subscribe_weekly(page: Any, server: str, sink: SmtpSink) -> None:
    """Subscribe to the weekly digest on /account/digest; confirm by the mailed link."""
    page.goto(f"{server}/account/digest")
    page.select_option("#period", "weekly")
    page.fill("#max_papers", str(MAX_PAPERS))
    page.locator("#main").get_by_role("button", name="Subscribe").click()
    page.get_by_text("confirmation link is on its way").wait_for()
    page.goto(server + mailed_path(sink, "confirm"))
    page.get_by_role("button", name="Confirm subscription").click()
    page.get_by_role("button", name="Confirm subscription").wait_for(state="detached")
    page.goto(f"{server}/account/digest")
    assert "Your address is confirmed" in page.locator(".notice").first.inner_text()


# --- the other three places ----------------------------------------------------------------


def api(server: str, token: str) -> tuple[str, list[dict[str, Any]]]:
    """(method, papers) of GET /api/recommendations for the page's week, with the token."""
    r = httpx.get(
        f"{server}/api/recommendations",
        params={"from": MONDAY.isoformat(), "to": SUNDAY_EVENING.date().isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text[:300]
    return r.headers["x-recommendation-method"], r.json()


def send_digest(sink: SmtpSink) -> tuple[tuple[list[str], list[str], str], list[str]]:
    """The weekly digest of the corpus's week, by the real command: (For-you ids, the
    other ids, the text) of the reader's mail, and the ids of a subscriber's without an
    account."""
    before = len(sink.to(ADDRESS))
    r = CliRunner().invoke(cli, ["digest", "send", "--period", "weekly", "--date", "2025-06-04"])
    assert r.exit_code == 0, r.output
    assert "sent 2," in r.output, r.output
    (digest,) = sink.to(ADDRESS)[before:]
    (control,) = sink.to(CONTROL)
    mine, rest, _ = sections(control)
    assert mine == []
    return sections(digest), rest


# --- the journey -----------------------------------------------------------------------------


def test_a_reader_seeds_upvotes_dismisses_and_every_place_follows(
    browser: Any,
    server: str,
    library: Library,
    database: Database,
    server_settings: Settings,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(for_you_feed, "utcnow", lambda: SUNDAY_EVENING)
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    join(page, server, smtp_sink)
    # One seed a topic: the nearest papers, each named after the seed of its own topic.
    method, shown, reasons = onboard(page, server, library)
    assert method == "nearest" and set(shown) == library.week()
    assert all(r.endswith("which you named") for r in reasons)
    assert [library.named(r) for r in reasons] == library.topics(shown)
    assert library.topics(shown[:3]) != [UPVOTED] * 3
    upvoted, dismissed = react(page, library, shown)
    method, shown, reasons = settled_page(page, server, database, server_settings)
    # A model learned from the signals: the upvoted topic leads, named by its positives;
    # what the reader gave or refused is gone.
    assert method not in ("nearest", "trending")
    assert library.topics(shown[:3]) == [UPVOTED] * 3
    assert [library.named(r) for r in reasons[:3]] == [UPVOTED] * 3
    gone = {dismissed, *upvoted, *library.seeds}
    assert set(shown) == library.week() - gone
    # The API, with a read token made on the account page: the same method and papers.
    api_method, items = api(server, new_token(page, server))
    assert api_method == method
    assert [i["id"] for i in items][:5] == shown[:5] and {i["id"] for i in items} == set(shown)
    assert [i["reason"] for i in items][:3] == reasons[:3]
    # The private feed: the same papers, best first, each led by its reason.
    with httpx.Client(base_url=server) as reader:
        feed = entries(reader, new_feed(page, server))
    assert [a for a, _ in feed][:5] == shown[:5] and {a for a, _ in feed} == set(shown)
    assert feed[0][1].startswith(reasons[0][:1].upper() + reasons[0][1:] + ". — ")
    # The weekly digest: its For-you section is the page's best, nothing refused in it.
    subscribe_weekly(page, server, smtp_sink)
    prefs = subs.make_prefs(server_settings, period="weekly", max_papers=MAX_PAPERS)
    subs.add(database, server_settings, CONTROL, confirmed=True, prefs=prefs)
    (mine, rest, text), shared = send_digest(smtp_sink)
    assert mine == shown[: section_size(MAX_PAPERS)]
    assert library.topics(mine[:3]) == [UPVOTED] * 3 and reasons[0] in text
    assert not set(mine) & set(rest) and dismissed not in mine + rest
    assert dismissed in shared  # trending: everyone else's digest has it
    context.close()
