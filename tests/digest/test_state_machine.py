"""Property-based state machine over subscribe / confirm / unsubscribe / bounce / send:
no ineligible address ever gets a digest, and every eligible one does."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete

from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import FakeClock
from paperfeed.store.db import Database
from paperfeed.store.models import DigestRun, Subscriber
from tests.digest.conftest import SmtpSink
from tests.factories import add_entry

ADDRESSES = [f"u{i}@example.org" for i in range(4)]
FIRST_DAY = dt.date(2025, 1, 1)
DAYS = 40


def test_no_ineligible_recipient_ever_gets_a_digest(
    digest_settings: Settings, database: Database, smtp_sink: SmtpSink
) -> None:
    cfg = digest_settings.model_copy(update={"digest_max_hard_bounces": 2})
    for d in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=d)
        add_entry(database, f"2501.{d:05d}", day, upvotes=d + 1)

    class Digests(RuleBasedStateMachine):
        @initialize()
        def reset(self) -> None:
            with database.write() as session:
                session.execute(delete(DigestRun))
                session.execute(delete(Subscriber))
            smtp_sink.messages.clear()
            smtp_sink.faults.clear()
            self.status: dict[str, str] = {}
            self.tokens: dict[str, str] = {}
            self.bounces: dict[str, int] = {}
            self.day = 0
            self.clock = FakeClock(dt.datetime(2025, 3, 1, 6))

        @rule(email=st.sampled_from(ADDRESSES))
        def subscribe(self, email: str) -> None:
            token = subs.request_subscription(database, cfg, email, subs.Prefs())
            current = self.status.get(email)
            if current in ("confirmed", "suppressed"):
                assert token is None
            else:
                assert token is not None
                self.tokens[email] = token
                self.status[email] = "pending"

        @rule(email=st.sampled_from(ADDRESSES))
        def confirm(self, email: str) -> None:
            token = self.tokens.pop(email, None)
            if token is None:
                return
            found = subs.confirm(database, cfg, token)
            assert (found is not None) == (self.status.get(email) == "pending")
            if found is not None:
                self.status[email] = "confirmed"

        @rule(email=st.sampled_from(ADDRESSES))
        def unsubscribe(self, email: str) -> None:
            view = subs.get_by_email(database, email)
            if view is None:
                return
            token = subs.link_token(database, cfg, "unsubscribe", view.id)
            sid = subs.check_link_token(database, cfg, "unsubscribe", token)
            assert sid == view.id and subs.unsubscribe_id(database, sid)
            if self.status.get(email) in ("pending", "confirmed"):
                self.status[email] = "unsubscribed"
                self.tokens.pop(email, None)

        @rule(email=st.sampled_from(ADDRESSES), on=st.booleans())
        def bounce(self, email: str, on: bool) -> None:
            if on:
                smtp_sink.faults[(email, "rcpt")] = "550 5.1.1 no such mailbox"
            else:
                smtp_sink.faults.pop((email, "rcpt"), None)

        @rule()
        def send(self) -> None:
            if self.day >= DAYS:
                return
            day = FIRST_DAY + dt.timedelta(days=self.day)
            self.day += 1
            eligible = {e for e, s in self.status.items() if s == "confirmed"}
            before = len(smtp_sink.messages)
            run = deliver.create_run(database, cfg, "daily", day, self.clock)
            sender = deliver.Sender(database, cfg, self.clock, rng=random.Random(1))
            sender.register()
            try:
                sender.send_runs([run.id])
            finally:
                sender.unregister()
            got = [m["To"] for m in smtp_sink.messages[before:]]
            assert set(got) <= eligible, (got, self.status)
            assert len(got) == len(set(got))
            bouncing = {e for (e, _p) in smtp_sink.faults}
            assert set(got) == eligible - bouncing
            for email in eligible & bouncing:
                self.bounces[email] = self.bounces.get(email, 0) + 1
                if self.bounces[email] >= cfg.digest_max_hard_bounces:
                    self.status[email] = "suppressed"

        @invariant()
        def database_agrees(self) -> None:
            if not hasattr(self, "status"):
                return
            for email, expected in self.status.items():
                view = subs.get_by_email(database, email)
                assert view is not None and view.status == expected, (email, expected, view)

    run_state_machine_as_test(
        Digests,
        settings=settings(
            max_examples=12,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
