"""Lambda functions as an operator manages them: their configuration (and which endpoint ENDPOINT_NAME
names), published versions, and aliases with weighted routing between two versions.

Every rule AWS applies to a name, a version or a weight is checked here first, with AWS's reason, so an
operator's typo never reaches the cloud; what only the cloud knows (a version an alias still needs) is
looked up before the change, and AWS's own refusal is translated if the cloud still says no.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

LATEST = "$LATEST"
ENDPOINT_VARIABLE = "ENDPOINT_NAME"
"""The environment variable the classifier's handler reads to know which SageMaker endpoint to call."""

_ALIAS_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_DIGITS = re.compile(r"[0-9]+")
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_DESCRIPTION_MAX = 256


@dataclass(frozen=True)
class FunctionInfo:
    """One function's configuration ($LATEST or a published version), as GetFunctionConfiguration says."""

    name: str
    arn: str
    version: str
    runtime: str | None
    handler: str | None
    memory_mb: int
    timeout_s: int
    role_arn: str
    environment: dict[str, str]
    code_size_bytes: int
    code_sha256: str
    last_modified: datetime | None
    description: str
    state: str | None
    last_update_status: str | None
    architecture: str = "x86_64"

    @property
    def endpoint_name(self) -> str | None:
        """The SageMaker endpoint the function calls (its ENDPOINT_NAME), if it names one."""
        return self.environment.get(ENDPOINT_VARIABLE) or None


@dataclass(frozen=True)
class Alias:
    """An alias: the version it points at and, with weighted routing, a second version and its share."""

    name: str
    arn: str
    version: str
    description: str
    revision_id: str
    extra_version: str | None = None
    extra_weight: float = 0.0

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.version, self.extra_version) if self.extra_version else (self.version,)


def parse_function(raw: dict[str, Any]) -> FunctionInfo:
    """A FunctionConfiguration (ListFunctions, GetFunctionConfiguration, PublishVersion) as a record."""
    return FunctionInfo(
        name=raw["FunctionName"],
        arn=raw.get("FunctionArn", ""),
        version=raw.get("Version", LATEST),
        runtime=raw.get("Runtime"),
        handler=raw.get("Handler"),
        memory_mb=int(raw.get("MemorySize", 128)),
        timeout_s=int(raw.get("Timeout", 3)),
        role_arn=raw.get("Role", ""),
        environment=dict((raw.get("Environment") or {}).get("Variables") or {}),
        code_size_bytes=int(raw.get("CodeSize", 0)),
        code_sha256=raw.get("CodeSha256", ""),
        last_modified=_lambda_time(raw.get("LastModified")),
        description=raw.get("Description", ""),
        state=raw.get("State"),
        last_update_status=raw.get("LastUpdateStatus"),
        architecture=(raw.get("Architectures") or ["x86_64"])[0],
    )


def parse_alias(raw: dict[str, Any]) -> Alias:
    weights = (raw.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    extra_version, extra_weight = next(iter(weights.items()), (None, 0.0))
    return Alias(
        name=raw["Name"],
        arn=raw.get("AliasArn", ""),
        version=raw["FunctionVersion"],
        description=raw.get("Description", ""),
        revision_id=raw.get("RevisionId", ""),
        extra_version=extra_version,
        extra_weight=float(extra_weight),
    )


def _lambda_time(value: str | None) -> datetime | None:
    """Lambda's LastModified is ISO 8601 text (`2026-11-29T08:30:00.000+0000`), not a timestamp."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def check_alias_name(name: str) -> str:
    """AWS's rule for alias names: 1-128 letters, digits, - and _, and not digits only (that is a version)."""
    name = name.strip()
    if _DIGITS.fullmatch(name):
        raise ServiceError(
            f"Alias name '{name}' is all digits, which Lambda reserves for version numbers: "
            "use a name such as 'live' or 'v2-canary'. (AWS: Member must satisfy regular expression pattern: "
            "(?!^[0-9]+$)([a-zA-Z0-9-_]+))",
            code="ValidationException",
        )
    if not _ALIAS_NAME.fullmatch(name):
        raise ServiceError(
            f"Alias name '{name}' must be 1-128 letters, digits, hyphens and underscores.", code="ValidationException"
        )
    return name


def check_weight(weight: float) -> float:
    """AdditionalVersionWeights values must lie in [0.0, 1.0]: the share of calls the second version gets."""
    if not 0.0 <= weight <= 1.0:
        raise ServiceError(
            f"Routing weight {weight:g} is outside 0-1: it is the share of calls the second version gets "
            "(0.1 sends one call in ten). (AWS: Member must have value less than or equal to 1.0, Member must have "
            "value greater than or equal to 0.0)",
            code="ValidationException",
        )
    return weight


def check_endpoint_name(name: str) -> str:
    name = name.strip()
    if not _ENDPOINT_NAME.fullmatch(name):
        raise ServiceError(
            f"'{name}' is not a SageMaker endpoint name: 1-63 letters, digits and hyphens, starting with a letter "
            "or digit."
        )
    return name


class LambdaFunctionService(AwsService):
    """Functions, versions and aliases; changes take the caller, and only operators may make them."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        lambda_client: Any = None,
        sagemaker_client: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"lambda": lambda_client, "sagemaker": sagemaker_client}
        )

    # reading ------------------------------------------------------------------------------
    def functions(self) -> list[FunctionInfo]:
        """Every function in the region ($LATEST of each), by name."""
        try:
            pages = self._client("lambda").get_paginator("list_functions").paginate()
            found = [parse_function(raw) for page in pages for raw in page.get("Functions", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list Lambda functions") from exc
        return sorted(found, key=lambda f: f.name)

    def function(self, name: str, qualifier: str | None = None) -> FunctionInfo:
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        try:
            raw = self._client("lambda").get_function_configuration(FunctionName=name, **kwargs)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read function '{_qualified(name, qualifier)}'") from exc
        return parse_function(raw)

    def versions(self, name: str) -> list[FunctionInfo]:
        """$LATEST first, then the published versions, oldest first."""
        try:
            pages = self._client("lambda").get_paginator("list_versions_by_function").paginate(FunctionName=name)
            found = [parse_function(raw) for page in pages for raw in page.get("Versions", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the versions of '{name}'") from exc
        return sorted(found, key=lambda f: -1 if f.version == LATEST else int(f.version))

    def aliases(self, name: str) -> list[Alias]:
        try:
            pages = self._client("lambda").get_paginator("list_aliases").paginate(FunctionName=name)
            return [parse_alias(raw) for page in pages for raw in page.get("Aliases", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the aliases of '{name}'") from exc

    def qualifiers(self, name: str) -> list[str]:
        """What a call may name after the function: $LATEST, each published version, each alias."""
        return [v.version for v in self.versions(name)] + [a.name for a in self.aliases(name)]

    def check_qualifier(self, name: str, qualifier: str) -> str:
        """The qualifier, if the function has such a version or alias; else AWS's not-found, said plainly."""
        known = self.qualifiers(name)
        if qualifier not in known:
            raise ServiceError(
                f"Function '{name}' has no version or alias '{qualifier}'. It has: {', '.join(known)}.",
                code="ResourceNotFoundException",
            )
        return qualifier

    # changing -----------------------------------------------------------------------------
    def set_endpoint(self, caller: Caller, name: str, endpoint: str) -> FunctionInfo:
        """Point the function at another endpoint: ENDPOINT_NAME changes, every other variable is kept (the
        update replaces the whole environment). The endpoint must exist."""
        require_operator(caller, "change a function's environment")
        endpoint = check_endpoint_name(endpoint)
        try:
            self._client("sagemaker").describe_endpoint(EndpointName=endpoint)
        except BOTO_ERRORS as exc:
            error = from_client_error(exc, what=f"find endpoint '{endpoint}'")
            if error.code in {"ValidationException", "ResourceNotFound"}:
                raise ServiceError(
                    f"There is no endpoint '{endpoint}' in this region; the function would fail every call. "
                    "Deploy it first (Job page) or pick one the Overview page lists.",
                    code="EndpointNotFound",
                ) from exc
            raise error from exc
        variables = {**self.function(name).environment, ENDPOINT_VARIABLE: endpoint}
        try:
            raw = self._client("lambda").update_function_configuration(
                FunctionName=name, Environment={"Variables": variables}
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"update the environment of '{name}'") from exc
        return parse_function(raw)

    def publish_version(self, caller: Caller, name: str, description: str = "") -> FunctionInfo:
        """Freeze $LATEST as a numbered version (Lambda returns the last one when nothing changed)."""
        require_operator(caller, "publish a version")
        description = _check_description(description)
        try:
            raw = self._client("lambda").publish_version(FunctionName=name, Description=description)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"publish a version of '{name}'") from exc
        return parse_function(raw)

    def save_alias(
        self,
        caller: Caller,
        name: str,
        alias: str,
        version: str,
        *,
        extra_version: str | None = None,
        extra_weight: float = 0.0,
        description: str = "",
    ) -> Alias:
        """Create the alias, or move it if it exists: `version` takes 1 - `extra_weight` of the calls and
        `extra_version` (a second published version) the rest."""
        require_operator(caller, "create or move an alias")
        alias = check_alias_name(alias)
        check_weight(extra_weight)
        description = _check_description(description)
        published = [v.version for v in self.versions(name)]
        for wanted in filter(None, (version, extra_version)):
            if wanted not in published:
                raise ServiceError(
                    f"Function '{name}' has no version {wanted}; it has {', '.join(published)}. Publish one first.",
                    code="ResourceNotFoundException",
                )
        routing: dict[str, Any] = {"AdditionalVersionWeights": {}}
        if extra_version:
            if extra_version == version:
                raise ServiceError(f"Route between two different versions: both are {version}.")
            if LATEST in (version, extra_version):
                raise ServiceError(
                    "Weighted routing works between published versions only ($LATEST is not supported for an "
                    "alias pointing to more than 1 version). Publish $LATEST first."
                )
            routing["AdditionalVersionWeights"] = {extra_version: extra_weight}
        existing = {a.name for a in self.aliases(name)}
        client = self._client("lambda")
        try:
            if alias in existing:
                raw = client.update_alias(
                    FunctionName=name,
                    Name=alias,
                    FunctionVersion=version,
                    Description=description,
                    RoutingConfig=routing,
                )
            else:
                raw = client.create_alias(
                    FunctionName=name,
                    Name=alias,
                    FunctionVersion=version,
                    Description=description,
                    RoutingConfig=routing,
                )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"save alias '{alias}' of '{name}'") from exc
        return parse_alias(raw)

    def delete_version(self, caller: Caller, name: str, version: str) -> None:
        """Delete one published version, unless an alias still routes calls to it (AWS refuses that too)."""
        require_operator(caller, "delete a version")
        if version == LATEST or not _DIGITS.fullmatch(version):
            raise ServiceError(
                f"'{version}' is not a published version: $LATEST goes only with the function, and an alias is "
                "deleted as an alias."
            )
        users = [a.name for a in self.aliases(name) if version in a.versions]
        if users:
            raise ServiceError(
                f"Version {version} cannot be deleted: alias {', '.join(users)} still sends calls to it. Move the "
                "alias to another version first. (AWS: Unable to delete version because the following aliases "
                f"reference it: [{', '.join(users)}])",
                code="ResourceConflictException",
            )
        try:
            self._client("lambda").delete_function(FunctionName=name, Qualifier=version)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"delete version {version} of '{name}'") from exc


def _qualified(name: str, qualifier: str | None) -> str:
    return f"{name}:{qualifier}" if qualifier else name


def _check_description(description: str) -> str:
    if len(description) > _DESCRIPTION_MAX:
        raise ServiceError(f"A description is at most {_DESCRIPTION_MAX} characters; this one has {len(description)}.")
    return description
