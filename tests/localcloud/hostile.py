"""Hostile requests shaped by botocore's models: every operation localcloud serves, with values that break one
of its input shape's constraints (a required member left out, a value outside its enum, a string past its
length, a number out of range), the rest random but of the right types. AWS answers each with a 4xx; so must
localcloud, and stay up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, Shape
from hypothesis import strategies as st

from localcloud.autoscaling.provider import ApplicationAutoScaling
from localcloud.awslambda.provider import Lambda
from localcloud.cloudtrail.provider import CloudTrail
from localcloud.cloudwatch.provider import Metrics
from localcloud.core.protocol import service_model
from localcloud.ec2.provider import EC2
from localcloud.iam.provider import IAM
from localcloud.iam.sts import STS
from localcloud.logs.provider import Logs
from localcloud.s3.provider import S3
from localcloud.sagemaker.capacity import Capacity
from localcloud.sagemaker.provider import SageMaker
from localcloud.sagemaker.runtime import SageMakerRuntime
from localcloud.sagemaker.training.provider import Training
from localcloud.sagemaker.tuning.provider import Tuning

SERVICES = [S3, IAM, STS, Logs, Metrics, SageMaker, SageMakerRuntime, Lambda, EC2, ApplicationAutoScaling, CloudTrail]
# Classes that serve some of a service's operations for it (SageMaker.operation delegates to them).
DELEGATES: dict[type, tuple[type, ...]] = {SageMaker: (Training, Tuning, Capacity)}
MAX_DEPTH = 3
ODD_TEXT = ["", " ", "..", "../../etc/passwd", "\x00", "%00", "a" * 300, "💥", "NaN", "-1", "null", "{}", "*"]


@dataclass(frozen=True)
class Served:
    """One operation localcloud serves: the botocore service name and the operation's model."""

    service: str
    operation: OperationModel

    def __str__(self) -> str:
        return f"{self.service}.{self.operation.name}"


def served_operations() -> list[Served]:
    """Every operation any of localcloud's services defines an `op_<Operation>` for."""
    served = []
    for service in SERVICES:
        model = service_model(service.model_name)
        for name in sorted(model.operation_names):
            if any(hasattr(server, f"op_{name}") for server in (service, *DELEGATES.get(service, ()))):
                served.append(Served(service.model_name, model.operation_model(name)))
    return served


def _enum(shape: Shape) -> list[str]:
    return getattr(shape, "enum", None) or []


def _text(shape: Shape, *, header: bool = False) -> st.SearchStrategy[str]:
    """Odd or random text; a header's is printable ASCII, all an HTTP client can send in one."""
    if _enum(shape):
        return st.sampled_from(_enum(shape))
    longest = min(shape.metadata.get("max", 64), 64)
    if header:
        return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=longest)
    return st.sampled_from(ODD_TEXT) | st.text(min_size=shape.metadata.get("min", 0), max_size=longest)


def value_of(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of the shape's type, respecting its constraints only by chance."""
    kind = shape.type_name
    if kind == "structure":
        if depth >= MAX_DEPTH:
            return st.just({})
        members = {
            name: value_of(member, depth + 1)
            for name, member in shape.members.items()
            if not member.serialization.get("eventstream")
            # a body length the client lies about only makes the server wait for bytes that never come
            and member.serialization.get("name") != "Content-Length"
        }
        required = set(shape.required_members) & set(members)
        return st.fixed_dictionaries(
            {name: members[name] for name in required},
            optional={name: s for name, s in members.items() if name not in required},
        )
    if kind == "list":
        return st.lists(value_of(shape.member, depth + 1), max_size=0 if depth >= MAX_DEPTH else 3)
    if kind == "map":
        if shape.serialization.get("location") == "headers":  # x-amz-meta-*: header-safe keys and values
            return st.dictionaries(_text(shape.key, header=True), _text(shape.value, header=True), max_size=2)
        return st.dictionaries(_text(shape.key), value_of(shape.value, depth + 1), max_size=2)
    if kind == "string":
        return _text(shape, header=shape.serialization.get("location") in ("header", "headers"))
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind in ("float", "double"):
        return st.floats(allow_nan=True, allow_infinity=True)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=64)
    if kind == "timestamp":
        return st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1))
    return st.none()


def _breakable(shape: Shape) -> list[tuple[str, Shape]]:
    """The input's top-level members a single bad value makes invalid, with their shapes."""
    return [
        (name, member)
        for name, member in shape.members.items()
        if _enum(member)
        or (member.type_name == "string" and "max" in member.metadata)
        or (member.type_name in ("integer", "long", "float", "double") and {"min", "max"} & set(member.metadata))
    ]


def _bad_value(shape: Shape) -> Any:
    if _enum(shape):
        return "NotAnEnumValue"
    if shape.type_name == "string":
        return "x" * (shape.metadata["max"] + 1)
    meta = shape.metadata
    return meta["max"] + 1 if "max" in meta else meta["min"] - 1


@st.composite
def hostile_request(draw: st.DrawFn, served: Served) -> dict[str, Any]:
    """Model-shaped params for `served` with one constraint broken (when its input has one to break)."""
    shape = served.operation.input_shape
    if shape is None:
        return {}
    params = draw(value_of(shape))
    in_path = {name for name, member in shape.members.items() if member.serialization.get("location") == "uri"}
    required = [name for name in shape.required_members if name in params]
    choices = [("drop", name) for name in required if name not in in_path]
    choices += [("odd", name) for name in required if name in in_path]  # a client cannot leave out a path part
    choices += [("bad", name) for name, _ in _breakable(shape)]
    if choices:
        how, name = draw(st.sampled_from(choices))
        if how == "drop":
            params.pop(name)
        elif how == "odd":
            params[name] = draw(st.sampled_from(["..", "a" * 300, "%00", "-", "UPPER_case", "💥"]))
        else:
            params[name] = _bad_value(shape.members[name])
    return params
