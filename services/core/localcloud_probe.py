"""Whether the cloud behind an endpoint URL is localcloud, and its health document: the Overview shows it and
the endpoint charts read its metric period (a shortened period needs shorter chart windows)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

HEALTH_PATH = "/_localcloud/health"
_HEALTH_TIMEOUT_S = 2


def localcloud_health(endpoint_url: str | None) -> dict[str, Any] | None:
    """localcloud's health document (its options, such as a shortened metric period, and its limits), or
    None when the endpoint is AWS or anything that is not localcloud."""
    if endpoint_url is None:
        return None
    url = endpoint_url.rstrip("/") + HEALTH_PATH  # CloudSettings guarantees http(s)
    try:
        with urllib.request.urlopen(url, timeout=_HEALTH_TIMEOUT_S) as response:
            answer = json.loads(response.read(64 * 1024))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if isinstance(answer, dict) and answer.get("service") == "localcloud":
        return answer
    return None
