"""AWS wire protocols, read and written with botocore's own service models.

localcloud serves the JSON (SageMaker), REST-JSON (Lambda, SageMaker Runtime) and query
(STS) protocols generically from botocore's models, so requests are validated exactly as the
SDK describes them and errors carry AWS's codes. S3's REST-XML is hand-written in s3.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

ACCOUNT_ID = "000000000000"


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
    """Check params against the operation's input shape: types, required, ranges, patterns."""
    shape = operation.input_shape
    if shape is None:
        return
    report = _validator.validate(params, shape)
    if report.has_errors():
        raise validation(report.generate_report())
    _check_patterns(shape, params, shape.name)


def _check_patterns(shape: Shape, value: Any, path: str) -> None:
    """botocore's validator skips `pattern` and string length; AWS enforces both."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check_patterns(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _check_patterns(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "string" and isinstance(value, str):
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            raise validation(
                f"1 validation error detected: Value at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = _compiled(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            raise validation(
                f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {meta['pattern']}"
            )


@cache
def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a Java-only construct: AWS checks it, we cannot
        return None


# ---------------------------------------------------------------- value conversion


def _from_wire(shape: Shape, value: Any) -> Any:
    """Turn JSON values into what botocore's validator expects (bytes for blobs)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure" and isinstance(value, dict):
        return {name: _from_wire(shape.members[name], v) if name in shape.members else v for name, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_from_wire(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_wire(shape.value, v) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise validation(f"Could not decode base64 blob: {exc}") from exc
    if kind == "timestamp" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    return json.dumps(_to_json(value), separators=(",", ":")).encode()


def _scalar_from_text(shape: Shape, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError as exc:
            raise validation(f"Invalid integer value '{text}'") from exc
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


# ---------------------------------------------------------------- JSON protocol (SageMaker)


def parse_json_request(model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
    target = request.header("x-amz-target") or ""
    _, _, name = target.partition(".")
    try:
        operation = model.operation_model(name)
    except Exception as exc:
        raise AwsError("UnknownOperationException", f"Operation {name or target!r} is not supported") from exc
    try:
        raw = json.loads(request.body or b"{}")
    except json.JSONDecodeError as exc:
        raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}") from exc
    params = _from_wire(operation.input_shape, raw) if operation.input_shape else {}
    validate(operation, params)
    return operation, params


def json_response(output: dict[str, Any] | None) -> Response:
    return Response(200, {"Content-Type": "application/x-amz-json-1.1"}, json_bytes(output or {}))


def json_error(error: AwsError) -> Response:
    body = {"__type": error.code, "message": error.message, **error.extra}
    return Response(
        error.status,
        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.code},
        json_bytes(body),
    )


# ---------------------------------------------------------------- REST-JSON (Lambda, runtime)


@cache
def _routes(service: str) -> list[tuple[str, re.Pattern[str], OperationModel]]:
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http["requestUri"].split("?")[0]
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", uri)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        routes.append((operation.http["method"], re.compile(regex.rstrip("/") + "/?$"), operation))
    # Literal segments beat placeholders: try the most specific URIs first.
    routes.sort(key=lambda r: (-r[1].pattern.count("/"), r[1].pattern.count("(?P")))
    return routes


def _route(service: str, request: Request) -> tuple[OperationModel, re.Match[str]]:
    for method, regex, operation in _routes(service):
        match = regex.match(request.path)
        if method == request.method and match:
            return operation, match
    raise AwsError("UnknownOperationException", f"No operation for {request.method} {request.path}", 404)


def parse_rest_json_request(service: str, request: Request) -> tuple[OperationModel, dict[str, Any]]:
    operation, match = _route(service, request)
    shape = operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return operation, params
    query = parse_qs(request.query, keep_blank_values=True)
    payload_name = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in match.groupdict():
                params[name] = unquote(match.group(wire))
        elif location == "querystring":
            if wire in query:
                params[name] = _scalar_from_text(member, query[wire][0])
        elif location == "header":
            text = request.header(wire)
            if text is not None:
                params[name] = _scalar_from_text(member, text)
        elif name == payload_name:
            if member.type_name == "blob":
                params[name] = request.body
            elif request.body:
                params[name] = _from_wire(member, _load_json(request.body))
        elif location is None:
            body_members[name] = member
    if body_members and request.body and payload_name is None:
        raw = _load_json(request.body)
        for name, member in body_members.items():
            if name in raw:
                params[name] = _from_wire(member, raw[name])
    validate(operation, params)
    return operation, params


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}") from exc


def rest_json_response(operation: OperationModel, output: dict[str, Any]) -> Response:
    response = Response(operation.http.get("responseCode", 200))
    shape = operation.output_shape
    if shape is None:
        return response
    payload_name = shape.serialization.get("payload")
    body: dict[str, Any] = {}
    for name, value in output.items():
        if value is None:
            continue
        member = shape.members[name]
        location = member.serialization.get("location")
        if location == "header":
            response.headers[member.serialization.get("name", name)] = str(value)
        elif location == "statusCode":
            response.status = int(value)
        elif name == payload_name:
            response.body = value if isinstance(value, bytes) else json_bytes(value)
        else:
            body[name] = value
    if payload_name is None:
        response.body = json_bytes(body)
        response.headers["Content-Type"] = "application/json"
    return response


def rest_json_error(error: AwsError) -> Response:
    body = {"message": error.message, "Type": "User", **error.extra}
    return Response(
        error.status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": error.code},
        json_bytes(body),
    )


# ---------------------------------------------------------------- query protocol (STS)


def parse_query_request(request: Request) -> dict[str, str]:
    form = parse_qs(request.body.decode() if request.body else request.query)
    return {k: v[0] for k, v in form.items()}


def xml_error(error: AwsError) -> Response:
    body = (
        f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{error.code}</Code><Message>{xml_escape(error.message)}</Message></Error>"
        "<RequestId>localcloud</RequestId></ErrorResponse>"
    )
    return Response(error.status, {"Content-Type": "text/xml"}, body.encode())


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
