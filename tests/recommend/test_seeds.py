"""parse_seed_text: ids, URLs and BibTeX in, canonical arXiv ids and what was not understood
out; never an exception but the two size limits (hypothesis over garbage and prose)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.recommend import RecommendError
from paperfeed.recommend.seeds import (
    BAD_CHARS,
    MAX_BAD,
    MAX_SEED_TEXT,
    MAX_SEEDS,
    decode_upload,
    parse_seed_text,
    word_id,
)

# Invented entries in the shapes Google Scholar, DBLP, arXiv's own export, Zotero and
# hand-written files give; titles are made up.
BIBTEX = r"""
% Exported by a reference manager
@article{scholar2017,
  title={An invented title},
  author={Example, Ada and Sample, Bo},
  journal={arXiv preprint arXiv:1706.03762},
  year={2017}
}

@article{DBLP:journals/corr/abs-1810-04805,
  author    = {Ada Example},
  title     = {{Another} Invented Title},
  journal   = {CoRR},
  volume    = {abs/1810.04805},
  year      = {2018},
  eprinttype = {arXiv},
  eprint    = {1810.04805v2},
}
@misc{arxivexport,
      title={Made Up}, author={Bo Sample},
      year={2020}, eprint={2001.08361}, archivePrefix={arXiv}, primaryClass={cs.LG},
      url={https://arxiv.org/abs/2001.08361},
}
@Misc{zotero,
  Title = "Quoted {Braces} value",
  Howpublished = "\url{https://arxiv.org/pdf/2005.14165v4.pdf}",
}
@misc{halpaper, eprint = {hal-01234567}, archivePrefix = {HAL},
  url = {https://arxiv.org/abs/hep-th/9901001v3}}
@misc{doionly, doi = {10.48550/arXiv.2303.08774}}
@inproceedings{notonarxiv, title = {Only in proceedings}, booktitle = {Some Venue}}
@string{venue = "Some Venue"}
@comment{eprint = {2101.00001}}
@article(paren, eprint = 2106.09685, note = {x})
"""
BIBTEX_IDS = [
    "1706.03762",
    "1810.04805",
    "2001.08361",
    "2005.14165",
    "hep-th/9901001",
    "2303.08774",
    "2106.09685",
]


def test_bibtex_of_every_usual_shape() -> None:
    assert parse_seed_text(BIBTEX) == (BIBTEX_IDS, ["notonarxiv"])


def test_bibtex_entry_left_open_runs_to_the_end() -> None:
    text = "@misc{a, eprint={2401.01234}}\n@misc{b, title={x}, eprint={2401.05678"
    assert parse_seed_text(text) == (["2401.01234", "2401.05678"], [])


def test_bibtex_without_key_or_fields_is_reported() -> None:
    ids, bad = parse_seed_text("@article{}\n@book{ ,}")
    assert ids == []
    assert bad == ["@article", "@book"]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("2401.01234", ["2401.01234"]),
        ("2401.01234v3", ["2401.01234"]),
        ("arXiv:2401.01234v1", ["2401.01234"]),
        ("ARXIV:0704.0001", ["0704.0001"]),
        ("hep-th/9901001v2", ["hep-th/9901001"]),
        ("math.GT/0309136", ["math/0309136"]),
        ("https://arxiv.org/abs/2401.01234v2", ["2401.01234"]),
        ("http://export.arxiv.org/abs/hep-ph/0101001", ["hep-ph/0101001"]),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", ["2401.01234"]),
        ("https://arxiv.org/pdf/2401.01234", ["2401.01234"]),
        ("arxiv.org/abs/2401.01234?context=cs.CL", ["2401.01234"]),
        ("https://www.arxiv.org/html/2401.01234v1#S2", ["2401.01234"]),
        ("https://huggingface.co/papers/2401.01234", ["2401.01234"]),
        ("https://doi.org/10.48550/arXiv.2401.01234", ["2401.01234"]),
        ("<https://arxiv.org/abs/2401.01234>.", ["2401.01234"]),
        ("(2401.01234), [2401.01235];", ["2401.01234", "2401.01235"]),
        ("2401.01234\n2401.01234v2\r\narXiv:2401.01234", ["2401.01234"]),
        ("2401.01235 2401.01234 2401.01235", ["2401.01235", "2401.01234"]),
    ],
)
def test_spellings_of_an_id(text: str, ids: list[str]) -> None:
    assert parse_seed_text(text) == (ids, [])


def test_prose_around_an_id_is_not_reported_but_a_line_without_one_is() -> None:
    text = (
        "[1] A. Example, An invented title, arXiv:2401.01234 (2024).\n"
        "\n"
        "[2] B. Sample, Something only in a journal, 2019.\n"
        "% a comment line\n"
        "see https://arxiv.org/abs/2401.01235 too"
    )
    ids, bad = parse_seed_text(text)
    assert ids == ["2401.01234", "2401.01235"]
    assert bad == ["[2] B. Sample, Something only in a journal, 2019."]


@pytest.mark.parametrize(
    "word",
    [
        "2401.0123",  # 4 digits after 1501
        "1301.01234",  # 5 digits before 1501
        "2413.01234",  # month 13
        "nosuch-archive/9901001",
        "https://example.org/abs/2401.01234",
        "https://arxiv.org/list/cs.CL/recent",
        "arxiv.org/abs/",
    ],
)
def test_id_like_words_that_are_no_id_are_reported(word: str) -> None:
    assert parse_seed_text(f"2401.01234 {word}") == (["2401.01234"], [word])


def test_bad_pieces_are_capped_and_cut() -> None:
    lines = [f"line {n} " + "x" * 200 for n in range(MAX_BAD + 20)]
    ids, bad = parse_seed_text("\n".join(lines))
    assert ids == []
    assert len(bad) == MAX_BAD
    assert all(len(b) == BAD_CHARS for b in bad)


def test_too_much_text_is_refused_with_a_reason() -> None:
    with pytest.raises(RecommendError, match="too much text"):
        parse_seed_text("x" * (MAX_SEED_TEXT + 1))
    parse_seed_text(" " * MAX_SEED_TEXT)  # at the limit: fine


def test_too_many_ids_are_refused_with_a_reason() -> None:
    ids = [f"2401.{n:05d}" for n in range(1, MAX_SEEDS + 2)]
    with pytest.raises(RecommendError, match=f"At most {MAX_SEEDS}"):
        parse_seed_text("\n".join(ids))
    assert parse_seed_text("\n".join(ids[:-1]))[0] == ids[:-1]


def test_uploads_are_decoded_and_capped() -> None:
    assert decode_upload("\ufeff@misc{a, eprint={2401.01234}}".encode()).startswith("@misc")
    assert decode_upload("Gödel 2401.01234".encode("latin-1")) == "Gödel 2401.01234"
    with pytest.raises(RecommendError, match="too large"):
        decode_upload(b" " * (MAX_SEED_TEXT + 1))


def test_pathological_inputs_end() -> None:
    for text in (
        "@a{" * 50_000,
        "@a{}" * 50_000,
        "{" * 200_000,
        "@misc{k, " + "a={" * 50_000,
        "@misc{k, " + "a=b," * 50_000,
        "2401.01234 " + "x" * 500_000,
        "https://arxiv.org/abs/" * 10_000,
    ):
        _ids, bad = parse_seed_text(text)
        assert len(bad) <= MAX_BAD


NEW_IDS = st.builds(
    lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:05d}",
    st.integers(15, 99),
    st.integers(1, 12),
    st.integers(1, 99999),
)
SPELLINGS = st.sampled_from(
    [
        "{id}",
        "{id}v3",
        "arXiv:{id}",
        "https://arxiv.org/abs/{id}v1",
        "https://arxiv.org/pdf/{id}.pdf",
        "arxiv.org/abs/{id}",
        "({id})",
        "eprint = {{{id}}}",
    ]
)
PROSE = st.text(st.characters(blacklist_characters="@%"), max_size=40)  # BibTeX syntax aside


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(NEW_IDS, SPELLINGS, PROSE), max_size=8))
def test_ids_in_any_spelling_among_prose_come_back_in_order(
    parts: list[tuple[str, str, str]],
) -> None:
    text = "\n".join(
        f"{prose} {spelling.format(id=arxiv_id)} ," for arxiv_id, spelling, prose in parts
    )
    ids, _bad = parse_seed_text(text)
    expected = list(dict.fromkeys(arxiv_id for arxiv_id, _s, _p in parts))
    assert [i for i in ids if i in expected] == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_garbage_gives_only_canonical_ids_and_short_reports(text: str) -> None:
    ids, bad = parse_seed_text(text)
    assert all(parse_arxiv_id(i)[0] == i for i in ids)
    assert len(ids) == len(set(ids))
    assert len(bad) <= MAX_BAD and all(0 < len(b) <= BAD_CHARS for b in bad)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["@misc{", "@article(", "{", "}", "(", ")", ",", "=", '"', "eprint", "url",
             "archivePrefix", "arXiv", "2401.01234", "abs/", "\n", " ", "%", "@string{"]
        ),
        max_size=40,
    )
)  # fmt: skip
def test_broken_bibtex_never_raises(pieces: list[str]) -> None:
    ids, _bad = parse_seed_text("".join(pieces))
    assert set(ids) <= {"2401.01234"}


def test_word_id_is_none_for_what_is_no_id() -> None:
    assert word_id("2401.01234v2") == "2401.01234"
    for word in ("", "...", "arXiv:", "abs/", "x" * 400, "2401.01234\x00", "٢٤٠١.٠١٢٣٤"):
        assert word_id(word) is None
