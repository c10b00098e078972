"""A collection's name and description reach feed readers as text, never as markup."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from tests.community.conftest import page_csrf
from tests.web.test_feeds import shown

DESCRIPTION = "Papers on <EOS> handling <img src=x onerror=alert(1)> & <a href=x>links</a>"


@pytest.mark.parametrize("suffix", ["xml", "atom"])
def test_collection_description_is_text_in_feeds(user_client: Any, suffix: str) -> None:
    a = user_client("ann")
    r = a.post(
        "/collections",
        data={
            "csrf_token": page_csrf(a),
            "name": "Read <b>this</b>",
            "description": DESCRIPTION,
            "public": "1",
        },
        follow_redirects=False,
    )
    cid = r.headers["location"].rsplit("/", 1)[1]
    parsed = feedparser.parse(a.get(f"/collections/{cid}.{suffix}").content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert shown(parsed.feed.subtitle_detail) == (DESCRIPTION, [])
    title, tags = shown(parsed.feed.title_detail)
    assert "Read <b>this</b>" in title and tags == []
