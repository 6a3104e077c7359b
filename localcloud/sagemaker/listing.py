"""Filtering and sorting shared by SageMaker's List* calls (models, endpoints, training jobs); SageMaker's own,
so it lives here, while the paging is every service's (core's Paginator)."""

from __future__ import annotations

from typing import Any

from localcloud.core.paginator import Paginator


def page_listing(
    items: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    name_key: str,
    status_key: str,
    default_order: str,
    default_size: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Apply NameContains, StatusEquals, CreationTimeAfter/Before, SortBy/SortOrder and NextToken/MaxResults;
    returns the page and the next token (None on the last page)."""
    if "NameContains" in params:
        needle = params["NameContains"].lower()
        items = [i for i in items if needle in i[name_key].lower()]
    if "StatusEquals" in params:
        items = [i for i in items if i.get(status_key) == params["StatusEquals"]]
    if "CreationTimeAfter" in params:
        items = [i for i in items if i["CreationTime"] > params["CreationTimeAfter"].timestamp()]
    if "CreationTimeBefore" in params:
        items = [i for i in items if i["CreationTime"] < params["CreationTimeBefore"].timestamp()]
    sort_by = {"Name": name_key, "CreationTime": "CreationTime", "Status": status_key}[
        params.get("SortBy", "CreationTime")
    ]
    items = sorted(
        items, key=lambda i: i.get(sort_by) or "", reverse=params.get("SortOrder", default_order) == "Descending"
    )
    return Paginator(default_size=default_size).page(items, params)
