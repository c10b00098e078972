"""Check a known-item query file against its corpus.

Usage: python validate.py QUERIES.jsonl CORPUS.jsonl.gz [PER_STYLE]
Checks: every arxiv_id is in the corpus; one paper per row (no id twice); PER_STYLE rows (default
30) of each of the seven styles; the split follows the sha256 rule; each pasted sentence index
exists and has at least 8 words; a written query has 5-16 words, shares no run of 4 words with the
abstract (acronyms and names aside, none is expected) and, for author_topic, names an author.
Prints the problems found and the counts per style and split; exits 1 on any problem.
"""

import collections
import gzip
import hashlib
import json
import re
import sys
import unicodedata

from sentences import split_sentences, word_count

STYLES = ("method", "problem", "result", "author_topic", "acronym", "pasted", "misspelling")


def split_of(arxiv_id: str) -> str:
    """The split rule: dev when sha256(id) is even, else test."""
    return "dev" if int(hashlib.sha256(arxiv_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def words(text: str) -> list[str]:
    """Lowercase ASCII word tokens (accents folded)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", folded.lower())


def row_problems(row: dict, paper: dict) -> list[str]:
    """What is wrong with one row, given its paper."""
    out = []
    if row.get("split") != split_of(row["arxiv_id"]):
        out.append("split does not follow the rule")
    if row["style"] == "pasted":
        sentences = split_sentences(paper["abstract"])
        n = row.get("sentence")
        if "query" in row or not isinstance(n, int) or not 0 <= n < len(sentences):
            out.append(f"bad pasted row (sentence {n} of {len(sentences)})")
        elif word_count(sentences[n]) < 8:
            out.append(f"pasted sentence {n} has under 8 words")
        return out
    query = row["query"]
    if not 5 <= len(query.split()) <= 16:
        out.append(f"{len(query.split())} words")
    q, a = words(query), words(paper["abstract"])
    grams = {tuple(a[i : i + 4]) for i in range(len(a) - 3)}
    copied = [" ".join(q[i : i + 4]) for i in range(len(q) - 3) if tuple(q[i : i + 4]) in grams]
    if copied:
        out.append(f"copies the abstract: {copied}")
    if row["style"] == "author_topic":
        names = {w for author in paper["authors"] for w in words(author) if len(w) > 1}
        if not names & set(q):
            out.append("names no author")
    return out


def main() -> int:
    queries, corpus = sys.argv[1], sys.argv[2]
    per_style = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        papers = {p["id"]: p for p in map(json.loads, fh)}
    with open(queries, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    problems = []
    ids = collections.Counter(row["arxiv_id"] for row in rows)
    problems += [f"{i}: used {n} times" for i, n in ids.items() if n > 1]
    for row in rows:
        if row.get("style") not in STYLES:
            problems.append(f"{row['arxiv_id']}: unknown style {row.get('style')}")
        elif row["arxiv_id"] not in papers:
            problems.append(f"{row['arxiv_id']}: not in the corpus")
        else:
            problems += [
                f"{row['arxiv_id']}: {p}" for p in row_problems(row, papers[row["arxiv_id"]])
            ]
    counts = collections.Counter((row.get("style"), row.get("split")) for row in rows)
    for style in STYLES:
        total = counts[(style, "dev")] + counts[(style, "test")]
        print(f"{style:13} dev {counts[(style, 'dev')]:3} test {counts[(style, 'test')]:3}")
        if total != per_style:
            problems.append(f"{style}: {total} rows, expected {per_style}")
    print(f"{len(rows)} rows, {len(ids)} papers")
    for p in problems:
        print("PROBLEM", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
