"""The web layer: app factory, JSON API (api/), HTML pages (pages/), feeds, templates, static."""

# Registered before any router of the package declares a ``{name:arxiv}`` path.
from paperfeed.web import convertors as convertors
