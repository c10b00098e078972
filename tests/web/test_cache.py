"""The per-worker response cache: expiry, LRU bounds by count and by bytes, and the async
``compute``: stale-while-revalidate, one computation per key, failures; the typed entries of
the app's cache (``CachedPage``, ``PageCache``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from starlette.types import Send

from paperfeed.web import cache as cache_module
from paperfeed.web.cache import CachedPage, PageCache, TTLCache

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright may leave an
    event loop running in the main thread, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_expires_after_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cache_module, "_now", lambda: clock[0])
    c = TTLCache[bytes](2.0)
    calls: list[int] = []

    def compute() -> bytes:
        calls.append(1)
        return b"x"

    assert c.get_or_set("k", compute) == b"x"
    clock[0] += 1.9
    assert c.get_or_set("k", compute) == b"x"
    assert len(calls) == 1
    clock[0] += 0.2
    assert c.get("k") is None
    c.get_or_set("k", compute)
    assert len(calls) == 2


def test_zero_ttl_disables() -> None:
    c = TTLCache[bytes](0)
    c.set("k", b"x")
    assert c.get("k") is None


def test_bounded_by_entries_and_bytes() -> None:
    c = TTLCache[bytes](60, max_entries=3, max_bytes=10)
    for key in "abc":
        c.set(key, b"12")
    c.get("a")  # a is now the most recently used
    c.set("d", b"12")
    assert c.get("b") is None and c.get("a") == b"12"
    c.set("big", b"123456789")  # 9 bytes: evicts older entries until <= 10 bytes
    assert c.get("big") == b"123456789"
    assert sum(c.get(k) is not None for k in "acd") == 0


def test_pages_are_bounded_by_their_bodies() -> None:
    c = TTLCache[CachedPage](60, max_entries=10, max_bytes=10)
    c.set("a", CachedPage(200, "text/html", b"123456"))
    c.set("b", CachedPage(200, "text/html", b"123456"))  # 12 bytes of bodies: a goes
    assert c.get("a") is None and c.get("b") is not None


def test_a_cached_page_answers_as_it_was_rendered() -> None:
    page = CachedPage(400, "application/json", b"bad", (("X-Search-Mode", "keyword"),))
    response = page.response()
    assert (response.status_code, response.body, page.message) == (400, b"bad", "bad")
    assert response.headers["x-search-mode"] == "keyword"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == "3"


def test_the_page_cache_clears_its_flags_too() -> None:
    c = PageCache(60)
    c.set("k", CachedPage(200, "text/html", b"x"))
    assert c.flags.get_or_set("demo", lambda: False) is False
    assert c.flags.get_or_set("demo", lambda: True) is False  # kept
    c.clear()
    assert c.get("k") is None
    assert c.flags.get_or_set("demo", lambda: True) is True


def test_compute_serves_stale_while_one_refresh_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cache_module, "_now", lambda: clock[0])
    c = TTLCache[bytes](2.0)
    version = [b"v1"]
    calls: list[bytes] = []

    def compute() -> bytes:
        calls.append(version[0])
        return version[0]

    async def scenario() -> None:
        assert await c.compute("k", compute) == b"v1"  # a miss: computed
        version[0] = b"v2"
        clock[0] += 1.0
        assert await c.compute("k", compute) == b"v1" and calls == [b"v1"]  # live
        clock[0] += 1.5  # past its time, within the stale window
        assert c.get("k") is None  # not live: the pre-routing fast path skips it
        assert await c.compute("k", compute) == b"v1"  # stale, and a refresh starts
        assert await c.compute("k", compute) == b"v1"  # the same refresh, not another
        await asyncio.gather(*c._refreshes)
        assert calls == [b"v1", b"v2"]
        assert await c.compute("k", compute) == b"v2"
        clock[0] += 2.0 * cache_module.STALE_FACTOR  # too old to serve: computed again
        version[0] = b"v3"
        assert await c.compute("k", compute) == b"v3"

    run(scenario())


def test_concurrent_misses_share_one_computation() -> None:
    c = TTLCache[bytes](60.0)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> bytes:
        calls.append(1)
        started.set()
        release.wait(10)
        return b"page"

    async def scenario() -> list[bytes]:
        first = asyncio.ensure_future(c.compute("k", slow))
        await asyncio.to_thread(started.wait, 10)
        second = asyncio.ensure_future(c.compute("k", slow))
        await asyncio.sleep(0)
        release.set()
        return list(await asyncio.gather(first, second))

    assert run(scenario()) == [b"page", b"page"]
    assert calls == [1]


def test_a_failed_refresh_drops_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cache_module, "_now", lambda: clock[0])
    c = TTLCache[bytes](2.0)

    def gone() -> bytes:
        raise LookupError("deleted")

    async def scenario() -> None:
        await c.compute("k", lambda: b"old")
        clock[0] += 3.0
        assert await c.compute("k", gone) == b"old"  # stale; the refresh fails
        await asyncio.gather(*c._refreshes, return_exceptions=True)
        assert c.peek("k") == (None, False)
        with pytest.raises(LookupError):  # the next request sees the error
            await c.compute("k", gone)

    run(scenario())


def test_compute_with_the_cache_off_computes_every_time() -> None:
    c = TTLCache[bytes](0)
    calls: list[int] = []

    def compute() -> bytes:
        calls.append(1)
        return b"x"

    async def scenario() -> None:
        for _ in range(3):
            assert await c.compute("k", compute) == b"x"

    run(scenario())
    assert calls == [1, 1, 1]


def test_compute_on_the_loop_recomputes_what_is_not_live(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cache_module, "_now", lambda: clock[0])
    c = TTLCache[bytes](2.0)
    threads: list[str] = []

    def compute() -> bytes:
        threads.append(threading.current_thread().name)
        return b"x"

    async def scenario() -> None:
        for step in (0.0, 1.0, 1.5):  # computed, live, past its time: computed again
            clock[0] += step
            assert await c.compute("k", compute, in_thread=False) == b"x"

    run(scenario())
    assert len(threads) == 2 and all(t.startswith("test-loop") for t in threads)


@pytest.mark.parametrize(
    "page",
    [
        CachedPage(200, "text/html; charset=utf-8", b"<p>day</p>"),
        CachedPage(404, "text/markdown", b"paper 'x' not found\n"),
        CachedPage(200, "application/json", b"[]", (("X-Search-Mode", "hybrid"),)),
    ],
)
def test_a_page_sends_what_its_response_sends(page: CachedPage) -> None:
    """The fast path's ``send`` and the route's ``response()`` put the same messages on the
    wire, and a middleware adding a header to one answer leaves the next one alone."""

    def messages(answer: Callable[[Send], Coroutine[Any, Any, None]]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: Any) -> None:
            sent.append(message)
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-added", b"1"))  # as SecurityMiddleware does

        asyncio.run(answer(send))
        return sent

    async def via_response(send: Send) -> None:
        scope = {"type": "http", "method": "GET"}
        await page.response()(scope, None, send)  # type: ignore[arg-type]

    assert messages(page.send) == messages(via_response) == messages(page.send)
