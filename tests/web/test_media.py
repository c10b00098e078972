"""Media a listing links (Daily Papers' ``mediaUrls``): read and cleaned by the ingest,
stored, linked from cards and paper pages (never embedded: a visitor's page fetches nothing
from another host), and carried by the API like Hugging Face's."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from paperfeed import papers
from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.readers import daily_api_record, iter_daily_papers_array
from paperfeed.sources.records import MAX_MEDIA_URLS
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

VIDEO = "https://cdn.example.org/uploads/demo.mp4"
FIGURE = "https://cdn.example.org/uploads/figure.png?w=2"


def test_reader_keeps_the_http_media_links() -> None:
    item: dict[str, Any] = {
        "paper": {
            "id": "2503.00042",
            "title": "Invented Media Paper",
            "submittedOnDailyAt": "2025-03-07T09:00:00.000Z",
            "mediaUrls": [VIDEO, "javascript:alert(1)", VIDEO, " ", 7, FIGURE],
        }
    }
    assert daily_api_record(item).media_urls == [VIDEO, FIGURE]
    del item["paper"]["mediaUrls"]
    assert daily_api_record(item).media_urls is None
    many = [f"https://cdn.example.org/{n}.mp4" for n in range(20)]
    item["mediaUrls"] = many  # also read from the item around the paper
    assert daily_api_record(item).media_urls == many[:MAX_MEDIA_URLS]


def test_media_are_linked_not_embedded(client: TestClient, site: Database) -> None:
    with site.write() as s:
        s.execute(
            update(Paper).where(Paper.arxiv_id == "2503.00002").values(media_urls=[VIDEO, FIGURE])
        )
    day = client.get("/papers/date/2025-03-07").text
    card = day.split('id="paper-2503.00002"', 1)[1].split("</li>", 1)[0]
    assert f'href="{VIDEO}"' in card and "Video +1" in card
    paper = client.get("/papers/2503.00002").text
    assert "Video 1" in paper and "Image 2" in paper and "(cdn.example.org)" in paper
    for html in (day, paper):  # no image, video or frame from another host
        assert not re.search(r"<(img|video|source|iframe)[^>]+src=\"https?://", html)
    api = client.get("/api/papers/2503.00002").json()
    assert api["mediaUrls"] == [VIDEO, FIGURE]
    assert "mediaUrls" not in client.get("/api/papers/2503.00001").json()


def test_ingest_stores_them(database: Database) -> None:
    listing = [
        {
            "paper": {
                "id": "2503.00043",
                "title": "Another Invented Media Paper",
                "submittedOnDailyAt": "2025-03-07T09:00:00.000Z",
                "mediaUrls": [VIDEO],
            }
        }
    ]
    stats = ingest_records(database, iter_daily_papers_array(json.dumps(listing), "<test>"))
    assert stats.inserted == 1
    with database.read() as session:
        detail = papers.get_paper(session, "2503.00043")
    assert detail is not None and detail.item.media_urls == [VIDEO]
