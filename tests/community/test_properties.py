"""Property-based tests (hypothesis): the arXiv id / URL parser and the comment sanitiser."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.community.comments import render_markdown, sanitize
from paperfeed.papers.ids import parse_arxiv_id

NEW_IDS = st.builds(
    lambda yy, mm, n, v: (f"{yy:02d}{mm:02d}.{n:05d}", v),
    st.integers(15, 99),
    st.integers(1, 12),
    st.integers(1, 99999),
    st.one_of(st.none(), st.integers(1, 99)),
)


@given(
    NEW_IDS, st.sampled_from(["", "arXiv:", "https://arxiv.org/abs/", "http://www.arxiv.org/pdf/"])
)
def test_ids_and_urls_round_trip(id_version: tuple[str, int | None], prefix: str) -> None:
    arxiv_id, version = id_version
    text = prefix + arxiv_id + (f"v{version}" if version else "")
    assert parse_arxiv_id(text) == (arxiv_id, version)
    canonical, v = parse_arxiv_id(text)
    assert parse_arxiv_id(canonical + (f"v{v}" if v else "")) == (arxiv_id, version)


TRICKS = st.sampled_from(
    [
        "https://evil.example/abs/{id}",
        "https://arxiv.org.evil.example/abs/{id}",
        "https://arxiv.org@evil.example/abs/{id}",
        "https://user@arxiv.org/abs/{id}",
        "https://arxiv.org/abs/../../{id}",
        "https://arxiv.org/abs/{id}/../x",
        " {id}",
        "{id} ",
        "{id}\n",
        "\u200b{id}",
        "{id}\u00a0",
        "https://arxiv.org/abs/{id}?x=1",
        "https://arxiv.org/abs/{id}#frag",
        "javascript:{id}",
        "file:///{id}",
        "//arxiv.org/abs/{id}",
        "https://arxiv\u2024org/abs/{id}",
        "https://ａrxiv.org/abs/{id}",
        "{id}\u0000",
    ]
)


@given(NEW_IDS, TRICKS)
def test_other_hosts_and_tricks_are_refused(id_version: tuple[str, int | None], trick: str) -> None:
    text = trick.format(id=id_version[0])
    try:
        parse_arxiv_id(text)
    except ValueError:
        return
    raise AssertionError(f"accepted {text!r}")


DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "style", "img", "math", "form"}


class _Active(HTMLParser):
    """Collects what a browser would treat as active in a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.found.append(name)
            if name in ("href", "src") and value is not None:
                squashed = "".join(c for c in value if not c.isspace() and ord(c) > 32).lower()
                if not squashed.startswith(("http://", "https://", "mailto:")):
                    self.found.append(f"{name}={value}")


def active_parts(html: str) -> list[str]:
    parser = _Active()
    parser.feed(html)
    parser.close()
    return parser.found


PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))",
        "<a href='javascript:alert(1)'>x</a>", "<svg onload=alert(1)>", "<iframe src=//x>",
        "**b**", "_i_", "`c`", "> q", "- li", "[ok](https://example.org)", "<", ">", "&", "\"",
        "'", "\n\n", "<scr<script>ipt>", "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<style>*{}</style>", "<p onclick=x>y</p>", "<<script>script>", "javascript&colon;x",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=12))
def test_sanitiser_is_idempotent_and_inert(parts: list[str]) -> None:
    source = "".join(parts)
    for html in (sanitize(source), render_markdown(source)):
        assert sanitize(html) == html
        assert active_parts(html) == [], html
