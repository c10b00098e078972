"""Search: a query language, a keyword index (BM25, tantivy), a semantic index (vectors) and
their fusion.

- ``query.py``: the query language → :class:`~paperfeed.search.query.ParsedQuery`;
- ``keyword.py``: the per-node keyword index, derived from the database;
- ``hybrid.py``: the search service the web pages and the API call;
- ``indexing.py``: catching the indexes up (``paperfeed index``, ingest and the worker).
"""
