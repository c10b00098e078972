"""Sources: where papers come from (arXiv id grammar, Atom API, snapshots, Daily Papers)."""
