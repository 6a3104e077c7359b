"""EC2's own query dialect: `Name.N` list items and `queryName`s in, `<item>` lists out,
errors as `<Response><Errors><Error>`."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from localcloud.core.codecs import form, xml
from localcloud.core.codecs.base import Codec
from localcloud.core.codecs.query import QUERY_REFUSALS, request_id
from localcloud.core.codecs.values import xml_escape
from localcloud.core.protocol import AwsError, Request, Response, validate

# EC2 answers both an unknown key and a wrong signature with AuthFailure (HTTP 401), and a
# stale one with RequestExpired (EC2's common client errors).
AUTH_FAILURE = ("AuthFailure", 401, "AWS was not able to validate the provided access credentials")
EC2_REFUSALS = {
    **QUERY_REFUSALS,
    "unknown_key": AUTH_FAILURE,
    "signature": AUTH_FAILURE,
    "payload_hash": AUTH_FAILURE,
    "scope": AUTH_FAILURE,
    "expired": ("RequestExpired", 400, "Request has expired. {detail}"),
    "presign_expired": ("RequestExpired", 400, "Request has expired. {detail}"),
    "denied": ("UnauthorizedOperation", 403, "You are not authorized to perform this operation. {detail}"),
    "throttled": ("RequestLimitExceeded", 503, "Request limit exceeded."),
}


class Ec2Codec(Codec):
    protocol = "ec2"
    refusals = EC2_REFUSALS
    unknown_operation = ("InvalidAction", 400)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        action, fields = form.read_call(request)
        if action not in model.operation_names:
            raise self.unknown_operation_error(f"The action {action} is not valid for this web service.")
        operation = model.operation_model(action)
        shape = operation.input_shape
        params: dict[str, Any] = form.decode(shape, fields, "", ec2=True) if shape is not None else {}
        for name in shape.required_members if shape is not None else []:
            if name not in params:
                raise AwsError("MissingParameter", f"The request must contain the parameter {name}", 400)
        validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        return form.action_in_query(request)

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        namespace = operation.service_model.metadata.get("xmlNamespace", "").rstrip("/") + "/"
        shape = operation.output_shape
        inner = xml.content(shape, output, ec2=True) if shape is not None else "<return>true</return>"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation.name}Response xmlns="{namespace}">'
            f"<requestId>{request_id()}</requestId>{inner}</{operation.name}Response>"
        )
        return Response(200, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode())

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{error.code}</Code>'
            f"<Message>{xml_escape(error.message)}</Message></Error></Errors>"
            f"<RequestID>{request_id()}</RequestID></Response>"
        )
        return Response(error.status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode())
