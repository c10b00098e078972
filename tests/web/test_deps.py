"""``web/deps.py``: the one rule for what runs on the event loop (short reads on the loop only
when the database is in process; long work always in the thread pool), and the caller's
lookup, which a request without credentials never makes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from starlette.requests import Request

from paperfeed.community import sessions, tokens
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web import deps
from paperfeed.web.app import create_app
from paperfeed.web.cache import TTLCache


def _threads(work: Any) -> tuple[int, int]:
    """(the loop's thread, the thread ``work(fn)`` ran ``fn`` in)."""

    async def main() -> tuple[int, int]:
        return threading.get_ident(), await work(threading.get_ident)

    return asyncio.run(main())


def test_short_reads_run_on_the_loop_only_in_process(database: Database) -> None:
    loop, ran = _threads(lambda fn: deps.short_read(database, fn))
    assert (ran == loop) is database.ops.features.in_process is deps.reads_on_loop(database)


def test_cached_short_reads_follow_the_rule_and_long_work_takes_a_thread(
    database: Database,
) -> None:
    cache = TTLCache[int](60)
    loop, ran = _threads(lambda fn: deps.cached(cache, database, "short", fn))
    assert (ran == loop) is database.ops.features.in_process
    loop, ran = _threads(lambda fn: deps.cached(cache, database, "long", fn, long=True))
    assert ran != loop
    loop, ran = _threads(deps.slow)
    assert ran != loop


def _request(app: Any, headers: list[tuple[bytes, bytes]]) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "app": app}
    return Request(scope)


def test_no_credentials_no_lookup(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(*args: Any) -> None:
        raise AssertionError("looked the caller up")

    monkeypatch.setattr(sessions, "session_account", no_lookup)
    monkeypatch.setattr(tokens, "token_account", no_lookup)
    app = create_app(settings, database)
    other_cookie = [(b"cookie", b"theme=dark")]
    assert asyncio.run(deps.get_caller(_request(app, other_cookie))) == deps.ANONYMOUS
    assert deps.caller(_request(app, [])) == deps.ANONYMOUS


def test_the_caller_is_looked_up_once_per_request(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def session_account(db: Database, raw: str) -> None:
        calls.append(raw)

    monkeypatch.setattr(sessions, "session_account", session_account)
    request = _request(create_app(settings, database), [(b"cookie", b"pf_session=abc")])
    assert asyncio.run(deps.get_caller(request)) == deps.ANONYMOUS  # no such session
    assert deps.viewer(request) is None and calls == ["abc"]
