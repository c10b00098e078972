"""Refuse request text no route can use, once, before any route sees it (pure ASGI).

Why here: a NUL in a path, a query value, a form field or a JSON string reached the database
and PostgreSQL refused it mid-request (a 500: sign-up, login, users, papers, comments,
votes); a lone surrogate from a JSON ``\\ud800`` escape cannot even be encoded. Checking
each route's parameters would leave the next route to forget it; here every value of every
request goes through ``params.text_problem`` and a bad one is a 400 that names it (a JSON
``error`` under ``/api/``, the error page elsewhere). Each value's own grammar (numbers,
dates, ids, lengths) is still checked where it is read.

Bodies are read (at most ``MAX_BODY_BYTES``) only when they are forms (urlencoded or
multipart) or JSON, then handed on unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException
from starlette.types import Receive, Scope, Send

from paperfeed.params import text_problem
from paperfeed.web.early import BodyTooLarge, HttpMiddleware, multipart_fields, read_body, refuse

MAX_PATH_CHARS = 2_000
MAX_QUERY_VALUE_CHARS = 10_000  # the longest query value a route reads is 500 characters
MAX_BODY_VALUE_CHARS = 100_000  # the longest text field (a comment) is 20 000
MAX_JSON_DEPTH = 32  # every body a route takes is one object of plain values
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"  # FastAPI's Form() reads it too
JSON = "application/json"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BODIES = (FORM, MULTIPART, JSON)


class InputGuard(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = _url_problem(scope)
        content_type = _content_type(scope)
        if problem is None and scope["method"] in BODY_METHODS and content_type in BODIES:
            try:
                body, receive = await read_body(receive)
            except BodyTooLarge:
                await refuse(scope, receive, send, 413, "the request body is too large")
                return
            problem = await _body_problem(scope, body, content_type)
        if problem is not None:
            await refuse(scope, receive, send, 400, problem)
            return
        await self.app(scope, receive, send)


def _content_type(scope: Scope) -> str:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _url_problem(scope: Scope) -> str | None:
    problem = text_problem(scope["path"], MAX_PATH_CHARS)
    if problem:
        return f"the address {problem}"
    # Decoded as Starlette decodes ``request.query_params``, so what is checked is what
    # routes read.
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        problem = text_problem(name, 100) or text_problem(value, MAX_QUERY_VALUE_CHARS)
        if problem:
            return f"the query parameter {name[:40]!r} {problem}"
    return None


async def _body_problem(scope: Scope, body: bytes, content_type: str) -> str | None:
    if content_type == FORM:
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        values: Iterator[tuple[str, str]] = iter(fields)
    elif content_type == MULTIPART:
        try:
            values = iter(
                await multipart_fields(Headers(scope=scope).get("content-type", ""), body)
            )
        except MultiPartException:
            return None  # malformed: the route answers it
    else:
        try:
            # The stdlib parser, as FastAPI's: it decodes a lone ``\ud800`` (orjson refuses).
            document = json.loads(body)
        except ValueError:
            return None  # not JSON: the route answers that with its own 400
        except RecursionError:  # arrays in arrays a thousand deep: no route takes that
            return "the JSON body is nested too deeply"
        values = _json_strings(document, "", MAX_JSON_DEPTH)
    try:
        for name, value in values:
            problem = text_problem(value, MAX_BODY_VALUE_CHARS)
            if problem:
                return f"the field {name[:40]!r} {problem}"
    except _TooDeep:
        return "the JSON body is nested too deeply"
    return None


class _TooDeep(Exception):
    pass


def _json_strings(value: Any, where: str, depth: int) -> Iterator[tuple[str, str]]:
    """Every string in a JSON document (keys too), with the key it is under."""
    if isinstance(value, str):
        yield where, value
    elif depth <= 0 and isinstance(value, dict | list):
        raise _TooDeep
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key, key
            yield from _json_strings(item, key, depth - 1)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, where, depth - 1)
