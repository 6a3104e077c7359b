"""The Overview page's parts."""
