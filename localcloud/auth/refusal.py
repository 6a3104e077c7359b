"""What a signature check concludes: the request is refused for a reason, or it is signed by a key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from localcloud.auth.keys import AccessKey

MAX_SKEW = dt.timedelta(minutes=15)  # AWS refuses requests signed further off than this


class Refusal(Exception):
    """Why the door refuses a request; `reason` is a key of the codecs' refusal tables."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: the key, and the scope it was signed for."""

    key: AccessKey
    region: str
    service: str
