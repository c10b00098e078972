"""``/papers/{id}.md``: imported fields render as their own text, never as markup or links.

Rendered through markdown-it-py (CommonMark plus GFM tables and strikethrough, what most
renderers add) and read back with ``html.parser``."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.api.serialize import md_text
from paperfeed.web.app import create_app
from tests.api.conftest import MAR_7
from tests.factories import add_entry

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "![img](http://evil.example/x.png)",
    "<http://evil.example/auto>",
    "[ref]\n\n[ref]: http://evil.example/ref",
    "# heading",
    "Title\n===",
    "Title\n---",
    "*stars* and **strong** and _under_ snake_case",
    "`code` and ```fence```",
    "```\nfenced\n```",
    "    indented code",
    "| a | b |\n|---|---|\n| c | d |",
    "&lt;b&gt; &amp; &#x3C;script&#x3E;",
    "1. one\n2) two",
    "- item\n+ item\n* item",
    "> quote",
    "~~strike~~ and ~~~fence",
    "back\\slash\\",
    "two trailing spaces  \nnext line",
    "C# and F# ##",
    "The last <EOS> token",
]


def markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


class _Seen(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def seen(html: str) -> _Seen:
    parser = _Seen()
    parser.feed(html)
    parser.close()
    return parser


def words(text: str) -> str:
    return " ".join(text.split())


def assert_literal(text: str) -> None:
    got = seen(markdown().render(md_text(text)))
    assert set(got.tags) <= {"p"} and got.attrs == [], (text, got.tags)
    assert words("".join(got.text)) == words(text)


def test_hostile_fields_render_as_their_text() -> None:
    for text in HOSTILE:
        assert_literal(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=60))
def test_any_ascii_renders_as_its_text(text: str) -> None:
    assert_literal(text)


def test_paper_markdown_page_makes_no_markup_from_data(
    settings: Settings, database: Database
) -> None:
    title = "# Lists <b>and</b> [links](javascript:alert(1)) | pipes | `ticks`"
    abstract = "\n\n".join(HOSTILE)
    authors = ["<script>x</script>", "![i](http://evil.example/a.png)", "*Star* Author"]
    add_entry(database, "2503.00900", MAR_7, title=title, abstract=abstract, authors=authors)
    client = TestClient(create_app(settings, database))
    response = client.get("/papers/2503.00900.md")
    assert response.status_code == 200
    page = seen(markdown().render(response.text))
    assert set(page.tags) <= {"h1", "h2", "p", "strong", "ul", "li"}, page.tags
    assert page.attrs == []  # no href/src at all: no link or image comes from the data
    text = words("".join(page.text))
    assert text.startswith(words(title))
    assert words(", ".join(authors)) in text
    assert all(words(h) in text for h in HOSTILE)
    assert "Paper page: http://" in text or "Paper page: https://" in text
