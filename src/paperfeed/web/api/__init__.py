"""JSON API. Paper endpoints follow the Hugging Face Daily Papers API contract.

``router`` serves ``/api/...``; ``markdown_router`` serves ``/papers/{arxiv_id}.md`` (no
``/api`` prefix, as on Hugging Face).
"""

from paperfeed.web.api.routes import markdown_router, router

__all__ = ["markdown_router", "router"]
