"""AWS errors become messages a person can act on, with AWS's code kept for callers."""

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from services.core.errors import from_client_error


def client_error(code: str, message: str = "", **extra: object) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, **extra}
    return ClientError(response, "InvokeEndpoint")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ValidationError", "refused as invalid: Endpoint nope of account 123456789012 not found."),
        ("ResourceNotFoundException", "not found"),
        ("ThrottlingException", "throttled"),
        ("TooManyRequestsException", "throttled"),
        ("RequestEntityTooLargeException", "6 MB payload limit"),
        ("AccessDeniedException", "access denied"),
        ("ExpiredToken", "credentials have expired"),
        ("UnrecognizedClientException", "credentials were rejected"),
    ],
)
def test_client_error_codes(code: str, expected: str) -> None:
    error = from_client_error(
        client_error(code, "Endpoint nope of account 123456789012 not found."), what="call endpoint 'nope'"
    )
    assert expected in error.message
    assert error.code == code


def test_model_error_uses_the_models_own_message() -> None:
    exc = client_error(
        "ModelError",
        "Received client error (400) from primary with message ...",
        OriginalStatusCode=400,
        OriginalMessage='{"message": "cannot identify image file"}',
    )
    error = from_client_error(exc, what="call endpoint 'dog-breed-classifier'")
    assert error.code == "ModelError"
    assert "cannot identify image file" in error.message
    assert "status 400" in error.message


def test_unreachable_cloud_names_the_url_and_how_to_start_localcloud() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/endpoints/x/invocations")
    error = from_client_error(exc, what="call endpoint 'x'")
    assert "unreachable at http://127.0.0.1:4566." in error.message
    assert "./dev run" in error.message
    assert error.code == "Unreachable"
    timeout = from_client_error(ConnectTimeoutError(endpoint_url="http://10.0.0.1:4566/"), what="list endpoints")
    assert timeout.message == error.message.replace("127.0.0.1", "10.0.0.1")


def test_read_timeout_and_credential_problems() -> None:
    assert "no answer" in from_client_error(ReadTimeoutError(endpoint_url="http://h/"), what="x").message
    assert "No AWS credentials" in from_client_error(NoCredentialsError(), what="x").message
    assert "'ops'" in from_client_error(ProfileNotFound(profile="ops"), what="x").message


def test_access_key_ids_are_never_echoed() -> None:
    exc = client_error("AccessDenied", "User AKIAIOSFODNN7EXAMPLE is not authorized")
    message = from_client_error(exc, what="list functions").message
    assert "AKIAIOSFODNN7EXAMPLE" not in message
    assert "<access key>" in message
