"""``paperfeed serve`` (the default command): upgrade the database, then serve the site."""

from __future__ import annotations

import os
from typing import Any

import click

from paperfeed.config import Settings, get_settings
from paperfeed.store.db import get_database


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default: PAPERFEED_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: PAPERFEED_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (PAPERFEED_WORKERS).")
def serve_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Upgrade the database, then serve the site."""
    # lazy: uvicorn, and numpy for the embedder, load only for serve
    import uvicorn

    # lazy: the embedder (numpy, ONNX Runtime) loads only when serve starts
    from paperfeed.search.embedder import prepare

    settings = _with_bind_address(host, port)
    get_database().upgrade()
    prepare(settings)  # the semantic index's model, exported once before the workers start
    uvicorn.run(**uvicorn_options(settings, host=host, port=port, workers=workers))


def _with_bind_address(host: str | None, port: int | None) -> Settings:
    """The settings with ``--host``/``--port`` in them. They go through the environment, where
    each worker's app (uvicorn's factory, in this or a spawned process) reads its settings, so
    that ``PAPERFEED_BASE_URL``, when unset, follows the address really served."""
    if host:
        os.environ["PAPERFEED_HOST"] = host
    if port:
        os.environ["PAPERFEED_PORT"] = str(port)
    get_settings.cache_clear()
    return get_settings()


def uvicorn_options(
    settings: Settings, *, host: str | None, port: int | None, workers: int | None
) -> dict[str, Any]:
    """The arguments of ``uvicorn.run`` (and ``uvicorn.Config``) for ``serve``."""
    return {
        "app": "paperfeed.web.app:create_app",
        "factory": True,
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers or settings.workers,
        "log_level": "info",
        "access_log": False,
        "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        **proxy_options(settings),
    }


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings from ``PAPERFEED_FORWARDED_ALLOW_IPS``. uvicorn by default
    believes ``X-Forwarded-For`` from loopback, and its ``FORWARDED_ALLOW_IPS`` variable
    could widen that: both are overridden, so only the proxies named here are believed, and
    with none the client is the socket's peer (per-client rate limits count real peers)."""
    trusted = ",".join(ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip())
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}
