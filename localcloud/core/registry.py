"""Services by the name requests are signed for: the one place the front door looks them up.

A service is a class serving one botocore model with one `op_<Operation>` method per
operation. Most signing names serve one API; SageMaker's serves two (the control plane,
with `X-Amz-Target: SageMaker.<Op>`, and the runtime's REST paths), told apart by the
target prefix their models declare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.model import ServiceModel

from localcloud.core.protocol import AwsError, Request, service_model


@dataclass(frozen=True)
class Identity:
    """Who signed a request: an access key and the principal it belongs to."""

    access_key_id: str
    arn: str
    user_id: str
    account: str

    @property
    def role_name(self) -> str | None:
        """The role a temporary key was issued for (`arn:aws:sts::…:assumed-role/ROLE/SESSION`)."""
        if ":assumed-role/" not in self.arn:
            return None
        return self.arn.split(":assumed-role/", 1)[1].split("/", 1)[0]


@dataclass(frozen=True)
class Call:
    """What an operation knows besides its params: the region it was signed for, and by whom."""

    region: str
    identity: Identity


Operation = Callable[[dict[str, Any], Call], dict[str, Any]]


class Service:
    """One AWS API; subclasses set `model_name` and define `op_<Operation>(params, call)`.

    For IAM, an operation is the action `<iam_prefix>:<name>` (renamed where IAM's name differs,
    `iam_actions`) on the resources `resource_arns` names: by default the ARNs `arn_templates`
    build from the params the request carries, else `*`.
    """

    model_name: ClassVar[str]
    # The code this API answers an input that fails its model's constraints with.
    validation_code: ClassVar[str] = "ValidationException"
    iam_actions: ClassVar[dict[str, str]] = {}
    # param name -> ARN template with {region}, {account}, {value} and {lower} (the value lowercased)
    arn_templates: ClassVar[dict[str, str]] = {}

    @property
    def model(self) -> ServiceModel:
        return service_model(self.model_name)

    def operation(self, name: str) -> Operation | None:
        return getattr(self, f"op_{name}", None)

    @property
    def iam_prefix(self) -> str:
        return self.model.signing_name

    def iam_action(self, operation: str) -> str:
        return f"{self.iam_prefix}:{self.iam_actions.get(operation, operation)}"

    def condition_keys(self, operation: str, params: dict[str, Any]) -> dict[str, list[str]]:
        """The service's own condition keys a request carries (S3's `s3:prefix` on a listing, ...)."""
        return {}

    def also_authorized(self, operation: str, params: dict[str, Any], call: Call) -> list[tuple[str, str]]:
        """Further (action, resource) pairs a request needs beyond its own action on `resource_arns`: S3's
        CopyObject also reads its source (s3:GetObject on it)."""
        return []

    def resource_arns(self, operation: str, params: dict[str, Any], call: Call) -> list[str]:
        arns = [
            template.format(region=call.region, account=call.identity.account, value=value, lower=value.lower())
            for name, template in self.arn_templates.items()
            if isinstance(value := params.get(name), str)
        ]
        return arns or ["*"]


class Registry:
    def __init__(self) -> None:
        self._by_signing_name: dict[str, list[Service]] = {}

    def register(self, service: Service) -> None:
        self._by_signing_name.setdefault(service.model.signing_name, []).append(service)

    def signing_names(self) -> list[str]:
        return sorted(self._by_signing_name)

    def resolve(self, signing_name: str, request: Request) -> Service:
        """The service a signed request is for; an AWS-style error when there is none."""
        candidates = self._by_signing_name.get(signing_name)
        if not candidates:
            raise AwsError("UnknownServiceException", f"localcloud does not serve {signing_name!r}", 400)
        if len(candidates) == 1:
            return candidates[0]
        target = request.header("x-amz-target")
        if target:
            prefix = target.rpartition(".")[0]
            for service in candidates:
                if service.model.metadata.get("targetPrefix") == prefix:
                    return service
            raise AwsError("UnknownOperationException", f"Operation {target!r} is not supported.", 400)
        rest = [s for s in candidates if "targetPrefix" not in s.model.metadata]  # no target: the REST API
        if rest:
            return rest[0]
        raise AwsError("UnknownOperationException", f"No {signing_name} operation at {request.method} {request.path}")

    def guess(self, request: Request) -> Service | None:
        """For a refused request: the service it most likely meant, to answer in its protocol."""
        target = request.header("x-amz-target") or ""
        for services in self._by_signing_name.values():
            for service in services:
                if target and service.model.metadata.get("targetPrefix") == target.rpartition(".")[0]:
                    return service
        return None
