import base64
import importlib
import io
import json
from collections.abc import Iterator
from types import ModuleType

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

ANSWER = {"predictions": [{"label": "beagle", "score": 0.9}], "is_dog": True, "dog_score": 0.95}


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Stubber]]:
    """The Lambda module with its module-level sagemaker-runtime client under a botocore Stubber."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ENDPOINT_NAME", "breeds")
    module = importlib.import_module("classifier.serving.lambda_function")
    with Stubber(module.sagemaker_runtime) as stubber:
        yield module, stubber
        stubber.assert_no_pending_responses()


def ok_response() -> dict:
    body = json.dumps(ANSWER).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def test_url_event_is_forwarded_as_json(handler_module) -> None:
    module, stubber = handler_module
    stubber.add_response(
        "invoke_endpoint",
        ok_response(),
        {
            "EndpointName": "breeds",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps({"url": "https://example.org/d.jpg"}).encode(),
        },
    )
    result = module.lambda_handler({"url": "https://example.org/d.jpg"}, None)
    assert result == {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(ANSWER)}


def test_image_event_is_forwarded_as_raw_bytes(handler_module, capsys: pytest.CaptureFixture) -> None:
    module, stubber = handler_module
    stubber.add_response(
        "invoke_endpoint",
        ok_response(),
        {
            "EndpointName": "breeds",
            "ContentType": "application/x-image",
            "Accept": "application/json",
            "Body": b"\xff\xd8JPEG",
        },
    )
    result = module.lambda_handler({"image": base64.b64encode(b"\xff\xd8JPEG").decode()}, None)
    assert result["statusCode"] == 200
    log = capsys.readouterr().out
    assert "status=200" in log and "image:6B" in log and "/9j" not in log  # the image itself is never logged


@pytest.mark.parametrize("base64_body", [False, True])
def test_api_gateway_proxy_event(handler_module, base64_body: bool) -> None:
    module, stubber = handler_module
    stubber.add_response(
        "invoke_endpoint",
        ok_response(),
        {"EndpointName": "breeds", "ContentType": "application/json", "Accept": ANY, "Body": ANY},
    )
    body = json.dumps({"url": "https://example.org/d.jpg"})
    if base64_body:
        body = base64.b64encode(body.encode()).decode()
    event = {"httpMethod": "POST", "body": body, "isBase64Encoded": base64_body}
    assert module.lambda_handler(event, None)["statusCode"] == 200


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, 'needs "url"'),
        ([1, 2], "must be a JSON object"),
        ({"image": "@@@"}, "not valid base64"),
        ({"body": "{oops", "isBase64Encoded": False}, "not valid JSON"),
        ({"body": None}, "not valid JSON"),
    ],
)
def test_bad_events_are_400(handler_module, event, message: str) -> None:
    module, _ = handler_module
    result = module.lambda_handler(event, None)
    assert result["statusCode"] == 400
    assert message in json.loads(result["body"])["message"]


def test_model_4xx_becomes_400_with_the_models_message(handler_module) -> None:
    module, stubber = handler_module
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400) from primary",
        424,
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": json.dumps({"message": "The file is empty."})},
    )
    result = module.lambda_handler({"url": "https://example.org/empty.jpg"}, None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"]) == {"message": "The file is empty."}


def test_model_5xx_is_502(handler_module) -> None:
    module, stubber = handler_module
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "server error",
        424,
        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "boom"},
    )
    result = module.lambda_handler({"url": "https://example.org/d.jpg"}, None)
    assert result["statusCode"] == 502 and "boom" in json.loads(result["body"])["message"]


def test_unknown_endpoint_is_502(handler_module) -> None:
    module, stubber = handler_module
    stubber.add_client_error(
        "invoke_endpoint", "ValidationError", "Endpoint breeds of account 123456789012 not found.", 400
    )
    result = module.lambda_handler({"url": "https://example.org/d.jpg"}, None)
    assert result["statusCode"] == 502
    assert json.loads(result["body"])["message"].startswith("Endpoint 'breeds' not found")


def test_other_client_errors_are_502(handler_module) -> None:
    module, stubber = handler_module
    stubber.add_client_error("invoke_endpoint", "ServiceUnavailable", "try later", 503)
    result = module.lambda_handler({"url": "https://example.org/d.jpg"}, None)
    assert result["statusCode"] == 502 and "try later" in json.loads(result["body"])["message"]
