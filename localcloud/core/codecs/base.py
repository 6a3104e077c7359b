"""What every codec does, and the words each protocol (and a few services) use to refuse a request at the door."""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.model import OperationModel, ServiceModel

from localcloud.core.protocol import AwsError, Request, Response

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."

# Why the front door refuses a request, with the code, status and message AWS's JSON
# services answer; each codec overrides the codes its protocol uses instead. `{detail}` is
# filled with what the door found (the dates of an expired signature, a region's name...).
JSON_REFUSALS: dict[str, tuple[str, int, str]] = {
    "missing": ("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
    "incomplete": ("IncompleteSignatureException", 400, "{detail}"),
    "unknown_key": ("UnrecognizedClientException", 403, INVALID_TOKEN),
    "signature": ("InvalidSignatureException", 403, SIGNATURE_MISMATCH),
    "expired": ("InvalidSignatureException", 403, "{detail}"),
    "scope": ("InvalidSignatureException", 403, "{detail}"),
    "payload_hash": ("InvalidSignatureException", 403, SIGNATURE_MISMATCH),
    "presign_expired": ("InvalidSignatureException", 403, "{detail}"),
    "too_large": ("RequestEntityTooLargeException", 413, "{detail}"),
    "bad_request": ("SerializationException", 400, "{detail}"),
    "incomplete_body": ("SerializationException", 400, "{detail}"),
    "timeout": ("RequestTimeoutException", 408, "{detail}"),
    "denied": ("AccessDeniedException", 400, "{detail}"),
    "throttled": ("ThrottlingException", 400, "Rate exceeded"),
}

# Where a service answers a refusal in other words than its protocol's, by the endpoint prefix of its model:
# (code, status, message, extra members of the error).
SERVICE_REFUSALS: dict[str, dict[str, tuple[str, int, str, dict[str, str]]]] = {
    # Lambda's model: TooManyRequestsException is a 429 whose Reason says which limit was hit, and a body over
    # the limit is its RequestTooLargeException (413). AWS's front door has been seen to answer the same words
    # as RequestEntityTooLargeException, a code botocore's model does not know.
    "lambda": {
        "throttled": ("TooManyRequestsException", 429, "Rate Exceeded.", {"Reason": "CallerRateLimitExceeded"}),
        "too_large": ("RequestTooLargeException", 413, "{detail}", {}),
    },
    # SageMaker Runtime's model has no size error: an oversize body is its ValidationError (400).
    "runtime.sagemaker": {"too_large": ("ValidationError", 400, "{detail}", {})},
    # CloudWatch keeps its query-era codes in all three of its protocols (awsQueryCompatible).
    "monitoring": {
        "too_large": ("RequestEntityTooLarge", 413, "{detail}", {}),
        "throttled": ("Throttling", 400, "Rate exceeded", {}),
    },
}


class Codec:
    """One wire protocol: request → (operation, params), output → response, error → response."""

    protocol: ClassVar[str]
    refusals: ClassVar[dict[str, tuple[str, int, str]]] = JSON_REFUSALS
    unknown_operation: ClassVar[tuple[str, int]] = ("UnknownOperationException", 400)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        raise NotImplementedError

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        raise NotImplementedError

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        raise NotImplementedError

    def refuse(self, reason: str, detail: str, model: ServiceModel | None, request: Request) -> Response:
        """The answer AWS gives in this protocol (or the service its own) when the door refuses for `reason`."""
        prefix = model.metadata.get("endpointPrefix", "") if model is not None else ""
        own = SERVICE_REFUSALS.get(prefix, {}).get(reason)
        code, status, message, extra = own or (*self.refusals[reason], {})
        return self.error(AwsError(code, message.format(detail=detail), status, **extra), model, request)

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        """The operation a request calls, read from its head alone (the body is not read yet), if the
        protocol puts it there."""
        return None

    def not_implemented(self, operation: str, service: str) -> AwsError:
        code, status = self.unknown_operation
        return AwsError(code, f"localcloud does not implement {service} {operation}", status)

    def unknown_operation_error(self, what: str) -> AwsError:
        code, status = self.unknown_operation
        return AwsError(code, what, status)
