"""Widgets every page family uses: formatting, keyed forms, per-session caches, photo previews, live refresh."""
