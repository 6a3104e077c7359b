"""Request shapes for both paths (checked with botocore's Stubber), answer parsing and error handling."""

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from PIL import Image

from services.core.errors import ServiceError
from services.serving.photo_checks import MAX_PAYLOAD_BYTES
from services.serving.prediction import (
    BreedScore,
    PredictionService,
    parse_answer,
    udacity_labels,
)

OUR_ANSWER = {
    "predictions": [
        {"label": "Afghan_hound", "score": 0.91},
        {"label": "Saluki", "score": 0.05},
        {"label": "Borzoi", "score": 0.02},
    ],
    "is_dog": True,
    "dog_score": 0.97,
    "model": "dog-breed-efficientnet-lite0",
    "model_latency_ms": {"total": 9.5},
}
REPORT = (
    "START RequestId: 1f0c Version: $LATEST\n"
    "END RequestId: 1f0c\n"
    "REPORT RequestId: 1f0c\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 120 MB\tInit Duration: 450.00 ms\t\n"
)


def body(payload: object) -> StreamingBody:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def api_response(status: int, payload: object) -> dict[str, object]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(payload)}


class Clients:
    def __init__(self, session: boto3.Session) -> None:
        self.runtime = session.client("sagemaker-runtime")
        self.lambda_ = session.client("lambda")
        self.sagemaker = session.client("sagemaker")
        self.stubs = [Stubber(self.runtime), Stubber(self.lambda_), Stubber(self.sagemaker)]
        self.runtime_stub, self.lambda_stub, self.sagemaker_stub = self.stubs
        self.service = PredictionService(
            runtime_client=self.runtime, lambda_client=self.lambda_, sagemaker_client=self.sagemaker
        )


@pytest.fixture
def clients(boto3_session: boto3.Session) -> Iterator[Clients]:
    stubbed = Clients(boto3_session)
    for stub in stubbed.stubs:
        stub.activate()
    yield stubbed
    for stub in stubbed.stubs:
        stub.assert_no_pending_responses()
        stub.deactivate()


# --- the endpoint path -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "application/x-image")]
)
def test_endpoint_request_carries_the_image_and_its_type(
    clients: Clients, dog_jpeg: bytes, format: str, content_type: str
) -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(dog_jpeg)).save(buffer, format=format)
    data = buffer.getvalue()
    clients.runtime_stub.add_response(
        "invoke_endpoint",
        {"Body": body(OUR_ANSWER), "ContentType": "application/json"},
        {
            "EndpointName": "dog-breed-classifier",
            "ContentType": content_type,
            "Accept": "application/json",
            "Body": data,
        },
    )
    prediction = clients.service.predict_image(data, via="endpoint", target="dog-breed-classifier")
    assert prediction.breeds[0] == BreedScore("Afghan_hound", 0.91)
    assert (prediction.is_dog, prediction.dog_score, prediction.model) == (True, 0.97, "dog-breed-efficientnet-lite0")
    assert prediction.model_ms == 9.5
    assert prediction.round_trip_ms > 0
    assert (prediction.via, prediction.target, prediction.note) == ("endpoint", "dog-breed-classifier", None)


def test_endpoint_url_request_is_json(clients: Clients) -> None:
    url = "https://upload.wikimedia.org/dog.jpg"
    clients.runtime_stub.add_response(
        "invoke_endpoint",
        {"Body": body(OUR_ANSWER)},
        {
            "EndpointName": "dog-breed-classifier",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps({"url": url}).encode(),
        },
    )
    assert clients.service.predict_url(url, via="endpoint", target="dog-breed-classifier").breeds


def test_oversized_photo_reaches_the_endpoint_downsized(clients: Clients, big_photo: bytes) -> None:
    clients.runtime_stub.add_response("invoke_endpoint", {"Body": body(OUR_ANSWER)})
    prediction = clients.service.predict_image(big_photo, via="endpoint", target="dog-breed-classifier")
    assert prediction.note is not None and "6 MB payload limit" in prediction.note


def test_an_input_the_endpoint_refuses_says_so(clients: Clients, dog_jpeg: bytes) -> None:
    clients.runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error (400) from primary",
        http_status_code=424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "image file is truncated"},
    )
    with pytest.raises(ServiceError) as caught:
        clients.service.predict_image(dog_jpeg, via="endpoint", target="dog-breed-classifier")
    assert caught.value.message == "Endpoint 'dog-breed-classifier' refused the request (400): image file is truncated"
    assert caught.value.code == "Refused"


@pytest.mark.parametrize(
    "original",
    [
        "Refusing to fetch http://127.0.0.1:4599/x: 127.0.0.1 is a loopback address.",
        # A TorchServe-style container wraps the handler's message in JSON.
        json.dumps(
            {
                "code": 400,
                "type": "FetchError",
                "message": "Refusing to fetch http://127.0.0.1:4599/x: 127.0.0.1 is a loopback address.",
            }
        ),
    ],
)
def test_a_refused_url_blames_the_guard_not_the_model(clients: Clients, original: str) -> None:
    """Our SSRF guard refusing a private address is not the model failing: say what was refused and why."""
    clients.runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error (400) from primary",
        http_status_code=424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": original},
    )
    with pytest.raises(ServiceError) as caught:
        clients.service.predict_url("http://127.0.0.1:4599/x", via="endpoint", target="dog-breed-classifier")
    assert caught.value.message == (
        "Endpoint 'dog-breed-classifier' refused the request (400): "
        "Refusing to fetch http://127.0.0.1:4599/x: 127.0.0.1 is a loopback address."
    )
    assert "model" not in caught.value.message


def test_a_model_crash_is_still_the_models_failure(clients: Clients, dog_jpeg: bytes) -> None:
    clients.runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received server error (500) from primary",
        http_status_code=424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "worker died"},
    )
    with pytest.raises(ServiceError, match=r"The model could not handle this input \(status 500\): worker died"):
        clients.service.predict_image(dog_jpeg, via="endpoint", target="dog-breed-classifier")


def test_unknown_endpoint_is_explained(clients: Clients, dog_jpeg: bytes) -> None:
    clients.runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message="Endpoint nope of account 000000000000 not found.",
        http_status_code=400,
    )
    with pytest.raises(ServiceError, match="Could not call endpoint 'nope'.*not found"):
        clients.service.predict_image(dog_jpeg, via="endpoint", target="nope")


# --- the Lambda path ---------------------------------------------------------------------------


def test_lambda_request_is_base64_event_with_log_tail(clients: Clients, dog_jpeg: bytes) -> None:
    event = {"image": base64.b64encode(dog_jpeg).decode()}
    clients.lambda_stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "LogResult": base64.b64encode(REPORT.encode()).decode(),
            "Payload": body(api_response(200, OUR_ANSWER)),
        },
        {
            "FunctionName": "dog-breed-predict",
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "Payload": json.dumps(event).encode(),
        },
    )
    before = datetime.now(UTC)
    prediction = clients.service.predict_image(dog_jpeg, via="lambda", target="dog-breed-predict")
    assert prediction.breeds[0].label == "Afghan_hound"
    assert prediction.model_ms == 12.34  # Duration, not Billed or Init Duration
    assert prediction.init_ms == 450.0  # a cold start: the REPORT line carries Init Duration
    assert before <= prediction.measured_at <= datetime.now(UTC)
    assert (prediction.via, prediction.target) == ("lambda", "dog-breed-predict")


def test_lambda_url_event(clients: Clients) -> None:
    url = "http://example.com/dog.png"
    clients.lambda_stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": body(api_response(200, OUR_ANSWER))},
        {
            "FunctionName": "dog-breed-predict",
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "Payload": json.dumps({"url": url}).encode(),
        },
    )
    prediction = clients.service.predict_url(url, via="lambda", target="dog-breed-predict")
    assert prediction.model_ms is None  # no log tail: no duration, not a made-up one
    assert prediction.init_ms is None


def test_a_warm_call_has_no_init_duration(clients: Clients, dog_jpeg: bytes) -> None:
    warm = REPORT.replace("Init Duration: 450.00 ms\t", "")
    clients.lambda_stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "LogResult": base64.b64encode(warm.encode()).decode(),
            "Payload": body(api_response(200, OUR_ANSWER)),
        },
    )
    prediction = clients.service.predict_image(dog_jpeg, via="lambda", target="dog-breed-predict")
    assert (prediction.model_ms, prediction.init_ms) == (12.34, None)


def test_oversized_photo_fits_lambdas_payload_after_base64(clients: Clients, big_photo: bytes) -> None:
    sent: dict[str, object] = {}
    clients.lambda_.meta.events.register("provide-client-params.lambda.Invoke", lambda params, **_: sent.update(params))
    clients.lambda_stub.add_response("invoke", {"StatusCode": 200, "Payload": body(api_response(200, OUR_ANSWER))})
    prediction = clients.service.predict_image(big_photo, via="lambda", target="dog-breed-predict")
    assert prediction.note is not None and "Lambda's 6 MB payload limit" in prediction.note
    assert len(sent["Payload"]) <= MAX_PAYLOAD_BYTES


def test_handler_crash_is_reported_with_its_message(clients: Clients, dog_jpeg: bytes) -> None:
    clients.lambda_stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": body({"errorMessage": "Task timed out after 3.00 seconds", "errorType": "Sandbox.Timedout"}),
        },
    )
    with pytest.raises(ServiceError, match="Task timed out after 3.00 seconds") as caught:
        clients.service.predict_image(dog_jpeg, via="lambda", target="dog-breed-predict")
    assert caught.value.code == "FunctionError"


def test_handler_refusal_shows_the_body_message(clients: Clients) -> None:
    refusal = {"message": "refusing to fetch a private address: 10.0.0.1"}
    clients.lambda_stub.add_response("invoke", {"StatusCode": 200, "Payload": body(api_response(400, refusal))})
    with pytest.raises(ServiceError, match=r"refused the request \(400\): refusing to fetch a private address"):
        clients.service.predict_url("http://10.0.0.1/dog.jpg", via="lambda", target="dog-breed-predict")


def test_unknown_function_is_explained(clients: Clients, dog_jpeg: bytes) -> None:
    clients.lambda_stub.add_client_error(
        "invoke",
        service_error_code="ResourceNotFoundException",
        service_message="Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
        http_status_code=404,
    )
    with pytest.raises(ServiceError, match="Could not invoke function 'nope': not found"):
        clients.service.predict_image(dog_jpeg, via="lambda", target="nope")


def test_throttled_invoke_says_to_wait(clients: Clients, dog_jpeg: bytes) -> None:
    clients.lambda_stub.add_client_error(
        "invoke", service_error_code="TooManyRequestsException", service_message="Rate exceeded", http_status_code=429
    )
    with pytest.raises(ServiceError, match="throttled"):
        clients.service.predict_image(dog_jpeg, via="lambda", target="dog-breed-predict")


# --- input validated before any call (the stubs have no responses queued: a call would fail) ---


@pytest.mark.parametrize(
    "url",
    ["", "ftp://example.com/dog.jpg", "file:///etc/passwd", "example.com/dog.jpg", "http:///dog.jpg", "http://[::1"],
)
def test_bad_urls_are_refused_before_any_call(clients: Clients, url: str) -> None:
    with pytest.raises(ServiceError, match="not an http"):
        clients.service.predict_url(url, via="lambda", target="dog-breed-predict")


@pytest.mark.parametrize(
    ("via", "target"), [("endpoint", ""), ("endpoint", "bad_name!"), ("lambda", "no spaces"), ("lambda", "")]
)
def test_bad_targets_are_refused_before_any_call(clients: Clients, dog_jpeg: bytes, via: str, target: str) -> None:
    with pytest.raises(ServiceError, match="not a valid"):
        clients.service.predict_image(dog_jpeg, via=via, target=target)


def test_bad_image_is_refused_before_any_call(clients: Clients) -> None:
    with pytest.raises(ServiceError, match="empty"):
        clients.service.predict_image(b"", via="endpoint", target="dog-breed-classifier")


# --- answer formats ----------------------------------------------------------------------------


def test_our_answer_format() -> None:
    answer = parse_answer(OUR_ANSWER)
    assert [b.label for b in answer.breeds] == ["Afghan_hound", "Saluki", "Borzoi"]
    assert (answer.is_dog, answer.dog_score, answer.model, answer.model_ms) == (
        True,
        0.97,
        "dog-breed-efficientnet-lite0",
        9.5,
    )


def test_not_a_dog_answer() -> None:
    answer = parse_answer({"predictions": [{"label": "Chihuahua", "score": 0.1}], "is_dog": False, "dog_score": 0.04})
    assert (answer.is_dog, answer.dog_score, answer.model, answer.model_ms) == (False, 0.04, None, None)


def test_original_projects_logits_become_top5_udacity_breeds() -> None:
    logits = [0.0] * 133
    logits[1], logits[132], logits[0] = 9.0, 8.0, 7.0  # class folders 002, 133, 001
    answer = parse_answer([logits])
    assert [b.label for b in answer.breeds[:3]] == ["Afghan_hound", "Yorkshire_terrier", "Affenpinscher"]
    assert len(answer.breeds) == 5
    assert answer.breeds[0].score == pytest.approx(0.66, abs=0.01)
    assert (answer.is_dog, answer.dog_score, answer.model) == (None, None, None)


def test_class_list_matches_the_shared_dataset() -> None:
    labels = udacity_labels()
    assert (len(labels), labels[0], labels[132]) == (133, "Affenpinscher", "Yorkshire_terrier")


def test_original_lambda_body_through_lambda(clients: Clients, dog_jpeg: bytes) -> None:
    logits = [[float(i == 41) * 10 for i in range(133)]]
    clients.lambda_stub.add_response("invoke", {"StatusCode": 200, "Payload": body(api_response(200, logits))})
    prediction = clients.service.predict_image(dog_jpeg, via="lambda", target="dog-breed-predict")
    assert prediction.breeds[0].label == udacity_labels()[41]
    assert prediction.is_dog is None


@pytest.mark.parametrize(
    "answer", [{"error": "x"}, [[1.0, 2.0]], "a string", {"predictions": [{"label": "x"}]}, [[]], None]
)
def test_unknown_answers_are_explained(answer: object) -> None:
    with pytest.raises(ServiceError, match="answer from"):
        parse_answer(answer)


# --- selectors ---------------------------------------------------------------------------------


def test_targets_list_in_service_endpoints_first(clients: Clients) -> None:
    clients.sagemaker_stub.add_response(
        "list_endpoints",
        {
            "Endpoints": [
                _endpoint("a-creating", "Creating"),
                _endpoint("dog-breed-classifier", "InService"),
                _endpoint("b-failed", "Failed"),
            ]
        },
    )
    clients.lambda_stub.add_response("list_functions", {"Functions": [{"FunctionName": "z"}, {"FunctionName": "a"}]})
    targets = clients.service.list_targets()
    assert targets.endpoints == ["dog-breed-classifier", "a-creating", "b-failed"]
    assert targets.functions == ["a", "z"]
    assert targets.errors == []


def test_one_failing_list_leaves_the_other(clients: Clients) -> None:
    clients.sagemaker_stub.add_client_error("list_endpoints", service_error_code="AccessDeniedException")
    clients.lambda_stub.add_response("list_functions", {"Functions": [{"FunctionName": "dog-breed-predict"}]})
    targets = clients.service.list_targets()
    assert targets.functions == ["dog-breed-predict"]
    assert targets.endpoints == []
    assert len(targets.errors) == 1 and "access denied" in targets.errors[0]


def _endpoint(name: str, status: str) -> dict[str, object]:
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{name}"
    now = datetime(2026, 1, 1)
    return {
        "EndpointName": name,
        "EndpointArn": arn,
        "CreationTime": now,
        "LastModifiedTime": now,
        "EndpointStatus": status,
    }
