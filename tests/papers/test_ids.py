from __future__ import annotations

import re

import pytest

from paperfeed.papers.ids import ID_PATTERN, id_hint, parse_arxiv_id, unversioned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("2401.01234v2", ("2401.01234", 2)),
        ("0704.0001", ("0704.0001", None)),
        ("1412.9999v12", ("1412.9999", 12)),
        ("1501.00001", ("1501.00001", None)),
        ("arXiv:2401.01234", ("2401.01234", None)),
        ("arxiv:2401.01234v3", ("2401.01234", 3)),
        ("math/0501001", ("math/0501001", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.GT/0309136", ("math/0309136", None)),
        ("cond-mat/0703001", ("cond-mat/0703001", None)),
        ("https://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
        ("http://arxiv.org/abs/hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("https://arxiv.org/pdf/2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/pdf/2401.01234v4.pdf", ("2401.01234", 4)),
        ("https://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("https://www.arxiv.org/abs/2401.01234/", ("2401.01234", None)),
    ],
)
def test_valid_ids(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 2401.01234",
        "2401.01234 ",
        "2401. 01234",
        "2401.0123\n",
        "2401.1234",  # 2015+ ids have 5 digits
        "1401.12345",  # before 2015: 4 digits
        "0612.0001",  # new style starts in 0704
        "2413.01234",  # month 13
        "2401.00000",
        "2401.01234v0",
        "2401.01234v",
        "2401.012345",
        "math/0713001",
        "hep-th/0801001",  # old style ended 2007-03
        "notanarchive/0501001",
        "MATH/0501001",
        "math/050100",
        "../2401.01234",
        "2401.01234/../../etc/passwd",
        "math/../0501001",
        "https://evil.example/abs/2401.01234",
        "https://arxiv.org.evil.example/abs/2401.01234",
        "https://evil.example/arxiv.org/abs/2401.01234",
        "https://arxiv.org/list/cs.CL/new",
        "https://arxiv.org/abs/2401.01234?x=1",
        "https://arxiv.org/abs/../../2401.01234",
        "ftp://arxiv.org/abs/2401.01234",
        "file:///etc/passwd",
        "https://user@arxiv.org/abs/2401.01234",
        "2401.01234v2v3",
    ],
)
def test_invalid_ids(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_arxiv_id(text)
    assert str(info.value)


def test_error_message_is_clear() -> None:
    with pytest.raises(ValueError, match="malformed arXiv id 'foo'"):
        parse_arxiv_id("foo")
    with pytest.raises(ValueError, match=r"only arxiv\.org"):
        parse_arxiv_id("https://example.org/abs/2401.01234")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2501.01234v2", "2501.01234"),
        ("2501.01234", "2501.01234"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("math.GT/0309136v3", "math.GT/0309136"),
        ("nonsense-v2", "nonsense-v2"),
    ],
)
def test_unversioned(given: str, expected: str) -> None:
    assert unversioned(given) == expected


SHAPE = re.compile(ID_PATTERN)


@pytest.mark.parametrize(
    "text",
    [
        "2401.01234",
        "2401.01234v2",
        "0704.0001",
        "hep-th/9901001",
        "hep-th/9901001v3",
        "math.GT/0309136v1",
        "2503.0000",
        "HEP-TH/9901001",
        "2503.00002v0",
    ],
)
def test_route_shape_takes_ids_and_near_ids(text: str) -> None:
    # Near ids reach the paper routes, which answer their own 404.
    assert SHAPE.fullmatch(text)


@pytest.mark.parametrize(
    "text",
    [
        "search",
        "trending",
        "nonsense",
        "date/2025-03-07",
        "week/2025-W10",
        "2503.00001/similar",
        "2503.00001/upvote",
        "hep-th/9901001/comments",
        "2503.00001.md",
        "hep-th/9901001.md",
        "arXiv:2503.00001",
        "https://arxiv.org/abs/2503.00001",
        "2503.00001%00",
        "٢٤٠١.٠١٢٣٤",
        "",
    ],
)
def test_route_shape_leaves_other_paths_to_their_routes(text: str) -> None:
    assert not SHAPE.fullmatch(text)


@pytest.mark.parametrize(
    "text", ["2401.01234", "0704.0001v3", "hep-th/9901001v2", "math.GT/0309136", "cs/0112001"]
)
def test_every_canonical_id_has_the_route_shape(text: str) -> None:
    arxiv_id, version = parse_arxiv_id(text)
    assert SHAPE.fullmatch(arxiv_id)
    assert SHAPE.fullmatch(f"{arxiv_id}v{version or 1}")
    assert unversioned(f"{arxiv_id}v{version or 1}") == arxiv_id


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.1234", "2401.01234"),  # a digit dropped
        ("arXiv:2401.01234v2", "2401.01234"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("9999.99999", "9999.99999"),  # looks like one, is none: the word itself
        ("planners", None),
        ("2401", None),
    ],
)
def test_id_hint(word: str, hint: str | None) -> None:
    assert id_hint(word) == hint
