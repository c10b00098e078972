"""Facts about the site as a whole that its pages show."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.store.models import SiteMeta

DEMO_KEY = "demo"  # set in SiteMeta by the demo loader (demo.py)


def is_demo_site(session: Session) -> bool:
    """True when the site shows generated demo data (SiteMeta holds ``demo``)."""
    return session.scalar(select(SiteMeta.key).where(SiteMeta.key == DEMO_KEY)) is not None
