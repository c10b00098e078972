"""The per-worker response cache: expiry, LRU bounds by count and by bytes."""

from __future__ import annotations

import pytest

from paperfeed.web import cache as cache_module
from paperfeed.web.cache import TTLCache


def test_expires_after_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: clock[0])
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
