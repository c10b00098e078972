"""The arXiv identifier grammar: the one place that knows what an arXiv id looks like.

- :func:`parse_arxiv_id` / :func:`is_arxiv_id`: the strict grammar (ingest, submissions,
  votes, the search box);
- :data:`ID_PATTERN`: the shape of an id in a URL path, for the web's ``{name:arxiv}`` route
  convertor (pages and API); a path of this shape reaches its route, which then looks the
  paper up, so a well-shaped id that names no paper is the route's own 404;
- :func:`unversioned`: an id without its ``vN``;
- :func:`id_hint`: the id an id-like word inside a search query most likely means.

Accepted forms of the strict grammar (https://info.arxiv.org/help/arxiv_identifier.html):

- new style ``YYMM.NNNN`` (0704 to 1412) and ``YYMM.NNNNN`` (from 1501), optional ``vN``;
- old style ``archive/YYMMNNN`` or ``archive.SC/YYMMNNN`` (1991 to 2007-03), optional ``vN``;
  the subject class is not part of the identifier and is dropped (``math.GT/0309136`` ->
  ``math/0309136``);
- an ``arXiv:`` prefix;
- ``http(s)://arxiv.org/abs/ID`` and ``http(s)://arxiv.org/pdf/ID[.pdf]`` (also on the
  ``www.`` and ``export.`` hosts). URLs on any other host are refused.

No whitespace, no other characters, nothing else is accepted.
"""

from __future__ import annotations

import re
from functools import lru_cache

OLD_ARCHIVES = frozenset(
    {
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "astro-ph",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "cond-mat",
        "cs",
        "dg-ga",
        "funct-an",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "mtrl-th",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "patt-sol",
        "physics",
        "plasm-ph",
        "q-alg",
        "q-bio",
        "quant-ph",
        "solv-int",
        "stat",
        "supr-con",
    }
)

# re.ASCII: \d is [0-9] only; without it ``٢٤٠١.٠١٢٣٤`` (Arabic-Indic digits) would pass.
_NEW = re.compile(r"(?P<yy>\d\d)(?P<mm>\d\d)\.(?P<num>\d{4,5})(?:v(?P<v>[1-9]\d{0,3}))?", re.ASCII)
_OLD = re.compile(
    r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?/"
    r"(?P<yy>\d\d)(?P<mm>\d\d)(?P<num>\d{3})(?:v(?P<v>[1-9]\d{0,3}))?",
    re.ASCII,
)
# The hosts arXiv serves papers from: the strict grammar reads their URLs, hints name them.
_ARXIV_URL = r"https?://(?:www\.|export\.)?arxiv\.org/"
_URL = re.compile(rf"{_ARXIV_URL}(?P<kind>abs|pdf)/(?P<rest>[A-Za-z0-9./-]+?)(?P<pdf>\.pdf)?/?")
_PREFIX = re.compile(r"arxiv:", re.IGNORECASE)

_HINT = "expected e.g. 2401.01234, 2401.01234v2, hep-th/9901001 or https://arxiv.org/abs/2401.01234"


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Return ``(canonical id without version, version or None)``; ``ValueError`` otherwise."""
    _check_text(text)
    return _parse_bare(_strip_url(text), text)


def _check_text(text: str) -> None:
    """Refuse what no spelling of an id can be, before any pattern is tried."""
    if not isinstance(text, str):
        raise ValueError(f"arXiv id must be a string, got {type(text).__name__}")
    if not text:
        raise ValueError("empty arXiv id")
    if not text.isascii() or not text.isprintable():  # NUL, controls, any non-ASCII
        raise ValueError(f"arXiv id has characters it cannot have: {text[:40]!r}")
    if " " in text:  # the one whitespace character that is printable ASCII
        raise ValueError(f"arXiv id contains whitespace: {text!r}")
    if len(text) > 200:
        raise ValueError("arXiv id too long")


def _strip_url(text: str) -> str:
    """The bare id inside an arxiv.org URL or after an ``arXiv:`` prefix (else ``text``)."""
    if text.lower().startswith(("http://", "https://")):
        url = _URL.fullmatch(text)
        if url is None:
            raise ValueError(f"only arxiv.org/abs/ or arxiv.org/pdf/ URLs are accepted: {text!r}")
        if url.group("pdf") and url.group("kind") != "pdf":
            raise ValueError(f"not an arXiv abstract URL: {text!r}")
        return url.group("rest")
    if "://" in text:
        raise ValueError(f"only http(s) arxiv.org URLs are accepted: {text!r}")
    if _PREFIX.match(text):
        return text[6:]
    return text


def _parse_bare(candidate: str, original: str) -> tuple[str, int | None]:
    m = _NEW.fullmatch(candidate)
    if m:
        return _parse_new(m, original)
    m = _OLD.fullmatch(candidate)
    if m:
        return _parse_old(m, original)
    raise ValueError(f"malformed arXiv id {original!r} ({_HINT})")


def _parse_new(m: re.Match[str], original: str) -> tuple[str, int | None]:
    """YYMM.NNNN(N): 4 digits up to 1412, 5 from 1501."""
    yymm = int(m.group("yy") + m.group("mm"))
    month = int(m.group("mm"))
    num = m.group("num")
    if not 1 <= month <= 12:
        raise ValueError(f"bad month in arXiv id {original!r}")
    if yymm < 704:
        raise ValueError(f"new-style arXiv ids start in 0704: {original!r}")
    if yymm <= 1412 and len(num) != 4:
        raise ValueError(f"arXiv ids before 1501 have a 4-digit number: {original!r}")
    if yymm >= 1501 and len(num) != 5:
        raise ValueError(f"arXiv ids from 1501 have a 5-digit number: {original!r}")
    if int(num) == 0:
        raise ValueError(f"bad sequence number in arXiv id {original!r}")
    return f"{m.group('yy')}{m.group('mm')}.{num}", _version(m)


def _parse_old(m: re.Match[str], original: str) -> tuple[str, int | None]:
    """archive[.SC]/YYMMNNN, from 1991 to 2007-03."""
    archive = m.group("archive")
    if archive not in OLD_ARCHIVES:
        raise ValueError(f"unknown arXiv archive {archive!r} in {original!r}")
    yy, month = int(m.group("yy")), int(m.group("mm"))
    if not 1 <= month <= 12:
        raise ValueError(f"bad month in arXiv id {original!r}")
    if not (yy >= 91 or yy < 7 or (yy == 7 and month <= 3)):
        raise ValueError(f"old-style arXiv ids run from 1991 to 2007-03: {original!r}")
    if int(m.group("num")) == 0:
        raise ValueError(f"bad sequence number in arXiv id {original!r}")
    return f"{archive}/{m.group('yy')}{m.group('mm')}{m.group('num')}", _version(m)


def _version(m: re.Match[str]) -> int | None:
    return int(m.group("v")) if m.group("v") else None


# The shape of an id in a route's path: new style, or old style (archive[.SC]/YYMMNNN, so one
# slash), each with an optional version. Looser than the grammar on purpose: the page of an id
# of this shape that names no paper is a 404 of the paper route (with its message).
_NEW_SHAPE = r"[0-9]{4}\.[0-9]{4,5}"
_OLD_SHAPE = r"[a-zA-Z][a-zA-Z\-]*(?:\.[a-zA-Z\-]+)?/[0-9]{7}"
ID_PATTERN = rf"(?:{_NEW_SHAPE}|{_OLD_SHAPE})(?:v[0-9]+)?"
_VERSIONED = re.compile(rf"({_NEW_SHAPE}|{_OLD_SHAPE})v[0-9]+")

# Looks like an arXiv id but may not be one (``2401.1234``, ``hep-th/99010``): worth a hint.
_NEW_LIKE = r"\d{4}\.\d{4,5}"
_OLD_LIKE = r"[a-z-]+(?:\.[A-Z]{2})?/\d{7}"
_ID_LIKE = re.compile(
    rf"(?:arxiv:)?(?:{_NEW_LIKE}|{_OLD_LIKE})(?:v\d+)?|{_ARXIV_URL}\S+", re.IGNORECASE
)
_SHORT_NUMBER = re.compile(r"^(\d{4})\.(\d{4})(v\d+)?$")


@lru_cache(maxsize=4096)  # votes ask it for the same few papers, twice a vote
def is_arxiv_id(text: str) -> bool:
    try:
        parse_arxiv_id(text)
    except ValueError:
        return False
    return True


def abs_url(arxiv_id: str, version: int | None = None) -> str:
    suffix = f"v{version}" if version else ""
    return f"https://arxiv.org/abs/{arxiv_id}{suffix}"


def unversioned(arxiv_id: str) -> str:
    """``2501.01234v2`` → ``2501.01234``; ``hep-th/9901001v1`` → ``hep-th/9901001``; anything
    not of the id shape with a version is returned as it is."""
    m = _VERSIONED.fullmatch(arxiv_id)
    return m[1] if m else arxiv_id


def id_hint(word: str) -> str | None:
    """The id an id-like word most likely means (``2501.0001`` → ``2501.00001``), or None when
    the word does not look like an arXiv id."""
    if not _ID_LIKE.fullmatch(word):
        return None
    bare = re.sub(r"^arxiv:", "", word, flags=re.IGNORECASE)
    for candidate in (bare, _SHORT_NUMBER.sub(r"\1.0\2", bare)):
        try:
            return parse_arxiv_id(candidate)[0]
        except ValueError:
            continue
    return bare
