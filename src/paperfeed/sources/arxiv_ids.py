"""The arXiv identifier grammar, strictly.

Accepted forms (https://info.arxiv.org/help/arxiv_identifier.html):

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
_URL = re.compile(
    r"https?://(?:www\.|export\.)?arxiv\.org/(?P<kind>abs|pdf)/(?P<rest>[A-Za-z0-9./-]+?)"
    r"(?P<pdf>\.pdf)?/?"
)
_PREFIX = re.compile(r"arxiv:", re.IGNORECASE)

_HINT = "expected e.g. 2401.01234, 2401.01234v2, hep-th/9901001 or https://arxiv.org/abs/2401.01234"


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Return ``(canonical id without version, version or None)``; ``ValueError`` otherwise."""
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
    candidate = text
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        url = _URL.fullmatch(text)
        if url is None:
            raise ValueError(f"only arxiv.org/abs/ or arxiv.org/pdf/ URLs are accepted: {text!r}")
        candidate = url.group("rest")
        if url.group("pdf") and url.group("kind") != "pdf":
            raise ValueError(f"not an arXiv abstract URL: {text!r}")
    elif "://" in text:
        raise ValueError(f"only http(s) arxiv.org URLs are accepted: {text!r}")
    elif _PREFIX.match(text):
        candidate = text[6:]
    return _parse_bare(candidate, text)


def _parse_bare(candidate: str, original: str) -> tuple[str, int | None]:
    m = _NEW.fullmatch(candidate)
    if m:
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
        version = int(m.group("v")) if m.group("v") else None
        return f"{m.group('yy')}{m.group('mm')}.{num}", version
    m = _OLD.fullmatch(candidate)
    if m:
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
        version = int(m.group("v")) if m.group("v") else None
        return f"{archive}/{m.group('yy')}{m.group('mm')}{m.group('num')}", version
    raise ValueError(f"malformed arXiv id {original!r} ({_HINT})")


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
