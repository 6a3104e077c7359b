"""REST-XML (S3, path-style): routed like REST-JSON; payloads are raw bytes or XML documents."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from localcloud.core import chunked
from localcloud.core.codecs import rest, xml
from localcloud.core.codecs.base import SIGNATURE_MISMATCH, Codec
from localcloud.core.codecs.limits import S3_SINGLE_PUT_BYTES
from localcloud.core.codecs.values import to_text, xml_escape
from localcloud.core.protocol import AwsError, Request, Response, validate

S3_REFUSALS = {
    "missing": ("AccessDenied", 403, "Access Denied"),
    "incomplete": ("AuthorizationHeaderMalformed", 400, "{detail}"),
    "unknown_key": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
    "signature": ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
    "expired": (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large. {detail}",
    ),
    "scope": ("AuthorizationHeaderMalformed", 400, "{detail}"),
    "presign_expired": ("AccessDenied", 403, "Request has expired"),
    "denied": ("AccessDenied", 403, "{detail}"),
    "payload_hash": (
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    "too_large": ("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"),
    "bad_request": ("InvalidRequest", 400, "{detail}"),
    "incomplete_body": (
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    "timeout": (
        "RequestTimeout",
        400,
        "Your socket connection to the server was not read from or written to "
        "within the timeout period. Idle connections will be closed.",
    ),
    "throttled": ("SlowDown", 503, "Please reduce your request rate."),
}

# The document element S3 answers with; botocore's JSON models drop Smithy's @xmlName, so the
# names are written here (from S3's API reference). Others fall back to <Shape>Result.
ROOT_ELEMENTS = {
    "ListObjectsV2Output": "ListBucketResult",
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "CreateMultipartUploadOutput": "InitiateMultipartUploadResult",
    "CompleteMultipartUploadOutput": "CompleteMultipartUploadResult",
    "DeleteObjectsOutput": "DeleteResult",
    "GetBucketLocationOutput": "LocationConstraint",
}
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


_NOT_ALLOWED = "The specified method is not allowed against this resource."


class RestXmlCodec(Codec):
    protocol = "rest-xml"
    refusals = S3_REFUSALS
    unknown_operation = ("NotImplemented", 501)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        try:
            operation, labels, query = rest.route(model, request)
        except AwsError as exc:  # no operation of the model at this method and path: S3's answer
            raise AwsError(
                "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
            ) from exc
        shape = operation.input_shape
        if shape is None:
            return operation, {}
        params, _ = rest.bound_members(shape, labels, query, request)
        payload_name = shape.serialization.get("payload")
        if payload_name is not None:
            member = shape.members[payload_name]
            if member.type_name == "blob":
                params[payload_name] = (
                    chunked.decode(request.body) if chunked.is_chunked(request.headers) else (request.body)
                )
            elif request.body:
                params[payload_name] = xml.parse(member, request.body)
        validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        return rest.operation_in_head(model, request)

    def refuse(self, reason: str, detail: str, model: ServiceModel | None, request: Request) -> Response:
        """S3 names both sizes of an upload it refuses as too large, in elements of their own."""
        if reason != "too_large":
            return super().refuse(reason, detail, model, request)
        code, status, message = self.refusals[reason]
        sizes = {"ProposedSize": request.header("content-length", ""), "MaxSizeAllowed": S3_SINGLE_PUT_BYTES}
        return self.error(AwsError(code, message, status, **sizes), model, request)

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        response = rest.start_response(operation, output)
        shape = operation.output_shape
        if shape is None:
            return response
        payload_name = shape.serialization.get("payload")
        if payload_name is not None:
            value = output.get(payload_name)
            member = shape.members[payload_name]
            if member.type_name == "structure" and isinstance(value, dict):  # a document (CopyObjectResult)
                root = member.serialization.get("name", payload_name)
                inner = xml.content(member, value)
                response.body = (
                    f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{S3_NAMESPACE}">{inner}</{root}>'.encode()
                )
                response.headers["Content-Type"] = "application/xml"
                return response
            response.body = value if isinstance(value, bytes) else b""
            return response
        body_members = {
            name: member
            for name, member in shape.members.items()
            if "location" not in member.serialization and output.get(name) is not None
        }
        if not body_members:
            return response
        root = ROOT_ELEMENTS.get(shape.name, shape.name.removesuffix("Output") + "Result")
        if list(body_members) == [root]:  # the document element is the value (GetBucketLocation)
            inner = xml_escape(to_text(body_members[root], output[root]))
        else:
            inner = xml.content(shape, output)
        response.body = (
            f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{S3_NAMESPACE}">{inner}</{root}>'
        ).encode()
        response.headers["Content-Type"] = "application/xml"
        return response

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        if request.method == "HEAD":  # HEAD answers carry no body
            return Response(error.status)
        extra = "".join(f"<{k}>{xml_escape(str(v))}</{k}>" for k, v in error.extra.items())
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{error.code}</Code>'
            f"<Message>{xml_escape(error.message)}</Message>{extra}<RequestId>localcloud</RequestId></Error>"
        )
        return Response(error.status, {"Content-Type": "application/xml"}, body.encode())
