"""The community in real headless Chromium: sign up, log in, upvote (count and day order
change), comment, reply, submit a paper (fetched from a loopback arXiv API serving an Atom
document written here), collections, log out; and an XSS corpus through comments, usernames,
collection names and descriptions and search queries that never runs.

The XSS pages are read in a browser context with ``bypass_csp=True``: the site's
Content-Security-Policy would stop inline script anyway, so this checks that the markup itself
is inert (escaping and sanitising), not only that the CSP catches what gets through.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest

from paperfeed.config import Settings
from tests.e2e.conftest import settings_from_env
from tests.web.conftest import FRIDAY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "a long test password"
SUBMIT_ID = "2611.90001"  # not in the seeded site: fetched from the loopback arXiv API

_BASE = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=1>",
    "<svg onload=window.__xss=1>",
    "<iframe srcdoc='<script>parent.__xss=1</script>'>",
    "[x](javascript:window.__xss=1)",
    "<a href=javascript:window.__xss=1>x</a>",
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<video><source onerror=window.__xss=1>",
    "<object data=javascript:window.__xss=1>",
    "<embed src=javascript:window.__xss=1>",
    "<form><button formaction=javascript:window.__xss=1>x</button></form>",
    '<a href="jav&#x09;ascript:window.__xss=1">x</a>',
    "[a](JaVaScRiPt:window.__xss=1)",
    "[a](data:text/html,<script>parent.__xss=1</script>)",
    "<style>@import 'javascript:window.__xss=1'</style>",
    "<marquee onstart=window.__xss=1>",
    '<div style="background:url(javascript:window.__xss=1)">',
    "<base href=javascript:/>",
    "<meta http-equiv=refresh content='0;url=javascript:window.__xss=1'>",
    "[x](&#106;avascript:window.__xss=1)",
    "![x](javascript:window.__xss=1)",
    '![x](x" onerror="window.__xss=1)',
    "[x](<javascript:window.__xss=1>)",
    "<javascript:window.__xss=1>",
    "`<script>window.__xss=1</script>`",
    "```\n</code><script>window.__xss=1</script>\n```",
    "<!--><script>window.__xss=1</script>-->",
    "<noscript><p title='</noscript><img src=x onerror=window.__xss=1>'>",
    "<svg><a xlink:href=javascript:window.__xss=1><text y=20>x</text></a></svg>",
    "<isindex action=javascript:window.__xss=1 type=submit>",
    "{{constructor.constructor('window.__xss=1')()}}",
    "${window.__xss=1}",
    "</textarea><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
]
# The same tries calling alert(): a dialog event would catch any that ran.
XSS = _BASE + [p.replace("window.__xss=1", "alert(1)") for p in _BASE[:20]]

# Elements and attributes that must never come out of user text.
DOM_AUDIT = """() => {
  const bad = [];
  const origin = location.origin;
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      const value = a.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
      if (name.startsWith("on")) bad.push(`${el.tagName} ${name}`);
      if (name === "srcdoc" || name === "formaction") bad.push(`${el.tagName} ${name}`);
      if (/^(javascript|vbscript|data:text\\/html)/.test(value) && name !== "value"
          && name !== "title" && name !== "content" && name !== "alt")
        bad.push(`${el.tagName} ${name}=${a.value}`);
    }
  }
  for (const s of document.scripts)
    if (!s.src.startsWith(origin + "/static/")) bad.push(`SCRIPT ${s.src || "inline"}`);
  for (const tag of ["iframe", "object", "embed", "base", "meta[http-equiv]", "isindex"])
    for (const el of document.querySelectorAll(tag)) bad.push(`element ${tag}`);
  return bad;
}"""


def _atom(arxiv_id: str, published: dt.datetime) -> bytes:
    stamp = published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query: id_list={arxiv_id}</title>
  <id>http://arxiv.org/api/invented</id>
  <updated>{stamp}</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}v1</id>
    <updated>{stamp}</updated>
    <published>{stamp}</published>
    <title>Submitted Through the Browser: An Invented Paper</title>
    <summary>An abstract invented for the browser test of submissions.</summary>
    <author><name>Ida Invented</name></author>
    <link href="http://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
""".encode()  # noqa: E501


@pytest.fixture
def arxiv_api() -> Iterator[str]:
    """A loopback HTTP server answering every query with one Atom entry for SUBMIT_ID,
    published yesterday (inside the submission window)."""
    body = _atom(SUBMIT_ID, dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/api/query"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server_settings(
    settings: Settings, arxiv_api: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Cheap Argon2, limits the corpus stays under, the loopback arXiv API: the settings the
    ``server`` fixture (tests/e2e/conftest.py) builds its app with."""
    with settings_from_env(
        monkeypatch,
        RATE_LIMIT_COMMENTS="1000/minute",
        ARXIV_API_URL=arxiv_api,
        ARXIV_REQUEST_INTERVAL="0",
        HTTP_TIMEOUT="5",
    ) as served:
        yield served


def signup(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/signup")
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.org")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    # Sign-up mails a verification link and shows the login form: log in there.
    page.locator(".notice").wait_for()
    page.fill("#login", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/")


def log_out(page: Any) -> None:
    page.locator(".user-button").click()  # the account menu (a desktop-width page)
    page.get_by_role("button", name="Log out").click()


def titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".card .card-title a").all_inner_texts()]


def test_community_flow(browser: Any, server: str, output_dir: Any) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # Sign up, log out, log in again.
    signup(page, server, "ann")
    assert page.locator(".whoami").inner_text() == "ann"
    log_out(page)
    page.wait_for_url(f"{server}/")
    page.get_by_role("link", name="Log in").click()
    page.fill("#login", "ann")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/")
    assert page.locator(".whoami").inner_text() == "ann"
    # Upvote: the count changes in place (JavaScript), the order after a reload.
    page.goto(f"{server}/papers/date/{FRIDAY}")
    before = titles(page)
    assert before[1:] == ["Quiet Tokens and Loud Gradients", "Gradient Gardens for Sparse Mixtures"]
    gardens = page.locator(".card", has_text="Gradient Gardens")
    assert gardens.locator(".vote-n").inner_text() == "10"
    # In place: no navigation, the scroll position kept, the vote posted to its own URL.
    page.set_viewport_size({"width": 390, "height": 420})
    gardens.scroll_into_view_if_needed()
    # Where the page was when the vote went out (the click may scroll past the sticky
    # header first): the vote must leave it there.
    page.evaluate(
        "document.addEventListener('submit', () => { window.scrollAtVote = window.scrollY }, true)"
    )
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    gardens.locator("button.vote").click()
    page.locator(".card button.vote.voted").wait_for()
    assert gardens.locator(".vote-n").inner_text() == "11"
    assert navigations == []  # the old script's 405 fell back to a full POST and reload
    scrolled = page.evaluate("window.scrollAtVote")
    assert scrolled > 0 and page.evaluate("window.scrollY") == scrolled
    assert [p.removeprefix(server) for p in posts] == ["/papers/2503.00001/upvote"]
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    assert titles(page)[1] == "Gradient Gardens for Sparse Mixtures"  # the order changed
    assert (
        page.locator(".card", has_text="Gradient Gardens").locator(".vote-n").inner_text() == "11"
    )
    page.screenshot(path=str(output_dir / "community-day-logged-in.png"), full_page=True)
    # Comment and reply.
    page.goto(f"{server}/papers/2503.00002")
    page.fill("#comment-body", "A **fine** paper.")
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_url(f"{server}/papers/2503.00002#comment-*")
    assert page.locator(".comment-body strong").first.inner_text() == "fine"
    page.locator("details.reply-box summary").first.click()
    page.locator("details.reply-box textarea").first.fill("Agreed.")
    page.get_by_role("button", name="Post reply").first.click()
    page.locator(".reply").first.wait_for()
    assert "Agreed." in page.locator(".reply").first.inner_text()
    assert page.locator(".reply .comment-author").first.inner_text() == "ann"
    # Submit a paper arXiv has (the loopback API) but the site does not: fetched in the
    # background, then on today's list.
    page.get_by_role("link", name="Submit").click()
    page.fill("#arxiv", f"https://arxiv.org/abs/{SUBMIT_ID}")
    page.get_by_role("button", name="Submit").click()
    # The submission's page: queued, then (it reloads itself) added, with a link to it.
    page.get_by_role("heading", name="Added to today's list").wait_for()
    page.get_by_role("link", name="Submitted Through the Browser: An Invented Paper").click()
    today = dt.datetime.now(dt.UTC).date()
    page.wait_for_url(f"{server}/papers/date/{today}#paper-{SUBMIT_ID}")
    card = page.locator(".card", has_text="Submitted Through the Browser")
    assert "submitted by ann" in card.inner_text()
    # Collection: create it, add a paper from the paper's page.
    page.goto(f"{server}/account")
    page.fill("#c-name", "Reading list")
    page.fill("#c-desc", "Papers to read this week")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url(f"{server}/collections/*")
    assert page.locator("h1").inner_text() == "Reading list"
    collection = page.url
    page.goto(f"{server}/papers/2503.00002")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("status").get_by_role("link", name="Reading list").wait_for()  # in place
    page.goto(collection)
    assert "Lanterns" in page.locator(".cards").inner_text()
    page.screenshot(path=str(output_dir / "community-collection.png"), full_page=True)
    # Log out: the session is gone.
    log_out(page)
    page.wait_for_url(f"{server}/")
    assert page.get_by_role("link", name="Log in").count() == 1
    page.goto(f"{server}/account")
    assert page.url.startswith(f"{server}/login")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()


def _csrf(page: Any) -> str:
    token: str = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    return token


def test_xss_corpus_never_runs(browser: Any, server: str) -> None:
    """Each payload goes in through the same form endpoint the browser posts to (with the
    context's cookies, so quickly), and comes out in pages Chromium renders."""
    assert len(XSS) >= 50
    dialogs: list[str] = []
    context = browser.new_context(bypass_csp=True)
    context.on("page", lambda p: p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))  # type: ignore[func-returns-value]
    page = context.new_page()

    def inert(where: str) -> None:
        assert page.evaluate("window.__xss") is None, where
        assert page.evaluate(DOM_AUDIT) == [], where

    signup(page, server, "eve")
    page.goto(f"{server}/account")
    token = _csrf(page)
    # Comments (one typed into the form, the rest posted to the form's endpoint).
    page.goto(f"{server}/papers/2503.00001")
    page.fill("#comment-body", XSS[0])
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_url(f"{server}/papers/2503.00001#comment-*")
    for payload in XSS[1:]:
        r = context.request.post(
            f"{server}/papers/2503.00001/comments",
            form={"csrf_token": token, "body": payload},
            max_redirects=0,
        )
        assert r.status == 303, (payload, r.status)
    page.goto(f"{server}/papers/2503.00001")
    assert page.locator(".comment").count() == len(XSS)
    inert("comments")
    # Collection names and descriptions; every page that shows them.
    made: list[str] = []
    for payload in XSS:
        r = context.request.post(
            f"{server}/collections",
            form={
                "csrf_token": token,
                "name": payload[:100],
                "description": payload,
                "public": "1",
            },
            max_redirects=0,
        )
        assert r.status == 303, (payload, r.status)
        made.append(r.headers["location"])
    for path in made:
        page.goto(f"{server}{path}")
        shown = page.locator("h1").inner_text()  # the payload, as text
        assert "xss" in shown or "alert" in shown or "javascript" in shown, shown
        inert(path)
    for path in ("/account", "/u/eve", "/papers/2503.00001"):
        page.goto(f"{server}{path}")
        inert(path)
    # Search queries: the query is shown back in the box and on the page.
    for payload in XSS:
        page.goto(f"{server}/search?q={quote(payload)}")
        shown = page.locator("#header-q").input_value()
        assert shown.split() == payload.split(), (shown, payload)  # kept, as text
        inert(f"search {payload!r}")
    # Usernames: the grammar ([a-z0-9][a-z0-9_-]{2,31}) refuses every payload; the refused
    # value shown back in the sign-up form stays inert.
    context.clear_cookies()
    page.goto(f"{server}/signup")
    anon_token = _csrf(page)
    for i, payload in enumerate(XSS):
        if i % 6 == 0:  # some typed into the browser's form
            page.goto(f"{server}/signup")
            page.fill("#username", payload[:64])
            page.fill("#email", "x@example.org")
            page.fill("#password", PASSWORD)
            with page.expect_response(f"{server}/signup") as answer:
                page.get_by_role("button", name="Sign up").click()
            assert answer.value.status == 400, payload
            assert "Usernames have 3 to 32" in page.locator(".form-error").inner_text()
            inert(f"signup {payload!r}")
        else:
            r = context.request.post(
                f"{server}/signup",
                form={
                    "csrf_token": anon_token,
                    "username": payload[:64],
                    "email": "x@example.org",
                    "password": PASSWORD,
                },
                max_redirects=0,
            )
            assert r.status == 400, payload
            assert "Usernames have 3 to 32" in r.text()
            assert "<script>" not in r.text().split("<main", 1)[1], payload
    assert dialogs == []
    context.close()
