"""What every layer of localcloud shares: a request, a response, an AWS error, and the
validation of params against botocore's service models (the codecs in `codecs/` read and
write the wire; services only see params and return output dicts)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

ACCOUNT_ID = "000000000000"
# An output key an operation may set when its protocol answers with another HTTP status than
# the model's (S3's 206 Partial Content for a ranged GET); the codec removes it.
STATUS = "__status__"


class AwsError(Exception):
    """An error answered with AWS's code, HTTP status and message."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


@dataclass
class Request:
    """One HTTP request, as the front received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    region: str = "us-east-1"
    service: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


_validator = ParamValidator()


def validate(operation: OperationModel, params: dict[str, Any]) -> None:
    """Check params against the operation's input shape: types, required members, enums, lengths, ranges and
    patterns (botocore's own validator checks types, required members and minimums only)."""
    shape = operation.input_shape
    if shape is None:
        return
    report = _validator.validate(params, shape)
    if report.has_errors():
        raise validation(report.generate_report())
    _check_constraints(shape, params, "")


def _violation(value: Any, path: str, constraint: str) -> AwsError:
    shown = value if isinstance(value, int | float) else str(value)[:200]
    return validation(
        f"1 validation error detected: Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
    )


def _member_path(path: str, name: str) -> str:
    """AWS names a member by its lowerCamelCase path from the request (`routingConfig.additionalVersionWeights`)."""
    camel = name[:1].lower() + name[1:]
    return f"{path}.{camel}" if path else camel


def _check_constraints(shape: Shape, value: Any, path: str) -> None:
    """What AWS enforces beyond botocore's validator: enums, maximum lengths and values, patterns."""
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check_constraints(member, value[name], _member_path(path, name))
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            raise _violation(value, path, f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value, start=1):
            _check_constraints(shape.member, item, f"{path}.{i}.member")
    elif shape.type_name == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            raise _violation(value, path, f"Member must have length less than or equal to {meta['max']}")
        for part, kind, check in (("key", shape.key, value.keys()), ("value", shape.value, value.values())):
            for item in check:
                try:
                    _check_constraints(kind, item, path)
                except AwsError as error:  # AWS reports the map whole, as Java prints it, and the member's rule
                    shown = "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
                    rule = error.message.partition("failed to satisfy constraint: ")[2]
                    raise _violation(shown, path, f"Map {part} must satisfy constraint: [{rule}]") from None
    elif shape.type_name == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            raise _violation(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        if "max" in meta and len(value) > meta["max"]:  # the value is not repeated: it may be a long secret
            raise validation(
                f"1 validation error detected: Value at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = _compiled(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            raise _violation(value, path, f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif shape.type_name in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            raise _violation(value, path, f"Member must have value less than or equal to {meta['max']}")
        if shape.type_name in ("float", "double") and value != value:  # NaN compares unequal to itself
            raise _violation(value, path, "Member must be a number")


@cache
def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a Java-only construct: AWS checks it, we cannot
        return None
