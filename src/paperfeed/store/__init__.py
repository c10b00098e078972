"""The store: SQLAlchemy models, the engine with its SQLite rules, and Alembic migrations.

The database is the single source of truth; everything else (search indexes, caches) is derived.
"""

from paperfeed.store import reader_models as _reader_models  # noqa: F401  (its tables join Base.metadata)
from paperfeed.store.db import Database, get_database
from paperfeed.store.models import Base, DailyEntry, Paper, SiteMeta

__all__ = ["Base", "DailyEntry", "Database", "Paper", "SiteMeta", "get_database"]
