"""Reserved and provisioned concurrency and the account's settings: Put/Get/DeleteFunctionConcurrency,
Put/Get/List/DeleteProvisionedConcurrencyConfig, GetAccountSettings.

Settings are kept in the store (they survive a restart) and mirrored in the Ledger, which every
invocation consults. A provisioned configuration names a published version or an alias; its
environments belong to the version it resolves to, and each version has at most one configuration.
Putting a configuration again with another count keeps the environments already warm (pool.py), whether
by hand or by Application Auto Scaling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.awslambda.environment import PROVISIONED, Environment
from localcloud.awslambda.ledger import Ledger
from localcloud.awslambda.names import LATEST, function_arn, function_name, invalid, is_version, timestamp
from localcloud.awslambda.pool import InitFailed, Pools
from localcloud.awslambda.versions import ALIAS, PAGES, VERSION
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call
from localcloud.core.state import Store

RESERVED, PROVISIONED_CONFIG = "lambda-concurrency", "lambda-provisioned"
# GetAccountSettings' code-size limits: AWS's defaults (75 GB of code, 250 MB unzipped, 50 MB zipped).
TOTAL_CODE_SIZE, CODE_SIZE_UNZIPPED, CODE_SIZE_ZIPPED = 80_530_636_800, 262_144_000, 52_428_800


_NO_CONFIG = "No Provisioned Concurrency Config found for this function"


def _not_provisioned() -> AwsError:
    return AwsError("ProvisionedConcurrencyConfigNotFoundException", _NO_CONFIG, 404)


class ConcurrencyApi:
    """Lambda's concurrency operations: mixed into the Lambda service, which provides the store, the ledger,
    the pools and the version look-ups (`_function`, `_version`, `_alias`)."""

    store: Store
    ledger: Ledger
    pools: Pools
    log_dir: Path
    execution_credentials: Callable[[dict[str, Any]], tuple[dict[str, str], float]]
    _settings_lock: threading.Lock

    def load_settings(self) -> None:
        """Reservations and provisioned configurations from the store into the ledger (at start)."""
        for record in self.store.all(RESERVED):
            self.ledger.set_reserved(record["FunctionName"], record["ReservedConcurrentExecutions"])
        for record in self.store.all(PROVISIONED_CONFIG):
            self.ledger.set_provisioned(record["FunctionName"], record["Qualifier"], record["Requested"])

    def resume(self) -> None:
        """After a restart: provisioned environments start again."""
        for record in self.store.all(PROVISIONED_CONFIG):
            self._provision(record["FunctionName"], record["Qualifier"], record["Version"], record["Requested"])

    # reserved concurrency -----------------------------------------------------------------
    def op_PutFunctionConcurrency(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._function(name, call.region)
        value = p["ReservedConcurrentExecutions"]
        with self._settings_lock:
            self.ledger.check_reserved(name, value)
            self.store.put(RESERVED, name, {"FunctionName": name, "ReservedConcurrentExecutions": value})
            self.ledger.set_reserved(name, value)
        return {"ReservedConcurrentExecutions": value}

    def reserved(self, name: str) -> dict[str, Any]:
        record = self.store.get(RESERVED, name)
        return {"ReservedConcurrentExecutions": record["ReservedConcurrentExecutions"]} if record else {}

    def op_GetFunctionConcurrency(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._function(name, call.region)
        return self.reserved(name)

    def op_DeleteFunctionConcurrency(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._function(name, call.region)
        with self._settings_lock:
            self.store.delete(RESERVED, name)
            self.ledger.set_reserved(name, None)
        return {}

    def op_GetAccountSettings(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        functions = self.store.all("function")
        code = sum(f["CodeSize"] for f in functions) + sum(v["CodeSize"] for v in self.store.all(VERSION))
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                "CodeSizeZipped": CODE_SIZE_ZIPPED,
                "ConcurrentExecutions": self.ledger.limit,
                "UnreservedConcurrentExecutions": self.ledger.unreserved(),
            },
            "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(functions)},
        }

    # provisioned concurrency ----------------------------------------------------------------
    def _provisioned_version(self, name: str, qualifier: str, region: str) -> str:
        """The published version a configuration's qualifier names (an alias: the version it points at)."""
        if is_version(qualifier):
            return self._version(name, qualifier, region)["Version"]
        version = self._alias(name, qualifier, region)["FunctionVersion"]
        if version == LATEST:
            raise invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        return version

    def _configs(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.store.all(PROVISIONED_CONFIG) if c["FunctionName"] == name]

    def op_PutProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name, qualifier, count = function_name(p["FunctionName"]), p["Qualifier"], p["ProvisionedConcurrentExecutions"]
        if qualifier == LATEST:
            raise invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        self._function(name, call.region)
        version = self._provisioned_version(name, qualifier, call.region)
        with self._settings_lock:
            for other in self._configs(name):
                if other["Qualifier"] == qualifier:
                    continue
                if other["Qualifier"] == version:
                    raise AwsError(
                        "ResourceConflictException",
                        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned "
                        "version",
                        409,
                    )
                if other["Version"] == version:
                    message = "Version is pointed by a Provisioned Concurrency alias"
                    raise AwsError("ResourceConflictException", message, 409)
            self.ledger.check_provisioned(name, qualifier, count)
            record = {
                "FunctionName": name,
                "Qualifier": qualifier,
                "Version": version,
                "FunctionArn": function_arn(call.region, name, qualifier),
                "Requested": count,
                "LastModified": timestamp(),
            }
            self.store.put(PROVISIONED_CONFIG, f"{name}:{qualifier}", record)
            self.ledger.set_provisioned(name, qualifier, count)
        self._provision(name, qualifier, version, count)
        return self._status(record)

    def _provision(self, name: str, qualifier: str, version: str, count: int) -> None:
        record = self.store.get(VERSION, f"{name}:{version}")
        if record is None:
            return
        log_path = self.log_dir / f"{name}.log"

        def start(epoch: int) -> Environment:
            cloud_env, expires = self.execution_credentials(record)
            env = Environment(
                record, log_path, cloud_env, epoch, initialization_type=PROVISIONED, credentials_expire=expires
            )
            try:
                error = env.start(timeout=max(float(record["Timeout"]), 10.0))
            except TimeoutError:
                error = {"errorType": "Runtime.InitTimeout", "errorMessage": "Init timed out"}
            if error is not None:
                env.stop()
                raise InitFailed(f"FUNCTION_ERROR_INIT_FAILURE: {error['errorType']}: {error['errorMessage']}")
            return env

        self.pools.get(name, version).provision(qualifier, count, start)

    def _status(self, record: dict[str, Any]) -> dict[str, Any]:
        pool = self.pools.get(record["FunctionName"], record["Version"])
        with pool.lock:
            ours = pool.qualifier == record["Qualifier"]
            allocated = pool.allocated if ours else 0
            status, reason = (pool.status, pool.status_reason) if ours else ("IN_PROGRESS", None)
        answer = {
            "RequestedProvisionedConcurrentExecutions": record["Requested"],
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "Status": status,
            "LastModified": record["LastModified"],
        }
        if reason:
            answer["StatusReason"] = reason
        return answer

    def provisioned_config(self, function: str, qualifier: str, region: str) -> tuple[str, dict[str, Any] | None]:
        """(the function's name, its configuration for the version or alias, or None); ResourceNotFound when
        the function, version or alias does not exist."""
        name = function_name(function)
        if qualifier == LATEST:
            raise invalid("The function resource provided must be an alias or a published version.")
        self._function(name, region)
        if is_version(qualifier):
            self._version(name, qualifier, region)
        else:
            self._alias(name, qualifier, region)
        return name, self.store.get(PROVISIONED_CONFIG, f"{name}:{qualifier}")

    def provisioned_requested(self, name: str, qualifier: str) -> int:
        """The provisioned concurrency configured for a version or alias (0 when none)."""
        record = self.store.get(PROVISIONED_CONFIG, f"{name}:{qualifier}")
        return int(record["Requested"]) if record else 0

    def op_GetProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        _, record = self.provisioned_config(p["FunctionName"], p["Qualifier"], call.region)
        if record is None:
            raise _not_provisioned()
        return self._status(record)

    def op_ListProvisionedConcurrencyConfigs(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._function(name, call.region)
        configs = [{"FunctionArn": c["FunctionArn"], **self._status(c)} for c in self._configs(name)]
        return PAGES.answer(configs, p, "ProvisionedConcurrencyConfigs")

    def op_DeleteProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name, record = self.provisioned_config(p["FunctionName"], p["Qualifier"], call.region)
        if record is None:  # AWS's code for this call (Get's is ProvisionedConcurrencyConfigNotFoundException)
            raise AwsError(
                "ResourceNotFoundException", "No Provisioned Concurrency Config found for this function", 404
            )
        self.forget_provisioned(name, record["Qualifier"])
        return {}

    def forget_provisioned(self, name: str, qualifier: str) -> None:
        """A configuration goes (deleted, or its version or alias deleted): its environments stop."""
        with self._settings_lock:
            record = self.store.get(PROVISIONED_CONFIG, f"{name}:{qualifier}")
            if record is None:
                return
            self.store.delete(PROVISIONED_CONFIG, f"{name}:{qualifier}")
            self.ledger.set_provisioned(name, qualifier, None)
        self.pools.get(name, record["Version"]).unprovision()

    def move_provisioned(self, name: str, alias: str, version: str) -> None:
        """An alias with a configuration is to point at another version: its environments move there (or the
        move is refused, as for a new configuration)."""
        record = self.store.get(PROVISIONED_CONFIG, f"{name}:{alias}")
        if record is None:
            return
        if version == LATEST:
            raise invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        if any(c["Version"] == version for c in self._configs(name) if c["Qualifier"] != alias):
            raise AwsError(
                "ResourceConflictException",
                "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
                409,
            )
        self.pools.get(name, record["Version"]).unprovision()
        record.update(Version=version, LastModified=timestamp())
        self.store.put(PROVISIONED_CONFIG, f"{name}:{alias}", record)
        self._provision(name, alias, version, record["Requested"])

    def forget_function(self, name: str) -> None:
        """DeleteFunction: its reservation, configurations, versions and aliases go with it."""
        with self._settings_lock:
            self.store.delete(RESERVED, name)
            for config in self._configs(name):
                self.store.delete(PROVISIONED_CONFIG, f"{name}:{config['Qualifier']}")
            for version in self._versions(name):
                self.store.delete(VERSION, f"{name}:{version['Version']}")
            for alias in self._aliases(name):
                self.store.delete(ALIAS, f"{name}:{alias['Name']}")
            self.ledger.forget(name)
        self.pools.drop(name)
