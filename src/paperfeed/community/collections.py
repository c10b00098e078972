"""Collections: named lists of papers, public or private.

A private collection is visible to its owner only; to anyone else it does not exist (404).
Every change checks ownership here, whatever the caller checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed import papers
from paperfeed.community import CommunityError, Forbidden, NotFound, clean_text
from paperfeed.community.comments import paper_id_of
from paperfeed.community.users import Account
from paperfeed.papers import FeedItem
from paperfeed.store.db import Database
from paperfeed.store.models import Collection, CollectionItem, Paper, User, utcnow

MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_COLLECTIONS = 200
MAX_ITEMS = 1000


@dataclass(slots=True)
class CollectionView:
    id: int
    owner: str
    name: str
    description: str
    is_public: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    count: int = 0


def _clean(name: str, description: str) -> tuple[str, str]:
    name = " ".join(clean_text(name).split())
    if not name:
        raise CommunityError("A collection needs a name.")
    if len(name) > MAX_NAME:
        raise CommunityError(f"Collection names have at most {MAX_NAME} characters.")
    description = clean_text(description).strip()
    if len(description) > MAX_DESCRIPTION:
        raise CommunityError(f"Descriptions have at most {MAX_DESCRIPTION} characters.")
    return name, description


def _view(c: Collection, owner: str, count: int = 0) -> CollectionView:
    return CollectionView(
        c.id, owner, c.name, c.description, c.is_public, c.created_at, c.updated_at, count
    )


def create(
    db: Database, account: Account, name: str, description: str = "", is_public: bool = True
) -> CollectionView:
    name, description = _clean(name, description)
    with db.write() as session:
        n = session.scalar(
            select(func.count()).select_from(Collection).where(Collection.user_id == account.id)
        )
        if (n or 0) >= MAX_COLLECTIONS:
            raise CommunityError(f"At most {MAX_COLLECTIONS} collections per user.")
        row = Collection(
            user_id=account.id, name=name, description=description, is_public=is_public
        )
        session.add(row)
        session.flush()
        return _view(row, account.username)


def get(db: Database, collection_id: int, viewer: Account | None) -> CollectionView:
    """The collection when the viewer may see it, else NotFound."""
    with db.read() as session:
        row = session.execute(
            select(Collection, User.username)
            .join(User, User.id == Collection.user_id)
            .where(Collection.id == collection_id)
        ).first()
        if row is None:
            raise NotFound("No such collection.")
        c, owner = row
        if not c.is_public and (viewer is None or viewer.id != c.user_id):
            raise NotFound("No such collection.")
        count = session.scalar(
            select(func.count())
            .select_from(CollectionItem)
            .where(CollectionItem.collection_id == c.id)
        )
        return _view(c, owner, count or 0)


def _owned(session: object, account: Account, collection_id: int) -> Collection:
    assert isinstance(session, Session)
    c = session.get(Collection, collection_id)
    if c is None or (not c.is_public and c.user_id != account.id):
        raise NotFound("No such collection.")
    if c.user_id != account.id:
        raise Forbidden("Only its owner can change this collection.")
    return c


def update(
    db: Database,
    account: Account,
    collection_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> CollectionView:
    with db.write() as session:
        c = _owned(session, account, collection_id)
        new_name, new_description = _clean(
            c.name if name is None else name, c.description if description is None else description
        )
        c.name, c.description = new_name, new_description
        if is_public is not None:
            c.is_public = is_public
        c.updated_at = utcnow()
        return _view(c, account.username)


def remove(db: Database, account: Account, collection_id: int) -> None:
    with db.write() as session:
        session.delete(_owned(session, account, collection_id))


def add_paper(db: Database, account: Account, collection_id: int, arxiv_id: str) -> None:
    try:
        with db.write() as session:
            c = _owned(session, account, collection_id)
            paper_id = paper_id_of(session, arxiv_id)
            n = session.scalar(
                select(func.count())
                .select_from(CollectionItem)
                .where(CollectionItem.collection_id == c.id)
            )
            if (n or 0) >= MAX_ITEMS:
                raise CommunityError(f"A collection holds at most {MAX_ITEMS} papers.")
            exists = session.get(CollectionItem, (c.id, paper_id))
            if exists is None:
                session.add(CollectionItem(collection_id=c.id, paper_id=paper_id))
                c.updated_at = utcnow()
    except IntegrityError:
        pass  # added twice at once: it is in


def remove_paper(db: Database, account: Account, collection_id: int, arxiv_id: str) -> None:
    with db.write() as session:
        c = _owned(session, account, collection_id)
        paper_id = paper_id_of(session, arxiv_id)
        session.execute(
            delete(CollectionItem).where(
                CollectionItem.collection_id == c.id, CollectionItem.paper_id == paper_id
            )
        )
        c.updated_at = utcnow()


def items(db: Database, collection_id: int) -> list[FeedItem]:
    """The papers of a collection, most recently added first (no visibility check here)."""
    with db.read() as session:
        rows = session.execute(
            select(*papers.item_columns(), CollectionItem.added_at)
            .join(CollectionItem, CollectionItem.paper_id == Paper.id)
            .where(CollectionItem.collection_id == collection_id)
            .order_by(CollectionItem.added_at.desc(), Paper.arxiv_id)
        ).all()
    out = []
    for row in rows:
        item = FeedItem(*tuple(row)[:-1])
        item.submitted_at = tuple(row)[-1]
        out.append(item)
    return out


def for_user(db: Database, username: str, *, include_private: bool) -> list[CollectionView]:
    count = (
        select(func.count())
        .select_from(CollectionItem)
        .where(CollectionItem.collection_id == Collection.id)
        .scalar_subquery()
    )
    stmt = (
        select(Collection, User.username, count)
        .join(User, User.id == Collection.user_id)
        .where(User.username == username)
        .order_by(Collection.updated_at.desc())
    )
    if not include_private:
        stmt = stmt.where(Collection.is_public.is_(True))
    with db.read() as session:
        return [_view(c, owner, n) for c, owner, n in session.execute(stmt)]
