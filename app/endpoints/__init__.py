"""The Endpoints page's parts."""
