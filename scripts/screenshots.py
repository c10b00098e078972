"""Make README's four screenshots: the day page (desktop, light), a paper page (phone, dark),
search (desktop, light) and a digest mail (light).

    make screenshots            # or: PYTHONPATH=src .venv/bin/python scripts/screenshots.py

It builds a throw-away site in a temporary directory (SQLite, the generated demo corpus for a
fixed day, both search indexes with the packaged model, about a minute on two cores;
``--keyword-only`` skips the semantic one: seconds), serves it on a free
loopback port and photographs it in headless Chromium (Debian's /usr/bin/chromium, or
PAPERFEED_CHROMIUM), at one device pixel per CSS pixel and the viewport only, so the PNGs stay
small enough to commit. With Pillow installed they are also quantized to 256 colours.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import os
import socket
import sys
import tempfile
import threading
import time
from email import policy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2025, 6, 13)  # a Friday: the demo corpus's last list
CHROMIUM = os.environ.get("PAPERFEED_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SEARCH = "speculative decoding"


def build_site(data_dir: Path, semantic: bool) -> tuple[Any, Any]:
    """Settings and an upgraded database holding the demo corpus, indexed."""
    os.environ.update(
        PAPERFEED_DATA_DIR=str(data_dir),
        PAPERFEED_DATABASE_URL=f"sqlite:///{data_dir / 'paperfeed.db'}",
        PAPERFEED_EMBEDDING_BACKEND="onnx" if semantic else "off",
        PAPERFEED_CACHE_SECONDS="0",
        PAPERFEED_BASE_URL="http://127.0.0.1:8000",
    )
    from paperfeed.config import get_settings
    from paperfeed.search.indexing import update_indexes
    from paperfeed.sources.demo import load_generated
    from paperfeed.store.db import get_database

    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    load_generated(db, DAY)
    update_indexes(db, settings, keyword_only=not semantic)
    return settings, db


def serve(settings: Any, db: Any) -> tuple[str, Any]:
    import uvicorn

    from paperfeed.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, db), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def digest_html(settings: Any, db: Any) -> str:
    """The HTML part of the daily digest of DAY, as a subscriber gets it."""
    from paperfeed.digest import subscriptions as subs
    from paperfeed.digest.compose import period_for
    from paperfeed.digest.render import Recipient, Renderer
    from paperfeed.papers import day_items
    from paperfeed.store.models import Paper

    view, _ = subs.add(db, settings, "reader@example.org", confirmed=True)
    with db.read() as session:
        top = [item.arxiv_id for item in day_items(session, DAY)][:8]
        by_arxiv = dict(session.query(Paper.arxiv_id, Paper.id).filter(Paper.arxiv_id.in_(top)))
    ids = [by_arxiv[a] for a in top]
    renderer = Renderer(db, settings)
    period = period_for("daily", DAY)
    content = renderer.render_content(period, ids)
    sent = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(7))
    data = renderer.message(content, Recipient(view.id, view.email), 1, period, sent)
    message = email.message_from_bytes(data, policy=policy.default)
    return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]


def shoot(browser: Any, base: str, html: str, out: Path) -> list[Path]:
    def page(scheme: str, options: dict[str, Any]) -> Any:
        return browser.new_context(color_scheme=scheme, **options).new_page()

    made = []
    day = page("light", DESKTOP)
    day.goto(f"{base}/papers/date/{DAY}")
    first = day.locator(".card .card-title a").first.get_attribute("href")
    made.append(snap(day, out / "day-desktop-light.png"))
    paper = page("dark", PHONE)
    paper.goto(base + str(first))
    made.append(snap(paper, out / "paper-phone-dark.png"))
    search = page("light", DESKTOP)
    search.goto(f"{base}/search?q={SEARCH.replace(' ', '+')}")
    made.append(snap(search, out / "search-desktop-light.png"))
    mail = page("light", {"viewport": {"width": 720, "height": 1000}})
    mail.set_content(html)
    made.append(snap(mail, out / "digest-mail.png"))
    return made


def snap(page: Any, path: Path) -> Path:
    page.screenshot(path=str(path))
    try:
        from PIL import Image  # lazy: optional, only makes the files smaller
    except ImportError:
        return path
    with Image.open(path) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument(
        "--keyword-only", action="store_true", help="no semantic index (faster; search says so)"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (apt-get install chromium, or PAPERFEED_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings, db = build_site(Path(tmp), semantic=not args.keyword_only)
        base, server = serve(settings, db)
        html = digest_html(settings, db)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            made = shoot(browser, base, html, args.out)
            browser.close()
        server.should_exit = True
        db.dispose()
    for path in made:
        print(
            f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
            f"{path.stat().st_size // 1024} KiB"
        )


if __name__ == "__main__":
    main()
