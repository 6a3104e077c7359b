"""Lambda function ``dog-breed-predict``: forwards a photo to the SageMaker endpoint and returns its
answer API-Gateway style. Plain boto3 only, so the same file runs in AWS Lambda and in localcloud.

Accepted events: ``{"url": "https://..."}``, ``{"image": "<base64 of the file>"}``, or an API Gateway
proxy event whose "body" is one of those as a JSON string.
"""

import base64
import binascii
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_ENDPOINT_NAME = "dog-breed-classifier"

# Created once per execution environment so warm invocations reuse its connections. boto3 picks up
# the region and AWS_ENDPOINT_URL (AWS or localcloud) from the environment by itself.
sagemaker_runtime = boto3.client("sagemaker-runtime")


class BadRequest(ValueError):
    """The event does not say what to classify; becomes a 400."""


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Classify the photo in ``event`` on the endpoint named by $ENDPOINT_NAME."""
    start = time.perf_counter()
    endpoint = os.environ.get("ENDPOINT_NAME", DEFAULT_ENDPOINT_NAME)
    asked = "invalid event"
    try:
        content_type, body, asked = _request_from_event(event)
        response = sagemaker_runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept="application/json", Body=body
        )
        result = _respond(200, response["Body"].read().decode("utf-8"))
    except BadRequest as exc:
        result = _error(400, str(exc))
    except ClientError as exc:
        result = _error(*_client_error(exc, endpoint))
    except BotoCoreError as exc:
        result = _error(502, f"Could not reach endpoint '{endpoint}': {exc}")
    latency_ms = (time.perf_counter() - start) * 1000.0
    print(
        f"dog-breed-predict endpoint={endpoint} request={asked} status={result['statusCode']} "
        f"latency_ms={latency_ms:.1f}"
    )
    return result


def _request_from_event(event: Any) -> tuple[str, bytes, str]:
    """(ContentType, Body, loggable description) for invoke_endpoint; never logs image bytes."""
    payload = _unwrap_api_gateway(event)
    if not isinstance(payload, dict):
        raise BadRequest('The request must be a JSON object with "url" or "image".')
    url = payload.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        return "application/json", json.dumps({"url": url}).encode("utf-8"), f"url:{parts.scheme}://{parts.hostname}"
    image = payload.get("image")
    if isinstance(image, str) and image:
        data = _b64decode(image, 'The "image" field is not valid base64')
        if not data:
            raise BadRequest('The "image" field is empty.')
        return "application/x-image", data, f"image:{len(data)}B"
    raise BadRequest('The request needs "url" (an http(s) link to a photo) or "image" (the file, base64).')


def _unwrap_api_gateway(event: Any) -> Any:
    """An API Gateway proxy event carries the real request as a (maybe base64) JSON string in "body"."""
    if not (isinstance(event, dict) and "body" in event and "url" not in event and "image" not in event):
        return event
    body = event["body"] or ""
    if event.get("isBase64Encoded"):
        body = _b64decode(body, "The request body is not valid base64")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON ({exc}).") from None


def _b64decode(text: str, problem: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{problem} ({exc}).") from None


def _client_error(exc: ClientError, endpoint: str) -> tuple[int, str]:
    """Map an InvokeEndpoint error to (status, message): the model's own 4xx answers stay 4xx (the
    caller sent a bad image); everything else is the endpoint failing us, a 502."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", str(exc))
    if code == "ModelError":
        original_status = int(exc.response.get("OriginalStatusCode") or 0)
        original = exc.response.get("OriginalMessage") or message
        if 400 <= original_status < 500:
            return 400, _model_message(original)
        return 502, f"The model failed on endpoint '{endpoint}': {_model_message(original)}"
    if code == "ValidationError" and "not found" in message.lower():
        return 502, f"Endpoint '{endpoint}' not found; deploy it or set ENDPOINT_NAME. ({message})"
    return 502, f"Endpoint '{endpoint}' call failed ({code}): {message}"


def _model_message(original: str) -> str:
    """The model's error body is usually JSON with a "message"; show just that sentence."""
    try:
        parsed = json.loads(original)
    except (TypeError, json.JSONDecodeError):
        return original
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return parsed["message"]
    return original


def _respond(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}


def _error(status: int, message: str) -> dict[str, Any]:
    return _respond(status, json.dumps({"message": message}))
