"""Concurrency accounting, as AWS Lambda counts it.

The account has a limit of simultaneous executions. A function with reserved concurrency owns that
many of them: it never runs more at once, and no other function may use them. Provisioned
concurrency of a function without a reservation is carved out of the account's pool too. What is
left, the unreserved pool, is shared by the functions without a reservation; AWS refuses any
setting that would leave it below a minimum (100 of a default limit of 1,000).

Beyond its reservation a call is throttled with Reason `ReservedFunctionConcurrentInvocationLimitExceeded`;
an on-demand call of an unreserved function that finds the shared pool busy, with
`ConcurrentInvocationLimitExceeded`. `admit` and `release` are on every invocation's path: one lock,
a few dictionary look-ups, no I/O.
"""

from __future__ import annotations

import math
import threading

from localcloud.awslambda.names import invalid
from localcloud.core.protocol import AwsError

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


def minimum_unreserved(limit: int) -> int:
    """AWS keeps 100 of a 1,000 limit unreserved; localcloud keeps the same tenth of its own limit, at least 1.

    (AWS's minimum for accounts with a small limit is min(100, limit), which would leave a 10-execution
    localcloud nothing to reserve.)"""
    return max(1, math.ceil(limit / 10))


def throttled(reason: str) -> AwsError:
    return AwsError("TooManyRequestsException", "Rate Exceeded.", 429, Reason=reason)


class Ledger:
    """Who may run now: the account's limit, reservations, provisioned totals and executions in flight."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.minimum_unreserved = minimum_unreserved(limit)
        self.reserved: dict[str, int] = {}
        self.provisioned: dict[str, dict[str, int]] = {}  # function -> qualifier -> requested
        self.in_flight: dict[str, int] = {}
        self.total_in_flight = 0
        self.shared_in_flight = 0  # on-demand executions of functions without a reservation
        self._shared_capacity = limit
        self._lock = threading.Lock()

    # settings ---------------------------------------------------------------------
    def provisioned_total(self, function: str) -> int:
        return sum(self.provisioned.get(function, {}).values())

    def _carved_out(self, *, without: str | None = None) -> int:
        """Executions the shared pool cannot use: reservations, and provisioned concurrency of unreserved functions."""
        reserved = sum(n for f, n in self.reserved.items() if f != without)
        unreserved = [f for f in self.provisioned if f not in self.reserved and f != without]
        provisioned = sum(self.provisioned_total(f) for f in unreserved)
        return reserved + provisioned

    def unreserved(self) -> int:
        """GetAccountSettings' UnreservedConcurrentExecutions."""
        return self.limit - self._carved_out()

    def check_reserved(self, function: str, value: int) -> None:
        """PutFunctionConcurrency's rules, with AWS's words."""
        if self.limit - self._carved_out(without=function) - value < self.minimum_unreserved:
            raise invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{self.minimum_unreserved}]."
            )
        provisioned = self.provisioned_total(function)
        if value < provisioned:
            # AWS documents the rule ("you can't set reserved concurrency below the provisioned concurrency")
            # but not its message; this one names both numbers in its style.
            raise invalid(
                f"Specified ReservedConcurrentExecutions for function ({value}) is less than the function's "
                f"total provisioned concurrency ({provisioned})."
            )

    def check_provisioned(self, function: str, qualifier: str, value: int) -> None:
        """PutProvisionedConcurrencyConfig's rules, with AWS's words."""
        others = self.provisioned_total(function) - self.provisioned.get(function, {}).get(qualifier, 0)
        reserved = self.reserved.get(function)
        if reserved is not None:
            if others + value > reserved:
                raise invalid(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                    "for function"
                )
        elif self.limit - self._carved_out(without=function) - others - value < self.minimum_unreserved:
            raise invalid(
                "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{self.minimum_unreserved}]."
            )

    def set_reserved(self, function: str, value: int | None) -> None:
        with self._lock:
            if value is None:
                self.reserved.pop(function, None)
            else:
                self.reserved[function] = value
            self._shared_capacity = self.unreserved()

    def set_provisioned(self, function: str, qualifier: str, value: int | None) -> None:
        with self._lock:
            configs = self.provisioned.setdefault(function, {})
            if value is None:
                configs.pop(qualifier, None)
            else:
                configs[qualifier] = value
            if not configs:
                del self.provisioned[function]
            self._shared_capacity = self.unreserved()

    def forget(self, function: str) -> None:
        """A deleted function gives back what it held."""
        with self._lock:
            self.reserved.pop(function, None)
            self.provisioned.pop(function, None)
            self._shared_capacity = self.unreserved()

    # executions -------------------------------------------------------------------
    def admit(self, function: str, provisioned: bool) -> tuple[bool, int]:
        """Count one execution in, or raise the throttle AWS answers. `provisioned`: it runs on a provisioned
        environment, which its function's provisioned concurrency already holds. Returns whether it took a
        slot of the shared pool (for `release`) and how many executions the function now has at once."""
        with self._lock:
            running = self.in_flight.get(function, 0)
            reserved = self.reserved.get(function)
            shared = reserved is None and not provisioned
            if reserved is not None:
                if running >= reserved:
                    raise throttled(RESERVED_LIMIT)
            elif shared:
                if self.shared_in_flight >= self._shared_capacity:
                    raise throttled(ACCOUNT_LIMIT)
                self.shared_in_flight += 1
            self.in_flight[function] = running + 1
            self.total_in_flight += 1
            return shared, running + 1

    def release(self, function: str, shared: bool) -> None:
        with self._lock:
            self.in_flight[function] -= 1
            self.total_in_flight -= 1
            if shared:
                self.shared_in_flight -= 1
