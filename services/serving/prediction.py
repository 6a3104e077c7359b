"""Classify a photo through the Lambda function or straight through the SageMaker endpoint.

Both paths return the same `Prediction`. Two answer formats are understood: this project's JSON
(`{"predictions": [...], "is_dog": ..., ...}`) and the original deployment's `[[133 raw logits]]`, so the
dashboard can be pointed at either.
"""

import base64
import binascii
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import boto3
import numpy as np

from classifier.labels import udacity_labels
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error, redact
from services.serving.photo_checks import MAX_PAYLOAD_BYTES, prepare_image

Via = Literal["lambda", "endpoint"]

DEFAULT_FUNCTION = "dog-breed-predict"
DEFAULT_ENDPOINT = "dog-breed-classifier"
TOP_K = 5

LAMBDA_IMAGE_LIMIT = (MAX_PAYLOAD_BYTES - 1024) * 3 // 4
"""The Lambda event carries the image base64-encoded (4/3 larger) inside a little JSON."""

_ENDPOINT_CONTENT_TYPES = {"image/jpeg": "image/jpeg", "image/png": "image/png"}
"""Types the SageMaker inference contract names; any other image goes as application/x-image."""

_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_FUNCTION_NAME = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_REPORT_DURATION = re.compile(r"REPORT RequestId:\s*\S+\s+Duration:\s*([0-9.]+)\s*ms")
_REPORT_INIT = re.compile(r"REPORT RequestId:.*?\bInit Duration:\s*([0-9.]+)\s*ms")
_MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class BreedScore:
    """One breed and the model's confidence in it (0–1); labels use underscores (`Labrador_retriever`)."""

    label: str
    score: float


@dataclass(frozen=True)
class Prediction:
    """What the model said about one image, and how long it took.

    `is_dog`/`dog_score` are None for models that do not say (the original 133-class model);
    `model_ms` is the function's own duration through Lambda, the model's latency through the endpoint;
    `init_ms` is the Lambda REPORT line's Init Duration, present only when the call met a cold start (the
    reason a first call takes ten times longer); `measured_at` is when the call was made (UTC), so a
    remembered answer can say how old its figures are.
    """

    breeds: list[BreedScore]
    is_dog: bool | None
    dog_score: float | None
    model: str | None
    round_trip_ms: float
    model_ms: float | None
    via: Via
    target: str
    note: str | None
    init_ms: float | None = None
    measured_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Answer(NamedTuple):
    """A model answer reduced to the parts a `Prediction` needs."""

    breeds: list[BreedScore]
    is_dog: bool | None
    dog_score: float | None
    model: str | None
    model_ms: float | None


@dataclass(frozen=True)
class Targets:
    """Endpoint and function names to choose from, and why a list could not be read, if it could not."""

    endpoints: list[str]
    functions: list[str]
    errors: list[str]


class PredictionService(AwsService):
    """Sends images (or image URLs) to the classifier and returns typed predictions."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        runtime_client: Any = None,
        lambda_client: Any = None,
        sagemaker_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(
            settings,
            boto3_session=boto3_session,
            clients={"sagemaker-runtime": runtime_client, "lambda": lambda_client, "sagemaker": sagemaker_client},
        )

    def predict_image(self, data: bytes, *, via: Via, target: str) -> Prediction:
        """Classify image bytes; photos over the payload limit are downsized first (see `Prediction.note`)."""
        _check_target(via, target)
        if via == "lambda":
            prepared = prepare_image(
                data, limit=LAMBDA_IMAGE_LIMIT, limit_name="Lambda's 6 MB payload limit (base64 adds a third)"
            )
            event = {"image": base64.b64encode(prepared.data).decode("ascii")}
            return self._via_lambda(event, target, note=prepared.note)
        prepared = prepare_image(data, limit=MAX_PAYLOAD_BYTES)
        content_type = _ENDPOINT_CONTENT_TYPES.get(prepared.content_type, "application/x-image")
        return self._via_endpoint(prepared.data, content_type, target, note=prepared.note)

    def predict_url(self, url: str, *, via: Via, target: str) -> Prediction:
        """Classify the image at `url`; the cloud side fetches it (and refuses private addresses)."""
        _check_target(via, target)
        url = check_url(url)
        if via == "lambda":
            return self._via_lambda({"url": url}, target, note=None)
        body = json.dumps({"url": url}).encode()
        return self._via_endpoint(body, "application/json", target, note=None)

    def list_targets(self) -> Targets:
        """Endpoint names (InService first) and function names for the selectors; each list fails alone."""
        endpoints: list[str] = []
        functions: list[str] = []
        errors: list[str] = []
        try:
            summaries = [
                summary
                for page in self._client("sagemaker").get_paginator("list_endpoints").paginate()
                for summary in page["Endpoints"]
            ]
            summaries.sort(key=lambda s: (s["EndpointStatus"] != "InService", s["EndpointName"]))
            endpoints = [s["EndpointName"] for s in summaries]
        except BOTO_ERRORS as exc:
            errors.append(from_client_error(exc, what="list endpoints").message)
        except ServiceError as exc:
            errors.append(exc.message)
        try:
            functions = sorted(
                function["FunctionName"]
                for page in self._client("lambda").get_paginator("list_functions").paginate()
                for function in page["Functions"]
            )
        except BOTO_ERRORS as exc:
            errors.append(from_client_error(exc, what="list functions").message)
        except ServiceError as exc:
            errors.append(exc.message)
        return Targets(endpoints, functions, list(dict.fromkeys(errors)))

    def _via_endpoint(self, body: bytes, content_type: str, target: str, *, note: str | None) -> Prediction:
        measured_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            response = self._client("sagemaker-runtime").invoke_endpoint(
                EndpointName=target, ContentType=content_type, Accept="application/json", Body=body
            )
            raw = response["Body"].read()
        except BOTO_ERRORS as exc:
            raise _refused(exc, f"Endpoint '{target}'") or from_client_error(
                exc, what=f"call endpoint '{target}'"
            ) from exc
        round_trip_ms = (time.perf_counter() - start) * 1000
        answer = parse_answer(_json(raw, f"endpoint '{target}'"), source=f"endpoint '{target}'")
        return _prediction(answer, round_trip_ms, answer.model_ms, "endpoint", target, note, None, measured_at)

    def _via_lambda(self, event: dict[str, str], target: str, *, note: str | None) -> Prediction:
        source = f"function '{target}'"
        measured_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            response = self._client("lambda").invoke(
                FunctionName=target,
                InvocationType="RequestResponse",
                LogType="Tail",
                Payload=json.dumps(event).encode(),
            )
            raw = response["Payload"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"invoke {source}") from exc
        round_trip_ms = (time.perf_counter() - start) * 1000
        payload = _json(raw, source)
        if response.get("FunctionError"):
            raise _function_error(payload, source)
        answer = parse_answer(_unwrap_api_response(payload, source), source=source)
        log = _log_tail(response.get("LogResult"))
        duration_ms, init_ms = _report_figure(log, _REPORT_DURATION), _report_figure(log, _REPORT_INIT)
        return _prediction(answer, round_trip_ms, duration_ms, "lambda", target, note, init_ms, measured_at)


def _prediction(
    answer: Answer,
    round_trip_ms: float,
    model_ms: float | None,
    via: Via,
    target: str,
    note: str | None,
    init_ms: float | None,
    measured_at: datetime,
) -> Prediction:
    return Prediction(
        breeds=answer.breeds,
        is_dog=answer.is_dog,
        dog_score=answer.dog_score,
        model=answer.model,
        round_trip_ms=round_trip_ms,
        model_ms=model_ms,
        via=via,
        target=target,
        note=note,
        init_ms=init_ms,
        measured_at=measured_at,
    )


def parse_answer(obj: Any, *, source: str = "the model") -> Answer:
    """Read this project's JSON answer or the original deployment's `[[133 raw logits]]`."""
    if isinstance(obj, dict) and isinstance(obj.get("predictions"), list):
        return _parse_json_answer(obj, source)
    logits = obj[0] if isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], list) else obj
    if isinstance(logits, list) and logits and all(_is_number(x) for x in logits):
        return Answer(_top_from_logits(logits, source), None, None, None, None)
    raise ServiceError(
        f"The answer from {source} is in a format the dashboard does not know: expected "
        f'{{"predictions": [...]}} or [[133 logits]], got {_preview(obj)}.'
    )


def _parse_json_answer(obj: dict[str, Any], source: str) -> Answer:
    try:
        breeds = [BreedScore(str(p["label"]), float(p["score"])) for p in obj["predictions"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(
            f"The answer from {source} has predictions without a label and a numeric score: "
            f"{_preview(obj['predictions'])}."
        ) from exc
    breeds.sort(key=lambda b: b.score, reverse=True)
    is_dog = obj.get("is_dog")
    dog_score = obj.get("dog_score")
    model = obj.get("model")
    latency = obj.get("model_latency_ms")
    model_ms = latency.get("total") if isinstance(latency, dict) else latency
    return Answer(
        breeds,
        is_dog if isinstance(is_dog, bool) else None,
        float(dog_score) if _is_number(dog_score) else None,
        model if isinstance(model, str) else None,
        float(model_ms) if _is_number(model_ms) else None,
    )


def _top_from_logits(logits: list[float], source: str) -> list[BreedScore]:
    labels = udacity_labels()
    if len(logits) != len(labels):
        raise ServiceError(
            f"The answer from {source} has {len(logits)} logits; the original model gives {len(labels)}."
        )
    values = np.asarray(logits, dtype=np.float64)
    probabilities = np.exp(values - values.max())
    probabilities /= probabilities.sum()
    top = np.argsort(probabilities)[::-1][:TOP_K]
    return [BreedScore(labels[i], float(probabilities[i])) for i in top]


def check_url(url: str) -> str:
    """The URL, stripped, if it is http(s) with a host; anything else (file:, a bare path) is refused."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname  # parsed lazily: a broken [IPv6] host raises here
    except ValueError:
        host = None
    if host is None or parts.scheme not in {"http", "https"}:
        raise ServiceError(f"'{url}' is not an http(s) URL with a host, e.g. https://example.com/dog.jpg.")
    if len(url) > _MAX_URL_LENGTH:
        raise ServiceError(f"The URL is longer than {_MAX_URL_LENGTH} characters.")
    return url


def _check_target(via: str, target: str) -> None:
    if via == "endpoint":
        if not _ENDPOINT_NAME.fullmatch(target or ""):
            raise ServiceError(
                f"'{target}' is not a valid endpoint name: letters, digits and hyphens, at most 63 characters."
            )
    elif via == "lambda":
        if not _FUNCTION_NAME.fullmatch(target or "") or len(target) > 140:
            raise ServiceError(f"'{target}' is not a valid Lambda function name or ARN.")
    else:
        raise ServiceError(f"Unknown path '{via}': choose 'lambda' or 'endpoint'.")


def _unwrap_api_response(payload: Any, source: str) -> Any:
    """The body of an API-Gateway-style `{"statusCode", "body"}` answer; other answers pass through."""
    if not (isinstance(payload, dict) and "statusCode" in payload):
        return payload
    body = payload.get("body")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # a plain-text body still makes a useful error message
            body = json.loads(body)
    status = payload["statusCode"]
    if status != 200:
        message = (body.get("message") or body.get("error")) if isinstance(body, dict) else body
        raise ServiceError(f"{source.capitalize()} refused the request ({status}): {message or _preview(body)}")
    return body


def _function_error(payload: Any, source: str) -> ServiceError:
    if isinstance(payload, dict):
        kind = payload.get("errorType") or "error"
        message = payload.get("errorMessage") or _preview(payload)
    else:
        kind, message = "error", _preview(payload)
    return ServiceError(f"{source.capitalize()} failed ({kind}): {message}", code="FunctionError")


def _log_tail(log_result: str | None) -> str:
    """The base64 log tail that `LogType="Tail"` returns, decoded ("" when absent or unreadable)."""
    if not log_result:
        return ""
    try:
        return base64.b64decode(log_result).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _report_figure(log: str, pattern: re.Pattern[str]) -> float | None:
    """One figure of the REPORT line (`Duration`, `Init Duration`), or None when the line lacks it."""
    match = pattern.search(log)
    return float(match.group(1)) if match else None


def _refused(exc: Exception, who: str) -> ServiceError | None:
    """The endpoint's own 4xx answer (our SSRF guard refusing a URL, an image it cannot decode) says what
    was refused and why, as the Lambda path does; None for every other error, which `from_client_error`
    explains. AWS wraps such an answer in a ModelError carrying the container's status and body."""
    response = getattr(exc, "response", None) or {}
    status = response.get("OriginalStatusCode")
    if response.get("Error", {}).get("Code") != "ModelError" or not (_is_number(status) and 400 <= status < 500):
        return None
    body = str(response.get("OriginalMessage") or response["Error"].get("Message") or "")
    with contextlib.suppress(ValueError):  # TorchServe-style containers answer {"code": 400, "message": ...}
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            body = parsed["message"]
    return ServiceError(f"{who} refused the request ({status}): {redact(body)}", code="Refused")


def _json(raw: bytes, source: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ServiceError(f"The answer from {source} is not JSON: {_preview(raw)}.") from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _preview(value: Any, limit: int = 200) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
