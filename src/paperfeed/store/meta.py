"""``site_meta``: small named values the site keeps about itself (the worker's last ingest
day, the demo label, the signing key)."""

from __future__ import annotations

from sqlalchemy import select

from paperfeed.store.db import Database
from paperfeed.store.models import SiteMeta


def get_meta(db: Database, key: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(SiteMeta.value).where(SiteMeta.key == key))


def set_meta(db: Database, key: str, value: str) -> None:
    with db.write() as session:
        row = session.get(SiteMeta, key)
        if row is None:
            session.add(SiteMeta(key=key, value=value))
        else:
            row.value = value
