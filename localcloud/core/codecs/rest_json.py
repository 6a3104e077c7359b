"""REST-JSON (Lambda, SageMaker Runtime): operations by method and path, members bound to
the URI, query string and headers, the rest (or one payload member) in the body."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from localcloud.core.codecs import rest
from localcloud.core.codecs.base import JSON_REFUSALS, Codec
from localcloud.core.codecs.json import from_json, json_bytes, load_json
from localcloud.core.protocol import AwsError, Request, Response, validate


class RestJsonCodec(Codec):
    protocol = "rest-json"
    refusals = {**JSON_REFUSALS, "denied": ("AccessDeniedException", 403, "{detail}")}  # Lambda's is a 403
    unknown_operation = ("UnknownOperationException", 404)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        operation, labels, query = rest.route(model, request)
        shape = operation.input_shape
        if shape is None:
            return operation, {}
        params, body_members = rest.bound_members(shape, labels, query, request)
        payload_name = shape.serialization.get("payload")
        if payload_name is not None:
            member = shape.members[payload_name]
            if member.type_name == "blob":
                params[payload_name] = request.body
            elif request.body:
                params[payload_name] = from_json(member, load_json(request.body))
        elif body_members and request.body:
            raw = load_json(request.body)
            if not isinstance(raw, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object.")
            for name, member in body_members.items():
                if name in raw:
                    params[name] = from_json(member, raw[name])
        validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        return rest.operation_in_head(model, request)

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        response = rest.start_response(operation, output)
        shape = operation.output_shape
        if shape is None:
            return response
        payload_name = shape.serialization.get("payload")
        if payload_name is not None:
            value = output.get(payload_name)
            if value is not None:
                response.body = value if isinstance(value, bytes) else json_bytes(value)
            return response
        body = {
            name: value
            for name, value in output.items()
            if value is not None and name in shape.members and "location" not in shape.members[name].serialization
        }
        response.body = json_bytes(body)
        response.headers["Content-Type"] = "application/json"
        return response

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        body = {"message": error.message, "Type": "User" if error.status < 500 else "Service", **error.extra}
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}
        return Response(error.status, headers, json_bytes(body))
