"""Submitting a paper the site does not have, in real headless Chromium with JavaScript off:
the answer comes at once (the arXiv fetch is queued), the submission's page says so and
reloads itself (``<meta http-equiv=refresh>``) until the fetch is done (a confirmation with a
link to the paper on today's list) or failed (why). A loopback HTTP server plays arXiv and
holds its answers until the test has seen the queued state, so nothing here is timing."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from paperfeed.config import Settings
from tests.e2e.conftest import settings_from_env
from tests.e2e.test_community_browser import signup

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KNOWN = "2611.90011"  # arXiv (the loopback server) has it; the site does not
UNKNOWN = "2611.90012"  # arXiv answers an empty feed: no such paper
HOLD_SECONDS = 60  # the test releases a held answer long before this


def _feed(entries: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query: invented</title>
  <id>http://arxiv.org/api/invented</id>
  <updated>2026-11-30T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{entries.count("<entry>")}</opensearch:totalResults>
{entries}</feed>
""".encode()


def _entry(arxiv_id: str) -> str:
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}v1</id>
    <updated>{stamp}</updated>
    <published>{stamp}</published>
    <title>Queued Then Confirmed: An Invented Submission</title>
    <summary>An abstract invented for the browser test of queued submissions.</summary>
    <author><name>Jo Invented</name></author>
    <link href="http://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""


class HeldArxiv:
    """Answers id_list queries (an entry for KNOWN, none for the rest) once ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.held = threading.Semaphore(0)
        self.url = ""

    def answer(self, query: dict[str, list[str]]) -> bytes:
        self.held.release()
        self.gate.wait(HOLD_SECONDS)
        ids = query.get("id_list", [""])[0].split(",")
        return _feed("".join(_entry(i) for i in ids if i == KNOWN))


@pytest.fixture
def arxiv() -> Iterator[HeldArxiv]:
    fake = HeldArxiv()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = fake.answer(parse_qs(urlsplit(self.path).query))
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{srv.server_address[1]}/api/query"
    try:
        yield fake
    finally:
        fake.gate.set()
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server_settings(
    settings: Settings, arxiv: HeldArxiv, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    with settings_from_env(
        monkeypatch,
        ARXIV_API_URL=arxiv.url,
        ARXIV_REQUEST_INTERVAL="0",
        HTTP_TIMEOUT=str(HOLD_SECONDS + 30),
        SUBMISSION_FETCH_SECONDS=str(HOLD_SECONDS + 30),
    ) as served:
        yield served


def submit(page: Any, server: str, arxiv_id: str) -> None:
    page.goto(f"{server}/submit")
    page.fill("#arxiv", arxiv_id)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(rf"^{re.escape(server)}/submit/\d+$"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_queued_submission_then_done_or_failed(
    browser: Any,
    server: str,
    arxiv: HeldArxiv,
    output_dir: Any,
    width: int,
    height: int,
    scheme: str,
) -> None:
    context = browser.new_context(
        java_script_enabled=False,
        viewport={"width": width, "height": height},
        color_scheme=scheme,
    )
    page = context.new_page()
    signup(page, server, "ann")
    shot = f"submission-{width}-{scheme}"

    # pending → done: the answer came while arXiv still holds the fetch.
    submit(page, server, KNOWN)
    assert arxiv.held.acquire(timeout=HOLD_SECONDS)  # the fetch is running, held
    assert page.locator("h1").inner_text() == f"Fetching {KNOWN} from arXiv"
    assert f"Queued: {KNOWN} is being fetched from arXiv" in page.locator(".notice").inner_text()
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    page.screenshot(path=str(output_dir / f"{shot}-queued.png"), full_page=True)
    status_url = page.url
    arxiv.gate.set()
    page.get_by_role("heading", name="Added to today's list").wait_for()  # the page reloaded
    assert page.url == status_url
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    page.screenshot(path=str(output_dir / f"{shot}-added.png"), full_page=True)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    link = page.get_by_role("link", name="Queued Then Confirmed: An Invented Submission")
    assert link.get_attribute("href") == f"/papers/date/{today}#paper-{KNOWN}"
    link.click()
    page.wait_for_url(f"{server}/papers/date/{today}#paper-{KNOWN}")
    card = page.locator(f'[id="paper-{KNOWN}"]')
    assert "submitted by ann" in card.inner_text()

    # pending → failed: arXiv has no such paper.
    arxiv.gate.clear()
    submit(page, server, UNKNOWN)
    assert arxiv.held.acquire(timeout=HOLD_SECONDS)
    assert page.locator("h1").inner_text() == f"Fetching {UNKNOWN} from arXiv"
    arxiv.gate.set()
    page.get_by_role("heading", name=f"{UNKNOWN} was not added").wait_for()
    assert page.get_by_role("alert").inner_text() == f"arXiv has no paper {UNKNOWN}."
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    page.screenshot(path=str(output_dir / f"{shot}-failed.png"), full_page=True)
    # The submit page lists both outcomes for a user who left.
    page.goto(f"{server}/submit")
    assert page.locator("li.attempt-added").count() == 1
    assert (
        f"not added: arXiv has no paper {UNKNOWN}."
        in page.locator("li.attempt-failed").inner_text()
    )
    context.close()
