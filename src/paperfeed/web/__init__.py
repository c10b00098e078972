"""The web layer: app factory, JSON API (api/), HTML pages (pages/), feeds, templates, static."""
