"""Sentence splitting shared by the known-item set and the benchmark that reads it.

A "pasted" row names an abstract and a 0-based sentence index; the benchmark rebuilds the
query text at run time with :func:`split_sentences`, so no abstract text is stored in the repo.
Rule: collapse every run of whitespace to one space, strip, then split after ``.``, ``!`` or
``?`` when whitespace follows (regex ``(?<=[.!?])\\s+``). Empty pieces are dropped.
"""

import re

_SPACE = re.compile(r"\s+")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+")


def split_sentences(abstract: str) -> list[str]:
    """The abstract's sentences by the rule above."""
    text = _SPACE.sub(" ", abstract).strip()
    return [s for s in _BOUNDARY.split(text) if s]


def word_count(sentence: str) -> int:
    """Whitespace-separated words in ``sentence``."""
    return len(sentence.split())
