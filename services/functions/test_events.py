"""The console's Test tab: send an event to a function (or a version or alias) with `LogType=Tail` and show
what came back, the log tail and the REPORT line's figures.

Presets are the original project's two events: `{"url": ...}` (the function fetches the photo, and refuses
private and loopback addresses; so does this module, before sending) and `{"image": <base64 of the file>}`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3

from classifier.serving.fetch import check_public_address
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.datasets import SAMPLE_DATASET
from services.serving.prediction import check_url

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # synchronous Invoke's request limit
SAMPLE_PHOTO = SAMPLE_DATASET / "test" / "092.Keeshond" / "keeshond_5.jpg"
"""A real photo for the image preset (a keeshond the model knows), from the offline sample beside the repo."""
SAMPLE_URL = (
    "https://raw.githubusercontent.com/datarobot-community/dogsnap-workshop/"
    "7a421ceb8e096ca8878ff2e6d8376933ac47582e/datasets/small/images/wiki/keeshond_5.jpg"
)
"""The same photo where the sample came from (pinned to a commit), for the url preset: the function fetches it,
so it needs the internet, which a machine running localcloud may not have."""

_REPORT = re.compile(
    r"REPORT RequestId:\s*(?P<request>\S+)\s+Duration:\s*(?P<duration>[0-9.]+)\s*ms\s+"
    r"Billed Duration:\s*(?P<billed>[0-9]+)\s*ms\s+Memory Size:\s*(?P<memory>[0-9]+)\s*MB\s+"
    r"Max Memory Used:\s*(?P<used>[0-9]+)\s*MB(?:\s+Init Duration:\s*(?P<init>[0-9.]+)\s*ms)?"
)
_THROTTLE_REASONS = {
    "ReservedFunctionConcurrentInvocationLimitExceeded": "the function is running as many copies as its reserved "
    "concurrency allows (reserved 0 throttles every call). Raise reserved concurrency or try again shortly.",
    "ConcurrentInvocationLimitExceeded": "the account's unreserved pool is fully in use by functions without a "
    "reservation. Reserve concurrency for this function or try again shortly.",
}


@dataclass(frozen=True)
class Report:
    """The REPORT line Lambda writes after every invocation."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int
    init_ms: float | None
    """Present only when the call met a cold start."""


@dataclass(frozen=True)
class InvocationResult:
    """What one test invocation returned, as the console's Test tab shows it."""

    status_code: int
    function_error: str | None
    """"Unhandled" when the handler raised (the payload then describes the error), else None."""
    executed_version: str | None
    payload: str
    log_tail: str
    report: Report | None
    round_trip_ms: float

    @property
    def succeeded(self) -> bool:
        return self.function_error is None

    @property
    def body(self) -> Any:
        """The API-Gateway-style answer's `body`, decoded when it is a JSON string (the classifier's answer)."""
        try:
            answer = json.loads(self.payload)
            return (
                json.loads(answer["body"]) if isinstance(answer, dict) and isinstance(answer.get("body"), str) else None
            )
        except ValueError:
            return None


def parse_report(log: str) -> Report | None:
    """The last REPORT line of a log tail, or None when the tail has none (it holds the last 4 KB only)."""
    matches = list(_REPORT.finditer(log))
    if not matches:
        return None
    m = matches[-1]
    return Report(
        request_id=m["request"],
        duration_ms=float(m["duration"]),
        billed_ms=int(m["billed"]),
        memory_mb=int(m["memory"]),
        max_memory_used_mb=int(m["used"]),
        init_ms=float(m["init"]) if m["init"] else None,
    )


def url_event(url: str) -> str:
    """The `{"url": ...}` event for a public http(s) URL; loopback, private and link-local hosts are refused
    here, as the function itself refuses them."""
    url = check_url(url)
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        raise ServiceError(f"'{url}' names this machine; the function fetches public addresses only.")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return json.dumps({"url": url}, indent=2)  # a name: the function resolves it and checks every address
    try:
        check_public_address(host)
    except ValueError as exc:
        raise ServiceError(f"'{url}' cannot be fetched: {exc}. The function fetches public addresses only.") from None
    return json.dumps({"url": url}, indent=2)


def image_event(data: bytes) -> str:
    """The `{"image": <base64>}` event for a photo's bytes."""
    if not data:
        raise ServiceError("The photo is empty.")
    return json.dumps({"image": base64.b64encode(data).decode("ascii")})


def sample_image_event() -> str:
    if not SAMPLE_PHOTO.is_file():
        raise ServiceError(f"The sample photo is not at {SAMPLE_PHOTO}; upload a photo instead.")
    return image_event(SAMPLE_PHOTO.read_bytes())


def check_event(text: str) -> bytes:
    """The event as the bytes Invoke sends: JSON, at most 6 MB, and a `url` in it must be fetchable."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ServiceError(f"The event is not JSON: {exc}.") from None
    body = json.dumps(event).encode()
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ServiceError(
            f"The event is {len(body) / 1e6:.1f} MB; a synchronous invocation takes at most 6 MB. Use a smaller photo."
        )
    if isinstance(event, dict) and isinstance(event.get("url"), str):
        url_event(event["url"])
    return body


class LambdaTestService(AwsService):
    """Invokes a function with a test event."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        lambda_client: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"lambda": lambda_client})

    def invoke(self, function: str, event_text: str, qualifier: str | None = None) -> InvocationResult:
        """One synchronous invocation of `function` (or its version or alias `qualifier`) with the event."""
        body = check_event(event_text)
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        where = f"{function}:{qualifier}" if qualifier else function
        start = time.perf_counter()
        try:
            response = self._client("lambda").invoke(
                FunctionName=function, InvocationType="RequestResponse", LogType="Tail", Payload=body, **kwargs
            )
            payload = response["Payload"].read().decode("utf-8", errors="replace")
        except BOTO_ERRORS as exc:
            reason = getattr(exc, "response", {}).get("Reason")
            if reason in _THROTTLE_REASONS:
                raise ServiceError(
                    f"Invoking '{where}' was throttled ({reason}): {_THROTTLE_REASONS[reason]}",
                    code="TooManyRequestsException",
                ) from exc
            error = from_client_error(exc, what=f"invoke '{where}'")
            if qualifier and error.code == "ResourceNotFoundException":
                raise ServiceError(
                    f"Function '{function}' has no version or alias '{qualifier}' (or no longer: re-read the "
                    f"function). ({exc.response['Error'].get('Message', '')})",
                    code=error.code,
                ) from exc
            raise error from exc
        log = _decode_tail(response.get("LogResult"))
        return InvocationResult(
            status_code=int(response.get("StatusCode", 0)),
            function_error=response.get("FunctionError"),
            executed_version=response.get("ExecutedVersion"),
            payload=_pretty(payload),
            log_tail=log,
            report=parse_report(log),
            round_trip_ms=(time.perf_counter() - start) * 1000,
        )


def _decode_tail(log_result: str | None) -> str:
    if not log_result:
        return ""
    try:
        return base64.b64decode(log_result).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _pretty(payload: str) -> str:
    """The answer indented when it is JSON (the handler's API-Gateway dict), as it came otherwise."""
    try:
        return json.dumps(json.loads(payload), indent=2)
    except ValueError:
        return payload
