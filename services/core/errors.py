"""One exception type for everything a page shows to a person, and the translation of AWS errors into it.

Pages catch `ServiceError` and show `.message`; they never see botocore exceptions or tracebacks.
"""

import re
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

BOTO_ERRORS = (ClientError, BotoCoreError)
"""What a boto3 call can raise; catch these and pass them to `from_client_error`."""

_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")

_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown"}
_TOO_LARGE = {"RequestEntityTooLargeException", "RequestEntityTooLarge"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_UNKNOWN_KEY = {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure"}
_BAD_SIGNATURE = {"SignatureDoesNotMatch", "InvalidSignatureException"}
_SKEWED = {"RequestTimeTooSkewed"}
_LOCALCLOUD_KEYS = "On localcloud, sign with the profile it writes to .localcloud/aws/ (`./dev run` does)."
_NOT_FOUND = {"ResourceNotFoundException", "ResourceNotFound", "NoSuchBucket", "NoSuchKey"}
_SERVER_SIDE = {"InternalFailure", "InternalServerError", "ServiceUnavailable", "ServiceException"}


class ServiceError(Exception):
    """A failure explained for a person: `message` says what happened and what to do next."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def redact(text: str) -> str:
    """Hide AWS access key IDs, which some error texts echo back."""
    return _ACCESS_KEY.sub("<access key>", text)


def _base_url(url: str | None) -> str:
    """Scheme and host of a request URL: the part an operator recognises from the settings."""
    if not url:
        return "the configured endpoint"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def from_client_error(exc: ClientError | BotoCoreError, *, what: str) -> ServiceError:
    """Translate a botocore error raised while trying to `what` (e.g. "call endpoint 'x'").

    Codes are AWS's, so the same message appears whether the cloud is AWS or localcloud. Problems with
    the connection or the credentials do not mention `what`: they affect every call alike, and the
    same text lets a page show them once.
    """
    if isinstance(exc, ClientError):
        return _from_response(exc, what)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        where = _base_url(exc.kwargs.get("endpoint_url"))
        return ServiceError(
            f"The cloud is down or unreachable at {where}. Is localcloud running? "
            "`./dev run` starts it; for AWS, check the endpoint URL in the sidebar and your network.",
            code="Unreachable",
        )
    if isinstance(exc, ReadTimeoutError):
        return ServiceError(
            f"Could not {what}: no answer within the read timeout. The model may be overloaded or still "
            "starting; try again in a moment.",
            code="Timeout",
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ServiceError(
            "No AWS credentials found. Choose a profile in the sidebar or set AWS_PROFILE; "
            "`./dev run` sets local credentials for localcloud.",
            code="NoCredentials",
        )
    if isinstance(exc, ProfileNotFound):
        return ServiceError(
            f"AWS profile '{exc.kwargs.get('profile')}' is not in ~/.aws/config. "
            "Fix the profile name in the sidebar or leave it empty.",
            code="ProfileNotFound",
        )
    return ServiceError(f"Could not {what}: {redact(str(exc))}", code=type(exc).__name__)


def _from_response(exc: ClientError, what: str) -> ServiceError:
    error = exc.response.get("Error", {})
    code = error.get("Code") or "Unknown"
    aws_message = redact(error.get("Message") or "")
    if code == "ModelError":
        original = redact(str(exc.response.get("OriginalMessage") or aws_message))
        status = exc.response.get("OriginalStatusCode")
        from_model = f" (status {status})" if status else ""
        return ServiceError(f"The model could not handle this input{from_model}: {original}", code=code)
    if code in _EXPIRED:
        return ServiceError(
            "The AWS credentials have expired. Refresh them (for example `aws sso login`) and reload.", code=code
        )
    if code in _SKEWED or aws_message.startswith(("Signature expired", "Signature not yet current")):
        return ServiceError(
            "The AWS credentials were rejected: the request's signature is more than 15 minutes off the cloud's "
            "clock. Check this machine's clock.",
            code=code,
        )
    if code in _BAD_SIGNATURE:
        return ServiceError(
            "The AWS credentials were rejected: the signature did not check out, so the secret access key does "
            f"not belong to the access key in use. Check the profile or keys. {_LOCALCLOUD_KEYS}",
            code=code,
        )
    if code in _UNKNOWN_KEY:
        return ServiceError(
            f"The AWS credentials were rejected: this cloud does not know the access key in use. {_LOCALCLOUD_KEYS}",
            code=code,
        )
    if code in _THROTTLED:
        message = "too many requests right now (throttled). Wait a moment and try again, or raise the limit."
    elif code in _TOO_LARGE:
        message = "the request is larger than the 6 MB payload limit. Send a smaller image."
    elif code in _DENIED:
        message = f"access denied for the credentials in use ({aws_message}). Check the profile's IAM policy."
    elif code in _NOT_FOUND:
        message = f"not found ({aws_message}). Check the name; the Overview page lists what exists."
    elif code in {"ValidationError", "ValidationException"}:
        message = f"the request was refused as invalid: {aws_message}"
    elif code in _SERVER_SIDE:
        message = f"the service had an internal error ({aws_message}). Try again in a moment."
    else:
        message = f"{code}: {aws_message}" if aws_message else code
    return ServiceError(f"Could not {what}: {message}", code=code)
