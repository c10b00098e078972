"""Questions to the keyword index: a parsed query as tantivy queries (BM25 text, filters that
score nothing), and the searches that answer with paper ids.

Text is matched in the title, authors and abstract (``FIELD_BOOSTS``, fitted). A query of more
than ``LONG_QUERY_TERMS`` words is searched for its informative words only: those in at most
``COMMON_SHARE`` of the abstracts, or at least the ``LONG_QUERY_TERMS`` rarest (32, the
parser's own limit: cutting at 8 lost pasted sentences on the known-item sets). A word no
title or abstract has (a typo) also matches its near spellings (``_fuzzy``); adjacent words
that name an author add ``AUTHOR_BOOST`` (``_author_phrases``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import tantivy

from paperfeed.search.keyword_schema import day_number
from paperfeed.search.query import ParsedQuery, words_of

TEXT_FIELDS = ("title", "abstract", "authors")
# Fitted on the known-item sets' dev half (benchmarks/tune_search.py): the title ×3 and
# authors ×2 of before ranked worse (keyword MRR@10 0.884 → 0.979 on the February dev set).
FIELD_BOOSTS = {"title": 1.0, "authors": 1.0, "abstract": 1.0}
CONJUNCTIVE_MAX_TERMS = 8
# Words no title or abstract has are matched approximately (typos); see ``_fuzzy``.
FUZZY_UNKNOWN = True
FUZZY_MIN_LENGTH = 5
FUZZY_WEIGHT = 3.0
# A query's adjacent words that are an author's name (any variant) add this much to the score.
AUTHOR_BOOST = 3.0
MAX_AUTHOR_WORDS = 16
LONG_QUERY_TERMS = 32
# Up to this many papers with an author the query names are listed outright (``named_ids``).
NAMED_ALONE_MAX = 1000
COMMON_SHARE = 0.05

# The abstract field's analyzer (tantivy's "en_stem"), to look a word's stems up.
_EN_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)

Clause = tuple[tantivy.Occur, tantivy.Query]


@dataclass(slots=True)
class KeywordHits:
    hits: list[tuple[int, float]]  # (papers.id, BM25 score), best first
    total: int  # papers that match (0 when not counted)
    conjunctive: bool  # every word had to match


def informative(index: tantivy.Index, terms: Sequence[str]) -> list[str]:
    """``terms`` without the common words of a long query (``LONG_QUERY_TERMS``)."""
    if len(terms) <= LONG_QUERY_TERMS:
        return list(terms)
    searcher = index.searcher()
    common = COMMON_SHARE * max(1, searcher.num_docs)
    freq = doc_freqs(searcher, terms)
    keep = {term for term in terms if freq[term] <= common}
    if len(keep) < LONG_QUERY_TERMS:
        keep = set(sorted(terms, key=lambda t: freq[t])[:LONG_QUERY_TERMS])
    return [term for term in terms if term in keep]


def doc_freqs(searcher: tantivy.Searcher, terms: Sequence[str]) -> dict[str, int]:
    """How many abstracts hold each of ``terms`` (looked up by its stem)."""

    def frequency(term: str) -> int:
        stems = _EN_STEM.analyze(term)
        return min((searcher.doc_freq("abstract", s) for s in stems), default=0)

    return {term: frequency(term) for term in dict.fromkeys(terms)}


def text_query(
    index: tantivy.Index, parsed: ParsedQuery, conjunctive: bool
) -> tantivy.Query | None:
    """The query's words and phrases, scored by BM25 (every word must match when
    ``conjunctive``); None when it has none. Any word: a word no paper has (a typo) also
    matches the words one or two edits away (``FUZZY_UNKNOWN``)."""
    terms = list(parsed.terms) if conjunctive else informative(index, parsed.terms)
    parts = terms + ['+"' + " ".join(p) + '"' for p in parsed.phrases]
    if not parts:
        return None
    query = index.parse_query(
        " ".join(parts),
        list(TEXT_FIELDS),
        field_boosts=FIELD_BOOSTS,
        conjunction_by_default=conjunctive,
    )
    fuzzy = [] if conjunctive or not FUZZY_UNKNOWN else _fuzzy(index, terms)
    if fuzzy:
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, query), *((tantivy.Occur.Should, q) for q in fuzzy)]
        )
    named = _author_phrases(index.schema, parsed)
    if not named:
        return query
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, query), *((tantivy.Occur.Should, q) for q in named)]
    )


def _author_phrases(schema: tantivy.Schema, parsed: ParsedQuery) -> list[tantivy.Query]:
    """A score for papers with an author the query names: each pair of adjacent words of
    the query (common words kept: "Kaiming He") as a phrase in the authors' name variants
    (``paperfeed.search.authors``)."""
    if AUTHOR_BOOST <= 0:
        return []
    words = words_of(parsed.free_text)[:MAX_AUTHOR_WORDS]
    pairs = dict.fromkeys(itertools.pairwise(words))
    return [
        tantivy.Query.boost_query(
            tantivy.Query.phrase_query(schema, "names", list(pair)), AUTHOR_BOOST
        )
        for pair in pairs
    ]


def _fuzzy(index: tantivy.Index, terms: Sequence[str]) -> list[tantivy.Query]:
    """For each of ``terms`` that no title or abstract has, the words within one edit (two
    for words of 8 letters or more) in titles and abstracts, each scored as a match."""
    searcher = index.searcher()
    schema = index.schema
    out = []
    for term in terms:
        stems = _EN_STEM.analyze(term)
        if len(term) < FUZZY_MIN_LENGTH or not stems or term.isdigit():
            continue
        stem = stems[0]
        if any(searcher.doc_freq(f, stem) for f in ("title", "abstract")):
            continue
        distance = 2 if len(term) >= 8 else 1
        for name in ("title", "abstract"):
            q = tantivy.Query.fuzzy_term_query(schema, name, stem, distance=distance)
            out.append(tantivy.Query.boost_query(q, FUZZY_WEIGHT * FIELD_BOOSTS[name]))
    return out


def _any_of(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _date_range(schema: tantivy.Schema, parsed: ParsedQuery) -> tantivy.Query:
    lo = day_number(parsed.date_from) if parsed.date_from else None
    hi = day_number(parsed.date_to) if parsed.date_to else None
    return tantivy.Query.range_query(
        schema,
        "day",
        tantivy.FieldType.Integer,
        lo,
        hi,
        include_lower=True,
        include_upper=hi is None,
    )


def filter_query(
    schema: tantivy.Schema, parsed: ParsedQuery, *, phrases: bool = False
) -> tantivy.Query | None:
    """The conditions every result must meet, as a query that scores nothing (with
    ``phrases``, the query's phrases too); None when there are none."""
    must: list[Clause] = []
    if parsed.categories:
        cats = [tantivy.Query.term_query(schema, "category", c) for c in parsed.categories]
        must.append((tantivy.Occur.Must, _any_of(cats)))
    for name in parsed.authors:
        if len(name) == 1:
            q = tantivy.Query.term_query(schema, "authors", name[0])
        else:  # the name as written, or one of its variants (initial, last name first)
            q = _any_of(
                [tantivy.Query.phrase_query(schema, f, list(name)) for f in ("authors", "names")]
            )
        must.append((tantivy.Occur.Must, q))
    if parsed.date_from or parsed.date_to:
        must.append((tantivy.Occur.Must, _date_range(schema, parsed)))
    if parsed.has_code:
        must.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "has_code", 1)))
    if phrases:
        for phrase in parsed.phrases:
            fields = [tantivy.Query.phrase_query(schema, f, list(phrase)) for f in TEXT_FIELDS]
            must.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.boolean_query([(tantivy.Occur.Should, f) for f in fields]),
                )
            )
    if not must:
        return None
    query = must[0][1] if len(must) == 1 else tantivy.Query.boolean_query(must)
    return tantivy.Query.const_score_query(query, 0.0)


def search(
    index: tantivy.Index,
    schema: tantivy.Schema,
    parsed: ParsedQuery,
    k: int,
    *,
    conjunctive: bool,
    count: bool,
    newest_first: bool,
) -> KeywordHits:
    """The ``k`` best papers for ``parsed``, filters applied inside the index (before
    ranking); by publication day with ``newest_first`` or when there are only filters."""
    text = text_query(index, parsed, conjunctive)
    filters = filter_query(schema, parsed)
    if text is None and filters is None:
        return KeywordHits([], 0, conjunctive)
    if text is None:
        assert filters is not None
        query, by_day = filters, True
    elif filters is None:
        query, by_day = text, newest_first
    else:
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, text), (tantivy.Occur.Must, filters)]
        )
        by_day = newest_first
    searcher = index.searcher()
    if by_day:
        result = searcher.search(query, k, count=count, order_by_field="day")
    else:
        result = searcher.search(query, k, count=count)
    total = int(getattr(result, "count", 0) or 0) if count else 0
    return KeywordHits(_hits(searcher, result, scored=not by_day), total, conjunctive)


def any_word(index: tantivy.Index, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
    """The ``k`` best papers by BM25 for any of ``terms``, all of them kept (no long-query
    cut, no fuzzy look-up, no author phrases): similar papers' "more like this" search."""
    if not terms:
        return []
    query = index.parse_query(
        " ".join(terms), list(TEXT_FIELDS), field_boosts=FIELD_BOOSTS, conjunction_by_default=False
    )
    searcher = index.searcher()
    return _hits(searcher, searcher.search(query, k, count=False), scored=True)


def _hits(
    searcher: tantivy.Searcher, result: tantivy.SearchResult, *, scored: bool
) -> list[tuple[int, float]]:
    addresses = [addr for _, addr in result.hits]
    ids = searcher.fast_field_values("id", addresses) if addresses else []
    return [
        (int(pid), float(score) if scored else 0.0)
        for (score, _), pid in zip(result.hits, ids, strict=True)
        if pid is not None
    ]


def filter_ids(
    index: tantivy.Index, schema: tantivy.Schema, parsed: ParsedQuery, cap: int
) -> list[int] | None:
    """Ids of every paper meeting the query's filters and phrases; None when there are
    more than ``cap`` (the caller then checks candidates one by one instead)."""
    query = filter_query(schema, parsed, phrases=True)
    if query is None:
        return None
    searcher = index.searcher()
    result = searcher.search(query, cap + 1, count=False)
    if len(result.hits) > cap:
        return None
    return _ids_at(searcher, result)


def ids_passing(
    index: tantivy.Index, schema: tantivy.Schema, parsed: ParsedQuery, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` meet the query's filters and phrases."""
    query = filter_query(schema, parsed, phrases=True)
    if query is None or not ids:
        return set(ids)
    return _which_of(index.searcher(), schema, query, ids)


def named_ids(
    index: tantivy.Index, schema: tantivy.Schema, parsed: ParsedQuery, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` have an author the query's words name (the author phrases of
    ``_author_phrases``, unboosted): the papers a name query must rank first."""
    phrases = _author_phrases(schema, parsed)
    if not phrases or not ids:
        return set()
    searcher = index.searcher()
    # Most queries name no one: the phrases alone match a handful of papers or none, which
    # costs far less than asking them among the ids (benchmarks/RESULTS.md, 2026-12-05).
    alone = searcher.search(_any_of(phrases), NAMED_ALONE_MAX + 1, count=False)
    if len(alone.hits) <= NAMED_ALONE_MAX:
        wanted = set(ids)
        return {pid for pid in _ids_at(searcher, alone) if pid in wanted}
    return _which_of(searcher, schema, _any_of(phrases), ids)


def _which_of(
    searcher: tantivy.Searcher, schema: tantivy.Schema, query: tantivy.Query, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` match ``query``."""
    among = tantivy.Query.term_set_query(schema, "id", list(ids))
    both = tantivy.Query.boolean_query([(tantivy.Occur.Must, among), (tantivy.Occur.Must, query)])
    return set(_ids_at(searcher, searcher.search(both, len(ids), count=False)))


def _ids_at(searcher: tantivy.Searcher, result: tantivy.SearchResult) -> list[int]:
    """The paper ids of ``result``'s hits."""
    found = searcher.fast_field_values("id", [a for _, a in result.hits]) if result.hits else []
    return [int(i) for i in found if i is not None]


def id_counts(index: tantivy.Index) -> dict[int, int]:
    """How many live documents hold each paper id (1, unless duplicated)."""
    searcher = index.searcher()
    n = int(searcher.num_docs)
    if not n:
        return {}
    result = searcher.search(tantivy.Query.all_query(), n, count=False)
    ids = searcher.fast_field_values("id", [a for _, a in result.hits])
    return dict(Counter(int(i) for i in ids if i is not None))
