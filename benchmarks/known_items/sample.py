"""Print a fixed random sample of corpus papers for writing known-item queries.

Shows only id, authors and the abstract (split into numbered sentences), never the title,
so queries are worded from memory of the content rather than from the title.
Each paper is offered a style in turn (n % 7); a paper that does not fit it (no acronym in
the abstract for "acronym") swaps with a neighbour.
Usage: python sample.py CORPUS.jsonl.gz START COUNT   (seed fixed; START/COUNT page the sample)
"""

import gzip
import json
import random
import sys

from sentences import split_sentences, word_count

SEED = 16
STYLES = ("method", "problem", "result", "author_topic", "acronym", "pasted", "misspelling")


def sample_ids(path: str) -> list[dict]:
    """All papers in a seeded random order."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        papers = [json.loads(line) for line in fh]
    papers.sort(key=lambda p: p["id"])
    random.Random(SEED).shuffle(papers)
    return papers


def main() -> None:
    path, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for n, p in enumerate(sample_ids(path)[start : start + count], start):
        authors = p.get("authors")
        if isinstance(authors, list):
            authors = ", ".join(a if isinstance(a, str) else str(a) for a in authors)
        style = STYLES[n % len(STYLES)]
        print(f"#{n} {p['id']} style={style} | {authors}")
        for i, s in enumerate(split_sentences(p["abstract"])):
            print(f"  [{i}] ({word_count(s)}w) {s}")
        print()


if __name__ == "__main__":
    main()
