"""Every route of the app (HTML and JSON, every method), fed odd values in every path
parameter, query parameter, form field and JSON field, as a visitor, as a logged-in admin
(with a valid CSRF token, so the route's body really runs) and with a write token: no answer
is a 5xx. The suite runs on SQLite and again on PostgreSQL, so this test does too.

Each route gets the corpus with every value filled at once, then each of its values alone
(the others valid) with a corpus value picked by position: deterministic, and a few thousand
requests in all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from paperfeed.community import tokens, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of, login

pytestmark = pytest.mark.slow  # every route with many odd values: tens of seconds

SURROGATE = "\ud800"
CORPUS = [
    "²",
    "٣",
    "1²",
    "\x00",
    "2503.00001\x00",
    "a\x01b\x1f\x7f",
    SURROGATE,
    "x" + SURROGATE,
    str(10**30),
    "-1",
    "0",
    "9999-12-31",
    "9999-W52",
    "9999-12",
    "0000-01-01",
    "9999",
    "year:²⁰²⁵ date:9999-12",
    "x" * 100_000,
    "%",
    "../",
    "é",
    "",
]
# Valid values, so that one fuzzed value at a time reaches the route's body.
VALID = {
    "arxiv_id": "2503.00001",
    "day": "2025-03-07",
    "week": "2025-W10",
    "month": "2025-03",
    "date": "2025-03-07",
    "username": "boss",
    "token": "1.2.abc",
}
INT_VALID = "424242"  # an id that exists nowhere: revokes or deletes nothing
# Query parameters and form fields routes read by hand (request.query_params, request.form).
EXTRA_QUERY = ["page", "days", "q", "date", "week", "month", "p", "limit", "sort", "submitter"]
EXTRA_QUERY += ["cat", "from", "to", "code", "next", "email", "period", "sent", "tab", "dismissed"]
EXTRA_FORM = ["email", "period", "timezone", "send_hour", "send_weekday", "max_papers"]
EXTRA_FORM += ["categories", "keywords", "authors", "action"]
# Routes that would end the session the rest of the walk uses.
SESSION_ENDERS = {"/logout", "/account/logout-everywhere", "/account/delete"}


def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x nests routers
        if inner is not None:
            yield from walk(inner.routes)
        else:
            yield route


def enc(value: str) -> str:
    """Percent-encoding of the value's UTF-8, lone surrogates included (as ``%ED%A0%80``)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


class Target:
    """One route and method: how to fill it."""

    def __init__(self, route: APIRoute | Route, method: str) -> None:
        self.route, self.method = route, method
        self.path_params = list(route.param_convertors)
        self.int_params = {
            n for n, c in route.param_convertors.items() if type(c).__name__ == "IntegerConvertor"
        }
        self.query = list(EXTRA_QUERY)
        self.form: list[str] = []
        self.json: list[str] = []
        if isinstance(route, APIRoute):
            self.query += [p.alias for p in route.dependant.query_params]
            for p in route.dependant.body_params:
                model = p.field_info.annotation
                if isinstance(model, type) and issubclass(model, BaseModel):
                    self.json += [f.alias or n for n, f in model.model_fields.items()]
                else:
                    self.form.append(p.alias)
        if method in ("POST", "PUT", "PATCH", "DELETE") and not self.json:
            self.form += EXTRA_FORM

    def fields(self) -> list[tuple[str, str]]:
        query = self.query if self.method in ("GET", "HEAD") else self.query[len(EXTRA_QUERY) :]
        kinds = [("path", n) for n in self.path_params] + [("query", n) for n in query]
        return kinds + [("form", n) for n in self.form] + [("json", n) for n in self.json]

    def valid(self, kind: str, name: str) -> str:
        if kind == "path" and name in self.int_params:
            return INT_VALID
        return VALID.get(name, "1" if kind != "form" else "")

    def request(
        self, client: TestClient, values: dict[tuple[str, str], str], csrf: str | None
    ) -> str | None:
        """What is wrong with the answer, or None."""
        path = self.route.path
        # httpx (like servers) refuses URLs over 64 KiB: long values share that.
        cap = 60_000 // 9 // (len(self.path_params) + len(self.query))
        url_values = {k: v[:cap] if k[0] in ("path", "query") else v for k, v in values.items()}
        for name in self.path_params:
            value = enc(url_values[("path", name)])
            path = path.replace("{" + name + "}", value)
            for suffix in (":path", ":int", ":arxiv"):
                path = path.replace("{" + name + suffix + "}", value)
        query = "&".join(
            f"{enc(n)}={enc(v)}" for (kind, n), v in url_values.items() if kind == "query"
        )
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        content: bytes | None = None
        if self.json:
            body = {n: values[("json", n)] for n in self.json}
            content = json.dumps(body).encode()  # lone surrogates as \ud800 escapes
            headers["Content-Type"] = "application/json"
        elif self.method not in ("GET", "HEAD"):
            fields = [(n, values[("form", n)]) for n in self.form]
            fields += [("csrf_token", csrf)] if csrf else []
            content = "&".join(f"{enc(n)}={enc(v)}" for n, v in fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = client.request(self.method, f"{path}?{query}", content=content, headers=headers)
        if response.status_code >= 500:
            return f"{response.status_code}"
        # The API's refusals are a JSON ``{"error": ...}``, whatever refused them (the path
        # sent, as httpx normalised it: ``/api/x/..%2F`` is ``/api``, which is no API path).
        sent = response.request.url.path
        api = sent.startswith("/api/") and sent != "/api/docs" and self.method != "HEAD"
        if api and response.status_code >= 400:
            return None if _json_error(response) else f"{response.status_code} without JSON error"
        return None


def _json_error(response: Any) -> bool:
    try:
        return "error" in response.json()
    except ValueError:
        return False


def targets(app: Any) -> list[Target]:
    found = []
    for route in walk(app.routes):
        if not isinstance(route, APIRoute | Route) or route.path.startswith("/docs"):
            continue
        for method in sorted(route.methods or ()):
            found.append(Target(route, method))
    return found


def cases(target: Target, turn: int) -> Iterator[dict[tuple[str, str], str]]:
    """The corpus in every field at once (a visitor gets all of it, the others a third,
    picked by ``turn``), then each field alone, the others valid (not for HEAD: as GET)."""
    fields = target.fields()
    for k, value in enumerate(CORPUS):
        if turn == 0 or k % 3 == turn % 3:
            yield {f: value for f in fields}
    if target.method == "HEAD":
        return
    valid = {f: target.valid(*f) for f in fields}
    for i, field in enumerate(fields):
        yield {**valid, field: CORPUS[(i * 3 + turn) % len(CORPUS)]}


@pytest.fixture
def clients(community_settings: Settings, site_db: Database) -> Iterator[dict[str, Any]]:
    users.create_user(
        site_db, community_settings, "boss", "boss@example.org", PASSWORD, is_admin=True
    )
    writer = users.create_user(site_db, community_settings, "writer", "w@example.org", PASSWORD)
    token, _ = tokens.create_token(site_db, writer, "fuzz", "write")
    app = create_app(community_settings, site_db)
    with (
        TestClient(app) as anonymous,
        TestClient(app) as session,
        TestClient(app, headers={"Authorization": f"Bearer {token}"}) as bearer,
    ):
        login(session, "boss")
        csrf = csrf_of(session.get("/account").text)
        yield {
            "app": app,
            "anonymous": anonymous,
            "session": session,
            "bearer": bearer,
            "csrf": csrf,
        }


def test_no_route_answers_5xx_to_odd_values(clients: dict[str, Any]) -> None:
    failures: list[str] = []
    count = 0
    for target in targets(clients["app"]):
        who = [("anonymous", None), ("session", clients["csrf"])]
        if target.route.path.startswith("/api/"):
            who.append(("bearer", None))
        for turn, (name, csrf) in enumerate(who):
            if name == "session" and target.route.path in SESSION_ENDERS:
                continue
            for values in cases(target, turn):
                wrong = target.request(clients[name], values, csrf)
                count += 1
                if wrong:
                    shown = {k: v[:20] for k, v in values.items()}
                    failures.append(f"{wrong} {name} {target.method} {target.route.path} {shown}")
    assert count > 1000
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures[:30])
