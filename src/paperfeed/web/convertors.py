"""The route convertor of arXiv ids: ``{arxiv_id:arxiv}`` in a path, for the pages and the API.

Its pattern is the id shape of ``papers/ids.py`` (one slash at most, for old-style ids such
as ``hep-th/9901001``), so a route with an id never takes a path meant for another one
(``/papers/trending``, ``/api/papers/search``, ``/api/papers/{id}/similar``,
``/papers/{id}.md``) whatever the order the routes were declared in. A path whose id is not
of that shape matches no route: 404.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from paperfeed.papers.ids import ID_PATTERN

NAME = "arxiv"


class ArxivIdConvertor(Convertor[str]):
    regex = ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor(NAME, ArxivIdConvertor())
