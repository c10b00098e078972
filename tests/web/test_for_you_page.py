"""The For-you page (/for-you) and "not interested": onboarding by paste and by .bib upload,
the ranking changed by an upvote and a dismissal (and back by undo), privacy between readers
and from the page cache, and the errors answered inline or mapped (400/404)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings, get_settings
from paperfeed.recommend import train
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import (  # noqa: F401 (fixtures)
    community_settings,
    csrf_of,
    login,
    make_user,
    site_db,
    user_client,
)
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import rank_settings  # noqa: F401 (fixture)

CARD = re.compile(r'<li class="card[^"]*" id="paper-([^"]+)"')


@pytest.fixture
def corpus(
    rank_settings: Settings,  # noqa: F811
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
) -> rc.Corpus:
    """Two topics, one paper a day from 2025-03-01 to 2025-03-24 (A: cs.CL, B: q-bio.NC)."""
    return rc.build(site_db, community_settings)


@pytest.fixture
def reader(
    corpus: rc.Corpus,
    user_client: Callable[[str], TestClient],  # noqa: F811
) -> Callable[[str], TestClient]:
    """A logged-in browser for a new user ``name``, the corpus built first."""
    return user_client


def cards(html: str) -> list[str]:
    return CARD.findall(html)


def topic(corpus: rc.Corpus, arxiv_id: str) -> str:
    by_arxiv = {a: p for p, a in corpus.arxiv_of.items()}
    return corpus.topic_of(by_arxiv[arxiv_id])


def arxiv(corpus: rc.Corpus, t: str, i: int) -> str:
    return corpus.arxiv_of[corpus.topics[t][i]]


def paste(client: TestClient, text: str, tab: str = "week") -> str:
    csrf = csrf_of(client.get("/for-you").text)
    r = client.post("/for-you/seeds", data={"text": text, "tab": tab, "csrf_token": csrf})
    assert r.status_code == 200, r.text[:500]
    return r.text


def test_anonymous_readers_are_sent_to_log_in(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
) -> None:
    with TestClient(create_app(community_settings, site_db)) as anon:
        r = anon.get("/for-you", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/login?next=/for-you")
        r = anon.post("/papers/2503.00001/not-interested", follow_redirects=False)
        assert r.status_code == 403  # no CSRF token: refused before the login check
        assert "For you" not in anon.get("/").text  # the header link is for readers


def test_onboarding_by_paste_changes_the_page(
    reader: Callable[[str], TestClient], corpus: rc.Corpus
) -> None:
    alice = reader("alice")
    first = alice.get("/for-you?tab=week")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert "Tell us what you like" in first.text and 'data-method="trending"' in first.text
    assert 'href="/for-you"' in first.text and 'href="/for-you/signals"' in first.text
    liked = arxiv(corpus, "B", 2)
    text = f"https://arxiv.org/abs/{liked}v2\n2501.99999\nsome words that name nothing"
    html = paste(alice, text)
    assert f"Added 1 paper: {liked}." in html
    assert "Not on this site: 2501.99999." in html
    assert "<code>some words that name nothing</code>" in html
    assert "https://arxiv.org/abs/" in html  # the input is kept
    after = alice.get("/for-you?tab=week").text
    assert "Tell us what you like" not in after and 'data-method="nearest"' in after
    shown = cards(after)
    assert shown and liked not in shown
    assert [topic(corpus, a) for a in shown[:3]] == ["B", "B", "B"]
    assert "close to “Topic B paper 5”, which you named" in after


def test_onboarding_by_bib_upload(reader: Callable[[str], TestClient], corpus: rc.Corpus) -> None:
    alice = reader("alice")
    csrf = csrf_of(alice.get("/for-you").text)
    a1, a2 = arxiv(corpus, "A", 1), arxiv(corpus, "A", 2)
    bib = (
        f"@article{{one, title={{x}}, eprint={{{a1}}}, archivePrefix={{arXiv}}}}\n"
        f"@misc{{two, url={{https://arxiv.org/pdf/{a2}v1}}}}\n"
        "@book{nothing, title={No id here}}\n"
    ).encode()
    files = {"bib": ("refs.bib", bib, "application/x-bibtex")}
    refused = alice.post("/for-you/upload", files=files, data={"tab": "week"})
    assert refused.status_code == 403  # the CSRF token is checked in multipart forms too
    r = alice.post("/for-you/upload", files=files, data={"tab": "week", "csrf_token": csrf})
    assert r.status_code == 200, r.text[:500]
    assert "Added 2 papers" in r.text and "<code>nothing</code>" in r.text
    shown = cards(alice.get("/for-you?tab=week").text)
    assert [topic(corpus, a) for a in shown[:3]] == ["A", "A", "A"]
    empty = alice.post("/for-you/upload", data={"tab": "week", "csrf_token": csrf})
    assert empty.status_code == 400 and "Choose a .bib file." in empty.text


def test_an_upvote_and_a_dismissal_change_the_page_and_undo_restores_it(
    reader: Callable[[str], TestClient], corpus: rc.Corpus
) -> None:
    alice = reader("alice")
    paste(alice, arxiv(corpus, "A", 0))
    before = cards(alice.get("/for-you?tab=week").text)
    assert topic(corpus, before[0]) == "A"
    csrf = csrf_of(alice.get("/for-you").text)
    # An upvote on a topic-B paper brings topic B up.
    b = arxiv(corpus, "B", 0)
    alice.post(f"/papers/{b}/upvote", data={"csrf_token": csrf, "action": "add"})
    upvoted = cards(alice.get("/for-you?tab=week").text)
    assert "B" in {topic(corpus, a) for a in upvoted[:2]} and upvoted != before
    # Not interested, without JavaScript: back at the page, the paper gone, undo offered.
    gone = upvoted[0]
    r = alice.post(
        f"/papers/{gone}/not-interested",
        data={"csrf_token": csrf, "next": f"/for-you?tab=week&dismissed={gone}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/for-you?tab=week&dismissed={gone}#paper-{gone}"
    page = alice.get(r.headers["location"]).text
    assert gone not in cards(page) and 'class="notice undo-note"' in page
    # Undo (the JSON answer the page's script reads): the paper is back.
    r = alice.post(
        f"/papers/{gone}/not-interested/undo",
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    )
    assert r.json() == {"dismissed": False}
    assert gone in cards(alice.get("/for-you?tab=week").text)
    r = alice.post(
        f"/papers/{gone}/not-interested",
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    )
    assert r.json() == {"dismissed": True}
    # On a paper's page the button says it is dismissed, and undoes it.
    paper = alice.get(f"/papers/{gone}").text
    assert f'action="/papers/{gone}/not-interested/undo"' in paper


def test_follows_rank_by_category(reader: Callable[[str], TestClient], corpus: rc.Corpus) -> None:
    alice = reader("alice")
    csrf = csrf_of(alice.get("/for-you").text)
    r = alice.post(
        "/for-you/follows",
        data={"categories": "cs.cl", "authors": "", "tab": "week", "csrf_token": csrf},
    )
    assert r.status_code == 200 and 'data-method="follows"' in r.text
    assert "in cs.CL, which you follow" in r.text
    assert topic(corpus, cards(r.text)[0]) == "A"
    bad = alice.post("/for-you/follows", data={"categories": "not a category!", "csrf_token": csrf})
    assert bad.status_code == 400 and 'class="form-error"' in bad.text


def test_another_reader_never_sees_the_page_or_its_reasons(
    reader: Callable[[str], TestClient],
    corpus: rc.Corpus,
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
) -> None:
    alice, bob = reader("alice"), reader("bob")
    paste(alice, arxiv(corpus, "B", 2))
    gone = arxiv(corpus, "B", 3)
    csrf = csrf_of(alice.get("/for-you").text)
    alice.post(f"/papers/{gone}/not-interested", data={"csrf_token": csrf})
    page = bob.get(f"/for-you?tab=week&dismissed={gone}").text
    assert "which you named" not in page and "undo-note" not in page
    assert 'data-method="trending"' in page and "Tell us what you like" in page
    assert f'action="/papers/{gone}/not-interested/undo"' not in bob.get(f"/papers/{gone}").text
    # The cached anonymous pages carry no button, even after a reader's visit.
    cached = community_settings.model_copy(update={"cache_seconds": 60.0})
    with TestClient(create_app(cached, site_db)) as anon:
        login(anon, "alice")
        assert "not-interested" in anon.get(f"/papers/{gone}").text
        anon.cookies.clear()
        for _ in range(2):  # rendered, then from the cache
            assert "not-interested" not in anon.get(f"/papers/{gone}").text
            assert "not-interested" not in anon.get("/papers/date/2025-03-07").text


def test_bad_input_is_answered_not_crashed(
    reader: Callable[[str], TestClient], corpus: rc.Corpus
) -> None:
    alice = reader("alice")
    assert alice.get("/for-you?tab=month").status_code == 400
    csrf = csrf_of(alice.get("/for-you").text)
    r = alice.post("/papers/2501.99999/not-interested", data={"csrf_token": csrf})
    assert r.status_code == 404
    nothing = alice.post("/for-you/seeds", data={"text": "hello", "csrf_token": csrf})
    assert nothing.status_code == 200 and "<code>hello</code>" in nothing.text
    empty = alice.post("/for-you/seeds", data={"text": "", "csrf_token": csrf})
    assert empty.status_code == 400 and "No arXiv id or URL found there." in empty.text
    many = " ".join(f"2501.{i:05d}" for i in range(600))
    r = alice.post("/for-you/seeds", data={"text": many, "csrf_token": csrf})
    assert r.status_code == 400 and many[:40] in r.text
    found = alice.get("/for-you?q=Topic").text
    assert 'class="plain seed-hits"' in found and "Add</button>" in found


def test_an_upload_of_any_bytes_is_answered(
    reader: Callable[[str], TestClient], corpus: rc.Corpus
) -> None:
    alice = reader("alice")
    csrf = csrf_of(alice.get("/for-you").text)
    a1 = arxiv(corpus, "A", 1)
    for data in (b"\xff\xfe\x00\x00" + a1.encode(), b"\x00" * 1000, b"x" * 1_000_001):
        files = {"bib": ("x.bib", data, "application/octet-stream")}
        r = alice.post("/for-you/upload", files=files, data={"csrf_token": csrf, "tab": "x"})
        assert r.status_code == 400  # a bad tab
        r = alice.post("/for-you/upload", files=files, data={"csrf_token": csrf})
        assert r.status_code in (200, 400), r.status_code
    r = alice.post(
        "/for-you/upload", files={"bib": ("x.bib", b"x" * 1_000_001)}, data={"csrf_token": csrf}
    )
    assert r.status_code == 400 and "too large" in r.text


def test_a_stale_model_still_answers_and_the_trainer_replaces_it(
    reader: Callable[[str], TestClient],
    corpus: rc.Corpus,
    site_db: Database,  # noqa: F811
) -> None:
    alice = reader("alice")
    alice.get("/for-you")  # a first model (trending), trained inline
    # The answer to the form is ranked while the old model is stale: by the nearest papers.
    stale = paste(alice, " ".join(arxiv(corpus, "A", i) for i in range(6)))
    assert 'data-method="nearest"' in stale
    assert train.trainer_for(site_db, get_settings()).wait_idle(30)
    learned = alice.get("/for-you?tab=week").text
    assert 'data-method="linear"' in learned
    assert "Ranked by a model learned from your 6 signals" in learned
    assert [topic(corpus, a) for a in cards(learned)[:3]] == ["A", "A", "A"]
