"""Seed papers named at onboarding: the arXiv ids in a pasted text or an uploaded BibTeX file.

:func:`parse_seed_text` finds, anywhere in the text:

- ids of the strict grammar (``papers/ids.py``), new and old style, versions dropped
  (``2401.01234v2``, ``hep-th/9901001``, ``arXiv:2401.01234``);
- arxiv.org ``abs``, ``pdf`` and ``html`` URLs, with or without their scheme, query or
  fragment; ``10.48550/arXiv.<id>`` DOIs; ``…/papers/<id>`` URLs (Hugging Face's and this
  site's own paper pages);
- BibTeX entries: ``eprint`` (when ``archivePrefix``/``eprinttype`` is arXiv or absent),
  then ``arxivid``, ``url``, ``doi``, ``journal`` (``arXiv preprint arXiv:<id>``), ``note``,
  ``howpublished``, ``volume`` (DBLP's ``abs/<id>``) and a few more.

Tolerant of prose: a line that names an id gives the id and its other words are not reported
(a pasted reference list); a line naming none is reported whole as not understood, as is a
word that looks like an id but is not one, and a BibTeX entry without an arXiv id (by its
key). No BibTeX library is installed: this is a small scanner (``@type{…}`` or ``@type(…)``
with balanced braces; ``@comment``, ``@string`` and ``@preamble`` skipped; an entry left open
runs to the end of the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from paperfeed.papers.ids import id_hint, parse_arxiv_id
from paperfeed.recommend import RecommendError

MAX_SEED_TEXT = 1_000_000  # characters of pasted text or of an uploaded file
MAX_SEEDS = 500  # ids at a time
MAX_BAD = 50  # not-understood pieces reported
BAD_CHARS = 80  # of each
_MAX_WORD = 300  # longer words are no id, URL or DOI of one

_ENTRY = re.compile(r"@[ \t]*([A-Za-z]+)[ \t]*([{(])")
_DELIMS = re.compile(r"[{})]")
_FIELD = re.compile(r"([A-Za-z][\w.:+-]*)\s*=\s*")
_BARE_VALUE = re.compile(r"[^,})]*")
_SPLIT = re.compile(r"[\s,;]+")
_DIGIT = re.compile(r"[0-9]")
_LEAD = "<([{\"'`"
_TRAIL = ">)]}\"'`.,;:"
_ARXIV_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/([^?#]+)(?:[?#].*)?",
    re.IGNORECASE,
)
_ARXIV_DOI = re.compile(r"(?:https?://(?:dx\.)?doi\.org/)?10\.48550/arxiv\.(.+)", re.IGNORECASE)
_PAPER_PAGE = re.compile(r"https?://[A-Za-z0-9.:-]+/papers/([^?#]+)(?:[?#].*)?")
_SKIPPED_ENTRIES = frozenset({"comment", "string", "preamble"})
# Fields that may carry an entry's arXiv id, in the order they are believed.
_ID_FIELDS = (
    "arxivid",
    "arxiv",
    "url",
    "doi",
    "journal",
    "journaltitle",
    "note",
    "howpublished",
    "volume",
    "number",
    "pages",
    "eid",
    "publisher",
    "booktitle",
)


def parse_seed_text(text: str) -> tuple[list[str], list[str]]:
    """``(arXiv ids, pieces not understood)``: the ids without versions, each once, in the
    order they first appear; at most :data:`MAX_BAD` pieces, each cut to
    :data:`BAD_CHARS` characters. :class:`RecommendError` when the text is over
    :data:`MAX_SEED_TEXT` characters or names more than :data:`MAX_SEEDS` papers."""
    if len(text) > MAX_SEED_TEXT:
        raise RecommendError(
            f"That is too much text (at most {MAX_SEED_TEXT:,} characters): "
            "split it, or keep only the papers you want."
        )
    ids: dict[str, None] = {}
    bad: dict[str, None] = {}
    for kind, key, body in _split_bibtex(text):
        if kind == "":  # text between entries (or no BibTeX at all)
            _scan_lines(body, ids, bad)
        elif kind not in _SKIPPED_ENTRIES:
            found = _entry_id(body)
            if found is None:
                bad[key or f"@{kind}"] = None
            else:
                ids[found] = None
    if len(ids) > MAX_SEEDS:
        raise RecommendError(
            f"At most {MAX_SEEDS} papers at a time; this names {len(ids)}. "
            "Keep the ones that matter most."
        )
    cut = [b[:BAD_CHARS] for b in bad]
    return list(ids), list(dict.fromkeys(cut))[:MAX_BAD]


def decode_upload(data: bytes) -> str:
    """An uploaded file's text (UTF-8, else Latin-1, which any bytes decode as), with the
    size check of :func:`parse_seed_text` made before decoding."""
    if len(data) > MAX_SEED_TEXT:
        raise RecommendError(f"That file is too large (at most {MAX_SEED_TEXT:,} bytes).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def word_id(word: str) -> str | None:
    """The arXiv id (without version) one word names, else None."""
    word = word.lstrip(_LEAD).rstrip(_TRAIL)
    if len(word) > _MAX_WORD or _DIGIT.search(word) is None:  # every id has digits
        return None
    for pattern in (_ARXIV_URL, _ARXIV_DOI, _PAPER_PAGE):
        m = pattern.fullmatch(word)
        if m:
            word = m[1].rstrip("/").removesuffix(".pdf")
            break
    try:
        return parse_arxiv_id(word.removeprefix("abs/"))[0]
    except ValueError:
        return None


def _looks_like_id(word: str) -> bool:
    """A word worth reporting when it names no paper: id-like, or a URL."""
    word = word.lstrip(_LEAD).rstrip(_TRAIL)
    if "://" in word or word.lower().startswith("arxiv.org/"):
        return True
    return _DIGIT.search(word) is not None and id_hint(word) is not None


def _scan_lines(text: str, ids: dict[str, None], bad: dict[str, None]) -> None:
    for line in text.splitlines():
        words = [w for w in _SPLIT.split(line) if w]
        if not words or line.lstrip().startswith("%"):  # blank, or a BibTeX file's comment
            continue
        named = False
        for word in words:
            found = word_id(word)
            if found is not None:
                ids[found] = None
                named = True
            elif _looks_like_id(word):
                bad[word] = None
                named = True  # the line is reported by its id-like word, not whole
        if not named:
            bad[" ".join(line.split())] = None


def _split_bibtex(text: str) -> Iterator[tuple[str, str, str]]:
    """``(kind, key, body)`` of each ``@kind{key, …}`` entry, and ``("", "", text)`` for the
    text around them."""
    pos = 0
    while (m := _ENTRY.search(text, pos)) is not None:
        yield "", "", text[pos : m.start()]
        end = _closing(text, m.end(), m[2])
        body = text[m.end() : end]
        key = body.split(",", 1)[0].strip() if "," in body else ""
        yield m[1].lower(), key[:BAD_CHARS], body
        pos = end + 1
    yield "", "", text[pos:]


def _closing(text: str, start: int, opener: str) -> int:
    """Where the entry opened by ``opener`` just before ``start`` closes (its closing
    brace or parenthesis at depth 0, skipping braces); ``len(text)`` when it never does."""
    depth = 0
    for m in _DELIMS.finditer(text, start):
        char = m[0]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0 and opener == "{":
                return m.start()
            depth = max(depth - 1, 0)
        elif char == ")" and depth == 0 and opener == "(":
            return m.start()
    return len(text)


def _entry_id(body: str) -> str | None:
    """The arXiv id an entry's fields name, else None."""
    fields = _fields(body.split(",", 1)[1] if "," in body else body)
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    names = ("eprint", *_ID_FIELDS) if prefix == "arxiv" else _ID_FIELDS
    for name in names:
        for word in _SPLIT.split(fields.get(name, "")):
            found = word_id(word)
            if found is not None:
                return found
    return None


def _fields(text: str) -> dict[str, str]:
    """An entry's fields, names lower-cased, values' words (first one wins)."""
    fields: dict[str, str] = {}
    pos = 0
    while (m := _FIELD.search(text, pos)) is not None:
        value, pos = _value(text, m.end())
        # Braces become spaces: ``\url{https://…}`` gives the URL as a word of its own.
        fields.setdefault(m[1].lower(), " ".join(value.replace("{", " ").replace("}", " ").split()))
    return fields


def _value(text: str, start: int) -> tuple[str, int]:
    """The value starting at ``start`` (``{…}``, ``"…"`` or a bare word) and where it ends."""
    if text.startswith("{", start):
        end = _closing(text, start + 1, "{")
        return text[start + 1 : end], end + 1
    if text.startswith('"', start):
        end = text.find('"', start + 1)
        end = len(text) if end < 0 else end
        return text[start + 1 : end], end + 1
    m = _BARE_VALUE.match(text, start)
    assert m is not None  # matches the empty string at least
    return m[0], max(m.end(), start + 1)
