"""Schemathesis against /openapi.json through the ASGI app: no 5xx on any endpoint, and the
responses match the schema (their 400s and 401s included), once without credentials and once
with a real ``write`` token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import tokens, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD

pytestmark = pytest.mark.slow  # property-based walk of the whole API

schemathesis = pytest.importorskip("schemathesis")


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "write-token"])
def test_api_never_5xx_and_matches_schema(
    community_settings: Settings, site_db: Database, with_token: bool
) -> None:
    from hypothesis import HealthCheck
    from hypothesis import settings as hsettings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    account = users.create_user(site_db, community_settings, "fuzz", "fuzz@example.org", PASSWORD)
    token, _ = tokens.create_token(site_db, account, "fuzz", "write")
    headers = {"Authorization": f"Bearer {token}"} if with_token else {}
    app = create_app(community_settings, site_db)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    with TestClient(app):
        for operation in schema.get_all_operations():
            op = operation.ok()

            @hsettings(
                max_examples=8,
                derandomize=True,  # the same examples every run: CI must not flake
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @schemathesis_given(op)  # type: ignore[untyped-decorator]
            def run(case: Any) -> None:
                response = case.call(headers=headers)
                try:
                    case.validate_response(
                        response, checks=(not_a_server_error, response_schema_conformance)
                    )
                except Exception as exc:  # collect, report all at the end
                    failures.append(f"{case.method} {case.path}: {exc}"[:600])

            run()
    assert not failures, "\n".join(failures[:10])


def schemathesis_given(op: Any) -> Any:
    return op.as_strategy and (lambda fn: __import__("hypothesis").given(op.as_strategy())(fn))
