"""Who may do what on the dashboard: viewers classify photos and read, operators do everything.

The page list is not an authorization (a URL opens any page), so the role is checked again where a
change is made: `refuse_changes_for_viewers` is installed on every client built for a viewer's
settings and refuses any operation that is not a read or an invocation before it is sent, and the
viewer's credentials themselves can only read and invoke (services/core/viewer.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from services.core.errors import ServiceError

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")

# Operation names that only read or invoke (botocore's names, the same on every service).
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Filter", "Search", "Invoke", "BatchGet")


@dataclass(frozen=True)
class Caller:
    """A dashboard visitor: `name` None for an anonymous one."""

    name: str | None
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


class NotAllowed(ServiceError):
    """A viewer asked for something only an operator may do."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Only an operator may {what}. Sign in as an operator.", code="NotOperator")


def require_operator(caller: Caller, what: str) -> None:
    """Raise `NotAllowed` unless `caller` is an operator: every changing action calls this first."""
    if not caller.is_operator:
        raise NotAllowed(what)


def is_read_only(operation: str) -> bool:
    """True for operations that read or invoke (DescribeEndpoint, InvokeEndpoint, GetObject...)."""
    return operation.startswith(_READ_PREFIXES)


def refuse_changes_for_viewers(model: Any, **_: Any) -> None:
    """botocore `before-call` hook for viewers' clients: a changing operation never leaves the process."""
    if not is_read_only(model.name):
        raise NotAllowed(f"call {model.service_model.service_name}:{model.name} (it changes the cloud)")


def role_from_claims(claims: dict[str, Any], claim: str, operator_values: Iterable[str]) -> Role:
    """OpenID Connect: operator when the claim (a string or a list, e.g. `groups`) holds an operator value."""
    value = claims.get(claim)
    values = {value} if isinstance(value, str) else set(value or [])
    return "operator" if values & set(operator_values) else "viewer"


class RateLimiter:
    """A token bucket: `capacity` calls at once, then one more every `refill_s` seconds."""

    def __init__(self, capacity: int, refill_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.refill_s, self._clock = capacity, refill_s, clock
        self._tokens = float(capacity)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Use one call: 0.0 when allowed, else the seconds until the next one is."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) / self.refill_s)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) * self.refill_s
