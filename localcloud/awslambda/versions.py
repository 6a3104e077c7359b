"""Versions and aliases: PublishVersion, ListVersionsByFunction, Create/Get/Update/Delete/ListAliases, and
the resolution of a qualifier ($LATEST, a version number, an alias with its weighted routing) to the
configuration that runs.

A published version is an immutable copy of $LATEST's configuration and code, numbered from 1 and never
reused; publishing again with nothing changed returns the last version instead of a new one. An alias
points at one version and, with a RoutingConfig, sends a share of calls to a second one.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from localcloud.awslambda.metric_publisher import Call as MetricsCall
from localcloud.awslambda.names import (
    LATEST,
    alias_not_found,
    function_arn,
    function_name,
    invalid,
    is_version,
    not_found,
    qualifier_of,
    timestamp,
)
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store

VERSION, ALIAS = "lambda-version", "lambda-alias"
# Lambda's List* calls page by Marker and MaxItems.
PAGES = Paginator("Marker", "NextMarker", "MaxItems", invalid_code="InvalidParameterValueException")


def configuration(record: dict[str, Any]) -> dict[str, Any]:
    """A stored function or version record as FunctionConfiguration: without localcloud's own fields."""
    return {k: v for k, v in record.items() if k != "code_dir" and not k.startswith("_")}


def _versions_of(alias: dict[str, Any]) -> set[str]:
    """The versions an alias sends calls to."""
    return {alias["FunctionVersion"], *(alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})}


@dataclass(frozen=True)
class Target:
    """What an invocation runs: the configuration of the version it resolved to, and how the caller named it."""

    record: dict[str, Any]
    version: str  # the version that runs (ExecutedVersion)
    invoked_arn: str
    call: MetricsCall


class VersionsApi:
    """Lambda's operations on versions and aliases: mixed into the Lambda service, whose `_function` finds
    $LATEST and whose concurrency API keeps provisioned configurations (`forget_provisioned`,
    `move_provisioned`) in step with the versions and aliases they name."""

    store: Store
    _publish_lock: threading.Lock

    def _version(self, name: str, version: str, region: str) -> dict[str, Any]:
        """$LATEST's record or a published version's; ResourceNotFoundException naming it otherwise."""
        if version == LATEST:
            return self._function(name, region)
        record = self.store.get(VERSION, f"{name}:{version}") if is_version(version) else None
        if record is None:
            self._function(name, region)  # an unknown function is named without the qualifier
            raise not_found(region, name, version)
        return record

    def _alias(self, name: str, alias: str, region: str) -> dict[str, Any]:
        record = self.store.get(ALIAS, f"{name}:{alias}")
        if record is None:
            self._function(name, region)
            raise alias_not_found(region, name, alias)
        return record

    def _versions(self, name: str) -> list[dict[str, Any]]:
        found = [v for v in self.store.all(VERSION) if v["FunctionName"] == name]
        return sorted(found, key=lambda v: int(v["Version"]))

    def _aliases(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.store.all(ALIAS) if a["AliasArn"].split(":")[6] == name]

    def resolve(self, value: str, qualifier: str | None, region: str) -> Target:
        """The configuration a call runs: $LATEST, a version, or the version an alias routes this call to."""
        name, qualifier = function_name(value), qualifier_of(value, qualifier)
        arn = function_arn(region, name, qualifier)
        if qualifier is None or qualifier == LATEST or is_version(qualifier):
            record = self._version(name, qualifier or LATEST, region)
            return Target(record, record["Version"], arn, MetricsCall(name, qualifier, alias=False))
        alias = self.store.get(ALIAS, f"{name}:{qualifier}")
        if alias is None:
            self._function(name, region)
            raise not_found(region, name, qualifier)
        version = alias["FunctionVersion"]
        for extra, weight in (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}).items():
            if random.random() < weight:
                version = extra
        return Target(self._version(name, version, region), version, arn, MetricsCall(name, qualifier, alias=True))

    # versions -----------------------------------------------------------------------
    def publish(self, name: str, region: str, p: dict[str, Any]) -> dict[str, Any]:
        """Publish $LATEST as a new version, unless it has not changed since the last one."""
        with self._publish_lock:
            latest = self._function(name, region)
            if p.get("CodeSha256") and p["CodeSha256"] != latest["CodeSha256"]:
                raise invalid(
                    f"CodeSHA256 ({p['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                    f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
                )
            last = latest.get("_published")
            if last and last["LastModified"] == latest["LastModified"]:
                existing = self.store.get(VERSION, f"{name}:{last['Version']}")
                if existing is not None:
                    return configuration(existing)
            number = str(latest.get("_last_version", 0) + 1)
            record = {
                **latest,
                "Version": number,
                "FunctionArn": function_arn(region, name, number),
                "Description": p.get("Description", latest["Description"]),
                "LastModified": timestamp(),
            }
            for key in ("_last_version", "_published"):
                record.pop(key, None)
            self.store.put(VERSION, f"{name}:{number}", record)
            published = {"Version": number, "LastModified": latest["LastModified"]}
            self.store.update("function", name, _last_version=int(number), _published=published)
        return configuration(record)

    def op_PublishVersion(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self.publish(function_name(p["FunctionName"]), call.region, p)

    def op_ListVersionsByFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        latest = configuration(self._function(name, call.region))
        versions = [configuration(v) for v in self._versions(name)]
        return PAGES.answer([latest, *versions], p, "Versions")

    def delete_version(self, name: str, version: str, region: str) -> None:
        """DeleteFunction with a qualifier: one version goes, unless an alias still points at it."""
        if version == LATEST:
            raise invalid("$LATEST version cannot be deleted without deleting the function.")
        if not is_version(version):
            self._alias(name, version, region)
            raise invalid("Deletion of aliases is not supported.")
        self._version(name, version, region)
        users = [a["Name"] for a in self._aliases(name) if version in _versions_of(a)]
        if users:
            raise AwsError(
                "ResourceConflictException",
                f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]",
                409,
            )
        self.forget_provisioned(name, version)
        self.store.delete(VERSION, f"{name}:{version}")

    # aliases ------------------------------------------------------------------------
    def _routing(self, name: str, primary: str, routing: dict[str, Any] | None, region: str) -> dict[str, Any] | None:
        """Check a RoutingConfig as AWS does: one extra version, a weight in [0, 1], published versions only."""
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if not weights:
            return None
        if len(weights) > 1:
            raise invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
        for version, weight in weights.items():
            if not 0.0 <= weight <= 1.0:
                raise validation(
                    f"1 validation error detected: Value '{{{version}={weight}}}' at "
                    "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy "
                    "constraint: [Member must have value less than or equal to 1.0, Member must have value greater "
                    "than or equal to 0.0]"
                )
            if not is_version(version):
                raise validation(
                    f"1 validation error detected: Value '{{{version}={weight}}}' at "
                    "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy "
                    "constraint: [Member must satisfy regular expression pattern: [0-9]+]"
                )
            if version == primary:
                raise invalid(
                    f"Invalid function version {primary}. Function version {primary} is already included in "
                    "routing configuration."
                )
            if primary == LATEST:
                raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
            self._version(name, version, region)
        return {"AdditionalVersionWeights": dict(weights)}

    def op_CreateAlias(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name, alias = function_name(p["FunctionName"]), p["Name"]
        self._version(name, p["FunctionVersion"], call.region)
        record: dict[str, Any] = {
            "AliasArn": function_arn(call.region, name, alias),
            "Name": alias,
            "FunctionVersion": p["FunctionVersion"],
            "Description": p.get("Description", ""),
            "RevisionId": str(uuid.uuid4()),
        }
        routing = self._routing(name, p["FunctionVersion"], p.get("RoutingConfig"), call.region)
        if routing:
            record["RoutingConfig"] = routing
        if not self.store.insert(ALIAS, f"{name}:{alias}", record):
            raise AwsError("ResourceConflictException", f"Alias already exists: {record['AliasArn']}", 409)
        return record

    def op_GetAlias(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._alias(function_name(p["FunctionName"]), p["Name"], call.region)

    def op_UpdateAlias(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        record = self._alias(name, p["Name"], call.region)
        if p.get("RevisionId") and p["RevisionId"] != record["RevisionId"]:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
                "to retrieve the latest Revision Id",
                412,
            )
        version = p.get("FunctionVersion", record["FunctionVersion"])
        self._version(name, version, call.region)
        if "RoutingConfig" in p:
            routing = self._routing(name, version, p["RoutingConfig"], call.region)
        else:
            routing = self._routing(name, version, record.get("RoutingConfig"), call.region)
        record.pop("RoutingConfig", None)
        if routing:
            record["RoutingConfig"] = routing
        if version != record["FunctionVersion"]:
            self.move_provisioned(name, record["Name"], version)
        record.update(FunctionVersion=version, Description=p.get("Description", record["Description"]))
        record["RevisionId"] = str(uuid.uuid4())
        self.store.put(ALIAS, f"{name}:{record['Name']}", record)
        return record

    def op_DeleteAlias(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._alias(name, p["Name"], call.region)
        self.forget_provisioned(name, p["Name"])
        self.store.delete(ALIAS, f"{name}:{p['Name']}")
        return {}

    def op_ListAliases(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        self._function(name, call.region)
        aliases = sorted(self._aliases(name), key=lambda a: a["Name"])
        if "FunctionVersion" in p:
            aliases = [a for a in aliases if a["FunctionVersion"] == p["FunctionVersion"]]
        return PAGES.answer(aliases, p, "Aliases")
