"""One way every service pages its List* answers: a token stands for the offset of the next page's first item.

Each API keeps its own words: the request's token and page-size parameters (NextToken/MaxResults,
Marker/MaxItems, NextToken/MaxRecords, nextToken/limit), the answer's token (NextToken, NextMarker,
nextToken), its default page size, and how its tokens look (the offset in digits, or opaque base64) with
the error it answers a token it cannot read with.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.core.protocol import AwsError


def opaque(text: str) -> str:
    """A token that does not show what it holds (urlsafe base64)."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def unopaque(token: str) -> str:
    """What an `opaque` token holds; ValueError when it is not one."""
    return base64.urlsafe_b64decode(token.encode()).decode()


@dataclass(frozen=True)
class Paginator:
    """One API's paging. `read` turns a token into its offset and raises whatever the API answers a bad token
    with (plain `int` lets a token that is not a number fail as any malformed input does); `write` is its
    inverse. Without a `size` parameter every page holds `default_size` items."""

    token: str = "NextToken"
    next_token: str = "NextToken"
    size: str | None = "MaxResults"
    default_size: int = 50
    read: Callable[[str], int] = int
    write: Callable[[int], str] = str
    # What the API answers a token it never issued with (its model's error; ValidationException becomes the
    # service's own word for bad input at the front door).
    invalid_code: str = "ValidationException"

    def window(self, params: dict[str, Any]) -> tuple[int, int]:
        """(offset, page size) that a request asks for; no token is the first page."""
        token = params.get(self.token)
        try:
            start = self.read(token) if token else 0
        except (ValueError, TypeError, UnicodeError):  # plain `read`s: a token that is not an offset
            raise self._invalid(token) from None
        if start < 0:
            raise self._invalid(token)
        size = params.get(self.size, self.default_size) if self.size else self.default_size
        return start, size

    def _invalid(self, token: str) -> AwsError:
        return AwsError(self.invalid_code, f"Invalid {self.token}: {token[:100]!r} was not issued by this API.")

    def next(self, start: int, size: int, more: bool) -> str | None:
        """The token of the page after [start, start + size), or None when nothing follows it."""
        return self.write(start + size) if more else None

    def page(self, items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
        """The page of `items` a request asks for, and the next page's token (None on the last page)."""
        start, size = self.window(params)
        return items[start : start + size], self.next(start, size, start + size < len(items))

    def answer(self, items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
        """`{key: page}`, with the next page's token under the API's name unless this is the last page."""
        page, token = self.page(items, params)
        result: dict[str, Any] = {key: page}
        if token is not None:
            result[self.next_token] = token
        return result
