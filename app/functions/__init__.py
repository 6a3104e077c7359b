"""The Lambda page's parts."""
