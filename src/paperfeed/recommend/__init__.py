"""For you: a personal feed learned from each reader's signals (upvotes, saved papers,
approved claims, seeds; "not interested" and papers seen and skipped as negatives), over the
stored paper embeddings. Models are derived data, rebuilt from the signals at any time.

- ``signals.py`` (with ``seeds.py``, ``prefs.py``, ``feed_tokens.py``): what a reader tells
  us and sees of it;
- ``gather.py``: one reader's signals and their fingerprint;
- ``candidates.py``: the embeddings and the papers' term rows in memory, by publication day;
- ``terms.py``: papers' words (hashed tf-idf rows, ``paper_terms``);
- ``model.py``: the embedding model; ``sparse_model.py``: the term model; ``fuse.py``: the
  two and the nearest positive fused; ``train.py``: which method, training, the trainers;
- ``service.py``: :func:`recommend`, what the upper layers call."""

from __future__ import annotations


class RecommendError(ValueError):
    """Something a reader asked of their personal feed cannot be done; the message, fit for a
    person, says why (the web layer answers 400 and shows it)."""


class PaperNotFound(RecommendError):
    """The arXiv id names no paper on this site (the web layer answers 404)."""
