"""AWS JSON 1.0/1.1: `X-Amz-Target: <prefix>.<Operation>`, a JSON body each way."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from localcloud.core.codecs.base import Codec
from localcloud.core.protocol import AwsError, Request, Response, validate, validation


def from_json(shape: Shape, value: Any) -> Any:
    """JSON values as botocore's validator expects them (bytes for blobs, datetimes)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure" and isinstance(value, dict):
        return {name: from_json(shape.members[name], v) if name in shape.members else v for name, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [from_json(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_json(shape.value, v) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise validation(f"Could not decode base64 blob: {exc}") from exc
    if kind == "timestamp" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    return json.dumps(_plain(value), separators=(",", ":")).encode()


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}") from exc


def query_compatible_code(model: ServiceModel | None, error: AwsError) -> tuple[str, str] | None:
    """For `awsQueryCompatible` services: the (shape name, query-era code) botocore reads back."""
    if model is None or "awsQueryCompatible" not in model.metadata:
        return None
    shape_name = error.code
    for shape in model.error_shapes:
        if shape.metadata.get("error", {}).get("code") == error.code:
            shape_name = shape.name
    return shape_name, f"{error.code};{'Sender' if error.status < 500 else 'Receiver'}"


class JsonCodec(Codec):
    protocol = "json"

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        target = request.header("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
            raise self.unknown_operation_error(f"Operation {target!r} is not supported.")
        operation = model.operation_model(name)
        raw = load_json(request.body) if request.body else {}
        if not isinstance(raw, dict):
            raise AwsError("SerializationException", "Request body must be a JSON object.")
        params = from_json(operation.input_shape, raw) if operation.input_shape else {}
        validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        prefix, _, name = (request.header("x-amz-target") or "").rpartition(".")
        return name if prefix == model.metadata.get("targetPrefix") and name in model.operation_names else None

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        version = operation.service_model.metadata.get("jsonVersion", "1.1")
        return Response(200, {"Content-Type": f"application/x-amz-json-{version}"}, json_bytes(output or {}))

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        version = model.metadata.get("jsonVersion", "1.1") if model else "1.1"
        headers = {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-ErrorType": error.code}
        body = {"__type": error.code, "message": error.message, **error.extra}
        compatible = query_compatible_code(model, error)
        if compatible:
            shape_name, headers["x-amzn-query-error"] = compatible
            body["__type"] = f"com.amazonaws.{model.service_id.hyphenize()}#{shape_name}"  # type: ignore[union-attr]
        return Response(error.status, headers, json_bytes(body))
