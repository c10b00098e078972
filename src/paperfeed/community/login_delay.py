"""Login throttling per account: a few free failures, then a growing wait between attempts.

Keyed on the account, whatever names it (its username and its address share one key; a login
that names no account is keyed on its normalised text), so an attacker gets no more guesses by
switching between the two. After ``PAPERFEED_LOGIN_FREE_FAILURES`` failed logins (counted for
a day, forgotten at a success) each failure opens a wait of ``PAPERFEED_LOGIN_DELAY_SECONDS``,
doubling per further failure up to ``PAPERFEED_LOGIN_DELAY_MAX_SECONDS``. During a wait every
attempt is refused before its password is looked at and is not counted, so hammering changes
nothing; once the wait is over one attempt is checked (taken atomically, so parallel requests
cannot all slip through), and the right password works.

Why no hard lock: it would hand anyone a way to keep any account shut. A wait only slows
guessing down to a few attempts an hour. And a browser that has logged in to the account
before carries a signed device cookie (:mod:`web.pages.account`); its attempts are keyed on
(account, device), so strangers' wrong guesses never make the owner wait there (OWASP's
"device cookies").

Counters live in the rate limiter's storage (the database, or Redis), shared by all workers.
"""

from __future__ import annotations

import math
import time

from limits.storage import Storage

from paperfeed.community.ratelimit import RateLimiter, short_key
from paperfeed.config import Settings

FAILURES_KEPT_SECONDS = 24 * 3600


class LoginDelay:
    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self.limiter = limiter  # its counters: shared, or per worker while Redis is down
        self.free = settings.login_free_failures
        self.first = settings.login_delay_seconds
        self.most = settings.login_delay_max_seconds

    def _keys(self, key: str) -> tuple[str, str]:
        key = short_key(key)
        return f"paperfeed/login-failures/{key}", f"paperfeed/login-wait/{key}"

    def wait_for(self, failures: int) -> int:
        """Seconds an account waits after its ``failures``-th failure (0: none)."""
        if failures < self.free:
            return 0
        seconds = min(self.most, self.first * 2.0 ** min(failures - self.free, 40))
        return math.ceil(seconds)

    def claim(self, key: str) -> float:
        """0 when an attempt on ``key`` may be checked now (and it is claimed), else the
        seconds left to wait."""
        failures_key, wait_key = self._keys(key)

        def work(storage: Storage) -> float:
            wait = self.wait_for(storage.get(failures_key))
            if not wait:
                return 0.0
            # The first request after a wait creates the counter and goes ahead; any other
            # one inside the same wait finds it and is refused.
            if storage.incr(wait_key, wait) == 1:
                return 0.0
            return max(1.0, storage.get_expiry(wait_key) - time.time())

        return self.limiter.counters(work)

    def failed(self, key: str) -> None:
        failures_key, wait_key = self._keys(key)

        def work(storage: Storage) -> None:
            wait = self.wait_for(storage.incr(failures_key, FAILURES_KEPT_SECONDS))
            if wait:  # the wait starts now, whatever the attempt's own claim said
                storage.clear(wait_key)
                storage.incr(wait_key, wait)

        self.limiter.counters(work)

    def succeeded(self, key: str) -> None:
        def work(storage: Storage) -> None:
            for name in self._keys(key):
                storage.clear(name)

        self.limiter.counters(work)
