"""The arXiv request limiter never sleeps while holding its lock."""

from __future__ import annotations

import threading

import pytest

from paperfeed.sources.atom import ArxivAPIError, _RateLimiter


def test_a_sleeping_caller_does_not_hold_up_the_others() -> None:
    limiter = _RateLimiter()
    sleeping, wake = threading.Event(), threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the second caller's wait, held open by the test
        slept.append(seconds)
        sleeping.set()
        wake.wait()

    limiter.sleep = sleep  # type: ignore[assignment]  # time.sleep takes SupportsIndex too
    limiter.wait(30.0)  # first slot: no wait
    assert slept == []
    second = threading.Thread(target=limiter.wait, args=(30.0,))
    second.start()
    try:
        assert sleeping.wait(10)
        # While the second caller sleeps for its slot, the lock is free and a third caller
        # gets the slot after it at once (without waiting for the second to wake).
        assert limiter._lock.acquire(blocking=False)
        limiter._lock.release()
        assert 30.0 < limiter.reserve(30.0) <= 60.0
    finally:
        wake.set()
        second.join()
    assert 0 < slept[0] <= 30.0


def test_a_slot_past_the_deadline_fails_without_sleeping() -> None:
    limiter = _RateLimiter()
    limiter.sleep = lambda seconds: pytest.fail(f"slept {seconds} s past the deadline")
    limiter.wait(30.0)
    with pytest.raises(ArxivAPIError, match="out of time"):
        limiter.wait(30.0, limit=5.0)
