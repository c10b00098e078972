"""The digest send throttle, site-wide: every sender on one database (SQLite or PostgreSQL)
together sends at most ``PAPERFEED_DIGEST_RATE_PER_SECOND`` messages a second and
``PAPERFEED_DIGEST_RATE_PER_HOUR`` an hour.

Each message takes a numbered *send slot* in the write transaction that claims its delivery
row (the transaction is committed before the SMTP transaction starts):

- the transaction first locks the throttle's one row (``digest_throttle``: how many slots
  were taken, and when the last one was) with ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
  serialises write transactions anyway (``BEGIN IMMEDIATE`` and a file lock, store/db.py).
  It is the first lock the transaction takes, so senders queue on it and never deadlock;
- slot ``k`` may be taken at ``max(now, last + 1 / per_second, at(k - per_hour) + 1 hour)``,
  where ``at(k - per_hour)`` is the time slot ``k - per_hour`` was taken (a primary-key
  look-up in ``digest_send_slots``). So consecutive messages are at least ``1/per_second``
  apart, and any ``per_hour + 1`` consecutive slots span an hour or more: no rolling hour
  holds more than ``per_hour`` messages, however many senders there are;
- when that time has come and a delivery is claimed, the slot is taken (the row's counter
  moves on; with an hourly cap the slot is also written to ``digest_send_slots``). When it
  has not come, nothing is claimed or taken, the transaction ends and the sender sleeps until
  then; when nothing was claimed, no slot is used up either.

Slots are taken at the sender's ``Clock.now()`` (naive UTC; tests control it), so hosts that
share a PostgreSQL database need synchronised clocks (NTP); a slot stamped in the future by a
clock running ahead holds the others back by one gap (or an hour) at most.

Slots older than an hour are deleted as new ones are taken and when a sender starts:
``digest_send_slots`` holds at most an hour of messages (at most ``per_hour`` rows). With
both caps 0 none of this runs: no statement at all is added per message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from paperfeed.store.db import Database
from paperfeed.store.models import DigestSendSlot, DigestThrottle

NAME = "digest"
WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Slot:
    seq: int  # the number the slot will have
    at: dt.datetime  # the earliest time it may be taken


class Throttle:
    """At most ``per_second`` messages a second and ``per_hour`` an hour (0: no cap), counted
    over every sender that shares the database. Methods take the Core connection of the
    caller's write transaction."""

    def __init__(self, db: Database, per_second: float, per_hour: int) -> None:
        self.per_second, self.per_hour = per_second, per_hour
        self.gap = dt.timedelta(seconds=1.0 / per_second) if per_second > 0 else None
        t, s = DigestThrottle, DigestSendSlot
        self._ops = db.ops
        self._lock = select(t.seq, t.last_at).where(t.name == NAME).with_for_update()
        self._slot_at = select(s.at).where(s.seq == bindparam("b_seq"))

    @property
    def active(self) -> bool:
        return self.per_second > 0 or self.per_hour > 0

    def next_slot(self, conn: Any, now: dt.datetime) -> Slot:
        """The next slot and the earliest time it may be taken. Call it first in the write
        transaction: it locks the throttle until that transaction ends."""
        row = conn.execute(self._lock).first()
        if row is None:  # the row is made by the migration; deleted by hand, it comes back
            self._create(conn)
            row = conn.execute(self._lock).one()
        seq, last = int(row.seq), row.last_at
        at = now
        # Each bound is clamped to a gap (an hour) from now: a slot stamped in the future by
        # a host whose clock ran ahead delays the others by that much at most.
        if self.gap is not None and last is not None:
            at = max(at, min(last, now) + self.gap)
        if self.per_hour > 0 and seq + 1 > self.per_hour:
            before = conn.scalar(self._slot_at, {"b_seq": seq + 1 - self.per_hour})
            if before is not None:  # absent: taken more than an hour ago (pruned)
                at = max(at, min(before, now) + WINDOW)
        return Slot(seq + 1, at)

    def take(self, conn: Any, slot: Slot, now: dt.datetime) -> None:
        """Take ``slot`` (``slot.at <= now``) in the transaction that called :meth:`next_slot`."""
        t = DigestThrottle
        conn.execute(update(t).where(t.name == NAME).values(seq=slot.seq, last_at=now))
        if self.per_hour > 0:
            conn.execute(insert(DigestSendSlot).values(seq=slot.seq, at=now))
            self.prune(conn, now)

    def prune(self, conn: Any, now: dt.datetime) -> None:
        """Forget slots taken an hour ago or more: they limit nothing any more."""
        conn.execute(delete(DigestSendSlot).where(DigestSendSlot.at <= now - WINDOW))

    def _create(self, conn: Any) -> None:
        start = conn.scalar(select(func.coalesce(func.max(DigestSendSlot.seq), 0)))
        conn.execute(
            self._ops.insert(DigestThrottle)
            .values(name=NAME, seq=int(start or 0), last_at=None)
            .on_conflict_do_nothing(index_elements=["name"])
        )
