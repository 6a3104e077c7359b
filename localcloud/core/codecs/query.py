"""The query protocol (STS, IAM, CloudWatch's oldest form): a form post in, XML out."""

from __future__ import annotations

import secrets
from typing import Any

from botocore.model import OperationModel, ServiceModel

from localcloud.core.codecs import form, xml
from localcloud.core.codecs.base import INVALID_TOKEN, JSON_REFUSALS, SIGNATURE_MISMATCH, Codec
from localcloud.core.codecs.values import xml_escape
from localcloud.core.protocol import AwsError, Request, Response, validate

QUERY_REFUSALS = {
    **JSON_REFUSALS,
    "missing": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    "incomplete": ("IncompleteSignature", 400, "{detail}"),
    "unknown_key": ("InvalidClientTokenId", 403, INVALID_TOKEN),
    "signature": ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
    "expired": ("SignatureDoesNotMatch", 403, "{detail}"),
    "scope": ("SignatureDoesNotMatch", 403, "{detail}"),
    "payload_hash": ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
    "presign_expired": ("SignatureDoesNotMatch", 403, "{detail}"),
    "too_large": ("RequestEntityTooLarge", 413, "{detail}"),
    "bad_request": ("MalformedQueryString", 400, "{detail}"),
    "incomplete_body": ("MalformedQueryString", 400, "{detail}"),
    "timeout": ("RequestTimeout", 408, "{detail}"),
    "denied": ("AccessDenied", 403, "{detail}"),
    "throttled": ("Throttling", 400, "Rate exceeded"),
}


def request_id() -> str:
    return secrets.token_hex(16)


class QueryCodec(Codec):
    protocol = "query"
    refusals = QUERY_REFUSALS
    unknown_operation = ("InvalidAction", 400)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        action, fields = form.read_call(request)
        if action not in model.operation_names:
            raise self.unknown_operation_error(f"Could not find operation {action} for version {model.api_version}")
        operation = model.operation_model(action)
        shape = operation.input_shape
        params = form.decode(shape, fields, "", ec2=False) if shape is not None else {}
        validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        return form.action_in_query(request)

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        namespace = operation.service_model.metadata.get("xmlNamespace", "")
        name = operation.name
        inner = ""
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
            inner = f"<{wrapper}>{xml.content(shape, output)}</{wrapper}>"
        body = (
            f'<{name}Response xmlns="{namespace}">{inner}<ResponseMetadata><RequestId>{request_id()}'
            f"</RequestId></ResponseMetadata></{name}Response>"
        )
        return Response(200, {"Content-Type": "text/xml"}, body.encode())

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        namespace = model.metadata.get("xmlNamespace", "") if model else ""
        fault = "Sender" if error.status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type><Code>{error.code}</Code>'
            f"<Message>{xml_escape(error.message)}</Message></Error><RequestId>{request_id()}</RequestId>"
            "</ErrorResponse>"
        )
        return Response(error.status, {"Content-Type": "text/xml"}, body.encode())
