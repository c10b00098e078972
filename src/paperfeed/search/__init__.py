"""Search: a query language, a keyword index (BM25, tantivy), a semantic index (vectors) and
their fusion.

- ``query.py``: the query language → :class:`~paperfeed.search.query.ParsedQuery`;
- ``keyword.py``: the per-node keyword index, derived from the database; what it holds in
  ``keyword_schema.py``, how it is asked in ``keyword_query.py``, how it follows the
  database in ``keyword_sync.py``;
- ``embedder.py``: sentence embeddings (the packaged model in ``minilm.py``, the
  ``torch-bf16`` encoder in ``torch_bert.py``, the ONNX files in ``onnx_export.py``);
- ``ann.py``, ``ann_layered.py``, ``ann_files.py``: nearest-neighbour stores, the mapped base
  file with a delta over it, and the base files on disk;
- ``vectors.py``: the semantic index's query side; ``vector_updates.py`` its update side;
  ``vector_rows.py`` the stored embeddings as both read them;
- ``hybrid.py``: the search service the web pages and the API call;
- ``similar.py``: a paper's nearest papers;
- ``indexing.py``: catching the indexes up (``paperfeed index``, ingest and the worker).
"""
