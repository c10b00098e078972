"""Reading an HTTP answer's body with a cap on its size: a source's answer is read whole, so
one that never ends must not fill the memory."""

from __future__ import annotations

import httpx


def read_capped(response: httpx.Response, limit: int, too_large: Exception) -> bytes:
    """The streamed body of ``response``; ``too_large`` is raised as soon as it passes
    ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
