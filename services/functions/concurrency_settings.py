"""Reserved and provisioned concurrency, checked against the account's limit before any call.

Reserved concurrency is a cap and a guarantee: the function never runs more than N at once, and N of the
account's executions are kept for it. It costs nothing. Provisioned concurrency keeps N environments of a
published version (or of the version an alias points at) initialised ahead of traffic: no cold starts, billed
per GB-second whether used or not, and it must fit inside the reservation. The account keeps a minimum
unreserved for functions without a reservation; AWS refuses anything that would cut into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import lambda_provisioned_hourly
from services.functions.lambda_functions import LATEST, LambdaFunctionService

ENDED_STATUSES = frozenset({"READY", "FAILED"})
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
ABOVE_RESERVED = (
    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
)


def minimum_unreserved(limit: int) -> int:
    """What the account keeps unreserved: AWS keeps 100 (of its default 1,000 and any larger limit); a smaller
    limit, such as localcloud's, keeps a tenth, at least 1. The cloud's own refusal is the last word."""
    return min(100, max(1, math.ceil(limit / 10)))


@dataclass(frozen=True)
class AccountConcurrency:
    """GetAccountSettings: the account's limit of simultaneous executions and what no reservation holds."""

    limit: int
    unreserved: int

    @property
    def minimum_unreserved(self) -> int:
        return minimum_unreserved(self.limit)


@dataclass(frozen=True)
class ProvisionedConfig:
    """One provisioned-concurrency configuration, on a version or an alias."""

    qualifier: str
    requested: int
    allocated: int
    available: int
    status: str
    status_reason: str | None
    hourly_usd: float
    """What the requested environments cost per hour at the list price, used or not."""

    @property
    def settled(self) -> bool:
        """READY or FAILED: its status stops changing until the next change."""
        return self.status in ENDED_STATUSES


@dataclass(frozen=True)
class FunctionConcurrency:
    """A function's reservation (None: it shares the unreserved pool) and its provisioned configurations."""

    function: str
    reserved: int | None
    provisioned: list[ProvisionedConfig]
    memory_mb: int
    architecture: str = "x86_64"

    @property
    def provisioned_total(self) -> int:
        return sum(c.requested for c in self.provisioned)

    @property
    def hourly_usd(self) -> float:
        return sum(c.hourly_usd for c in self.provisioned)

    @property
    def settled(self) -> bool:
        return all(c.settled for c in self.provisioned)


def check_reserved(account: AccountConcurrency, current: FunctionConcurrency, value: int) -> int:
    """PutFunctionConcurrency's rules, before the call: at least 0, at least the provisioned total, and the
    unreserved pool may not drop below its minimum."""
    if value < 0:
        raise ServiceError("Reserved concurrency is 0 or more (0 throttles every call).", code="ValidationException")
    # What this function holds today comes back to the pool when its setting is replaced.
    held = current.reserved if current.reserved is not None else current.provisioned_total
    most = account.unreserved + held - account.minimum_unreserved
    if value > most:
        raise ServiceError(
            f"Reserved concurrency {value} is more than this account allows: at most {max(most, 0)} for this "
            f"function (limit {account.limit}, {account.unreserved} unreserved now, {account.minimum_unreserved} "
            "must stay unreserved). (AWS: Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{account.minimum_unreserved}].)",
            code="InvalidParameterValueException",
        )
    if value < current.provisioned_total:
        raise ServiceError(
            f"Reserved concurrency {value} is below the function's provisioned concurrency "
            f"({current.provisioned_total} in all): provisioned environments must fit inside the reservation. "
            "Lower provisioned concurrency first.",
            code="InvalidParameterValueException",
        )
    return value


def check_provisioned(account: AccountConcurrency, current: FunctionConcurrency, qualifier: str, value: int) -> int:
    """PutProvisionedConcurrencyConfig's rules that need no look-up: a published version or alias, at least 1,
    within the reservation, or without one within what the unreserved pool can spare."""
    if qualifier == LATEST:
        raise ServiceError(
            f"Provisioned concurrency needs a published version or an alias, not $LATEST: publish a version first. "
            f"(AWS: {UNPUBLISHED})",
            code="InvalidParameterValueException",
        )
    if value < 1:
        raise ServiceError(
            "Provisioned concurrency is at least 1; remove the configuration to have none.", code="ValidationException"
        )
    others = sum(c.requested for c in current.provisioned if c.qualifier != qualifier)
    if current.reserved is not None:
        if others + value > current.reserved:
            raise ServiceError(
                f"Provisioned concurrency {value} (plus {others} on other versions) is above the function's reserved "
                f"concurrency of {current.reserved}: raise the reservation first. (AWS: {ABOVE_RESERVED})",
                code="InvalidParameterValueException",
            )
        return value
    mine = sum(c.requested for c in current.provisioned if c.qualifier == qualifier)
    most = account.unreserved + mine - account.minimum_unreserved
    if value > most:
        raise ServiceError(
            f"Provisioned concurrency {value} is more than the unreserved pool can spare: at most {max(most, 0)} "
            f"({account.minimum_unreserved} must stay unreserved). (AWS: Specified ConcurrentExecutions for function "
            f"decreases account's UnreservedConcurrentExecution below its minimum value of "
            f"[{account.minimum_unreserved}].)",
            code="InvalidParameterValueException",
        )
    return value


class ConcurrencyService(AwsService):
    """Reads and changes reserved and provisioned concurrency; changes are operators' only."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        lambda_client: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"lambda": lambda_client})
        self._functions = LambdaFunctionService(
            self._settings, boto3_session=boto3_session, lambda_client=lambda_client
        )

    def account(self) -> AccountConcurrency:
        try:
            limits = self._client("lambda").get_account_settings()["AccountLimit"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the account's Lambda limits") from exc
        return AccountConcurrency(int(limits["ConcurrentExecutions"]), int(limits["UnreservedConcurrentExecutions"]))

    def function(self, name: str) -> FunctionConcurrency:
        client = self._client("lambda")
        info = self._functions.function(name)
        try:
            reserved = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
            pages = client.get_paginator("list_provisioned_concurrency_configs").paginate(FunctionName=name)
            raws = [raw for page in pages for raw in page.get("ProvisionedConcurrencyConfigs", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the concurrency of '{name}'") from exc
        configs = [
            _config(raw["FunctionArn"].rsplit(":", 1)[-1], raw, info.memory_mb, info.architecture) for raw in raws
        ]
        return FunctionConcurrency(
            name, reserved, sorted(configs, key=lambda c: c.qualifier), info.memory_mb, info.architecture
        )

    def provisioned(self, name: str, qualifier: str) -> ProvisionedConfig | None:
        """One configuration's status now (None: there is none), for a view that follows it to READY."""
        info = self._functions.function(name)
        try:
            raw = self._client("lambda").get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        except BOTO_ERRORS as exc:
            error = from_client_error(exc, what=f"read provisioned concurrency of '{name}:{qualifier}'")
            if error.code == "ProvisionedConcurrencyConfigNotFoundException":
                return None
            raise error from exc
        return _config(qualifier, raw, info.memory_mb, info.architecture)

    # changing -----------------------------------------------------------------------------
    def set_reserved(self, caller: Caller, name: str, value: int | None) -> FunctionConcurrency:
        """Reserve `value` executions for the function, or (None) return it to the unreserved pool."""
        require_operator(caller, "change reserved concurrency")
        client = self._client("lambda")
        try:
            if value is None:
                client.delete_function_concurrency(FunctionName=name)
            else:
                check_reserved(self.account(), self.function(name), value)
                client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=value)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"set the reserved concurrency of '{name}'") from exc
        return self.function(name)

    def set_provisioned(self, caller: Caller, name: str, qualifier: str, value: int) -> ProvisionedConfig:
        """Keep `value` environments of a version (or an alias's version) initialised; IN_PROGRESS until READY."""
        require_operator(caller, "change provisioned concurrency")
        current = self.function(name)
        check_provisioned(self.account(), current, qualifier, value)
        self._functions.check_qualifier(name, qualifier)
        self._check_one_per_version(name, qualifier, current)
        try:
            raw = self._client("lambda").put_provisioned_concurrency_config(
                FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=value
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"set provisioned concurrency of '{name}:{qualifier}'") from exc
        return _config(qualifier, raw, current.memory_mb, current.architecture)

    def remove_provisioned(self, caller: Caller, name: str, qualifier: str) -> None:
        require_operator(caller, "change provisioned concurrency")
        try:
            self._client("lambda").delete_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"remove provisioned concurrency of '{name}:{qualifier}'") from exc

    def _check_one_per_version(self, name: str, qualifier: str, current: FunctionConcurrency) -> None:
        """A version has at most one configuration, on itself or on one alias; an alias on $LATEST has none."""
        aliases = {a.name: a.version for a in self._functions.aliases(name)}
        version = aliases.get(qualifier, qualifier)
        if version == LATEST:
            raise ServiceError(
                f"Alias '{qualifier}' points at $LATEST, and provisioned concurrency needs a published version: move "
                f"the alias to one first. (AWS: {UNPUBLISHED})",
                code="InvalidParameterValueException",
            )
        for other in current.provisioned:
            if other.qualifier != qualifier and aliases.get(other.qualifier, other.qualifier) == version:
                raise ServiceError(
                    f"Version {version} already has provisioned concurrency through '{other.qualifier}'; a version "
                    "has one configuration. Change or remove that one.",
                    code="ResourceConflictException",
                )


def _config(qualifier: str, raw: dict[str, Any], memory_mb: int, architecture: str) -> ProvisionedConfig:
    requested = int(raw.get("RequestedProvisionedConcurrentExecutions", 0))
    return ProvisionedConfig(
        qualifier=qualifier,
        requested=requested,
        allocated=int(raw.get("AllocatedProvisionedConcurrentExecutions", 0)),
        available=int(raw.get("AvailableProvisionedConcurrentExecutions", 0)),
        status=raw.get("Status", "IN_PROGRESS"),
        status_reason=raw.get("StatusReason"),
        hourly_usd=lambda_provisioned_hourly(memory_mb, requested, architecture),
    )
