"""A bounded load test: real photos sent at a chosen rate, with a cap on requests in flight, for a chosen
time, to an endpoint or the Lambda function (optionally a version or alias) of the configured cloud only.

The engine runs in its own threads and stops by itself at its duration; a page starts it, keeps the object
for the session and reads `snapshot()` as it goes. What a target is, is one small class (`LoadTarget`), so
the Lambda page can reuse the panel with a `FunctionTarget`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from services.core.clients import CloudSettings, make_client
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.dataset_files import is_image
from services.data.datasets import SHARED_DATASETS

_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
_PHOTO_BYTES_LIMIT = 4 * 1024 * 1024  # under both 6 MB payload limits once Lambda's base64 adds a third
_INSTANCE_POLL_S = 1.0
_ACHIEVED_ENOUGH = 0.9  # a sending rate within 10 % of the asked one keeps up
_RATE_AFTER_S = 2.0  # the first second's rate says little
OK, THROTTLED, FAILED = "ok", "throttled", "failed"
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
"""Refusals for being over a limit (Lambda's reserved concurrency, an endpoint's throttling): counted apart."""


@dataclass(frozen=True)
class LoadLimits:
    """The most the page lets an operator ask for: enough to make a small fleet scale, not to flood it."""

    max_rps: float = 20.0
    max_duration_s: int = 600
    max_concurrency: int = 16
    max_photos: int = 200


@dataclass(frozen=True)
class LoadPlan:
    rps: float
    duration_s: int
    concurrency: int
    photo_set: str
    photos: int = 20


def check_plan(plan: LoadPlan, limits: LoadLimits) -> None:
    problems = []
    if not 0 < plan.rps <= limits.max_rps:
        problems.append(f"Requests per second must be above 0 and at most {limits.max_rps:g} (got {plan.rps:g}).")
    if not 1 <= plan.duration_s <= limits.max_duration_s:
        problems.append(f"Duration must be 1 to {limits.max_duration_s} s (got {plan.duration_s}).")
    if not 1 <= plan.concurrency <= limits.max_concurrency:
        problems.append(f"Concurrency must be 1 to {limits.max_concurrency} (got {plan.concurrency}).")
    if not 1 <= plan.photos <= limits.max_photos:
        problems.append(f"Photos must be 1 to {limits.max_photos} (got {plan.photos}).")
    if problems:
        raise ServiceError(" ".join(problems), code="ValidationError")


def photo_sets(root: Path = SHARED_DATASETS) -> list[str]:
    """The shared datasets that hold photos (`dogs-wiki-133`, `negatives`, …)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(_photos_under(p)))


def load_photos(photo_set: str, count: int, root: Path = SHARED_DATASETS) -> list[tuple[bytes, str]]:
    """`count` photos spread evenly over the set, as (bytes, content type); too-large files are skipped."""
    folder = root / photo_set
    sets = photo_sets(root)
    if not sets:
        raise ServiceError(
            f"There are no photo sets in {root}. Set DASHBOARD_DATASETS_DIR to the folder that holds the project's "
            "datasets (dogs-wiki-133, negatives) and restart the dashboard."
        )
    if photo_set not in sets:
        raise ServiceError(f"'{photo_set}' is not one of the photo sets in {root}: {', '.join(sets)}.")
    paths = sorted(_photos_under(folder))
    step = max(1, len(paths) // count)
    chosen = [p for p in paths[::step] if p.stat().st_size <= _PHOTO_BYTES_LIMIT][:count]
    return [(p.read_bytes(), _CONTENT_TYPES[p.suffix.lower()]) for p in chosen]


def _photos_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and is_image(p.name) and p.suffix.lower() in _CONTENT_TYPES]


class LoadTarget(Protocol):
    label: str
    counts_instances: bool
    """Whether `instances()` can say how many instances serve (an endpoint can; a Lambda function has none)."""

    def invoke(self, body: bytes, content_type: str) -> None:
        """One request; raises ServiceError when it fails."""

    def instances(self) -> int | None:
        """How many instances serve now (None where the target has no such count)."""


class EndpointTarget:
    counts_instances = True

    def __init__(self, settings: CloudSettings, endpoint: str) -> None:
        self.label = f"endpoint '{endpoint}'"
        self._endpoint = endpoint
        # One attempt each: a load test counts every refusal, which botocore's retries would hide.
        self._runtime = make_client("sagemaker-runtime", settings, attempts=1)
        self._sagemaker = make_client("sagemaker", settings)

    def invoke(self, body: bytes, content_type: str) -> None:
        try:
            self._runtime.invoke_endpoint(
                EndpointName=self._endpoint, ContentType=content_type, Accept="application/json", Body=body
            )["Body"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"call endpoint '{self._endpoint}'") from exc

    def instances(self) -> int | None:
        try:
            variants = self._sagemaker.describe_endpoint(EndpointName=self._endpoint)["ProductionVariants"]
        except BOTO_ERRORS:
            return None
        counts = [v["CurrentInstanceCount"] for v in variants if "CurrentInstanceCount" in v]
        return sum(counts) if counts else None


class FunctionTarget:
    """The Lambda function (a version or alias with `qualifier`), sent `{"image": "<base64>"}`."""

    counts_instances = False

    def __init__(self, settings: CloudSettings, function: str, qualifier: str | None = None) -> None:
        self.label = f"function '{function}'" + (f" ({qualifier})" if qualifier else "")
        self._request: dict[str, Any] = {"FunctionName": function}
        if qualifier:
            self._request["Qualifier"] = qualifier
        self._lambda = make_client("lambda", settings, attempts=1)

    def invoke(self, body: bytes, content_type: str) -> None:
        event = {"image": base64.b64encode(body).decode("ascii")}
        try:
            response = self._lambda.invoke(**self._request, Payload=json.dumps(event).encode())
            payload = response["Payload"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"invoke {self.label}") from exc
        if response.get("FunctionError"):
            raise ServiceError(f"{self.label} failed: {payload[:200]!r}")
        try:
            status = json.loads(payload).get("statusCode", 200)
        except (ValueError, AttributeError):
            status = 200
        if status >= 400:
            raise ServiceError(f"{self.label} answered {status}.")

    def instances(self) -> int | None:
        return None


@dataclass(frozen=True)
class Second:
    """One second of the test: requests answered, their latency, failures, and the instances serving."""

    t: int
    answered: int
    errors: int
    throttled: int
    p50_ms: float | None
    p99_ms: float | None
    instances: int | None


@dataclass(frozen=True)
class RateShortfall:
    """A test that sent fewer requests per second than asked: `ceiling` is what `concurrency` requests in flight
    allow at the latency measured (concurrency / mean latency); below the asked rate, it is what held the test back."""

    requested_rps: float
    sent_rps: float
    answered_rps: float
    concurrency: int
    mean_latency_ms: float | None

    @property
    def ceiling_rps(self) -> float | None:
        return None if not self.mean_latency_ms else self.concurrency * 1000 / self.mean_latency_ms

    @property
    def concurrency_bound(self) -> bool:
        """Whether the cap on requests in flight explains the shortfall (else the sender itself fell behind)."""
        ceiling = self.ceiling_rps
        return ceiling is not None and ceiling < self.requested_rps * _ACHIEVED_ENOUGH


@dataclass(frozen=True)
class LoadSnapshot:
    running: bool
    elapsed_s: float
    sent: int
    answered: int
    errors: int
    throttled: int
    last_error: str | None
    """The last failed request's reason (throttles are not failures: see `last_throttle`)."""
    seconds: list[Second] = field(default_factory=list)
    last_throttle: str | None = None
    requested_rps: float = 0.0
    concurrency: int = 1
    mean_latency_ms: float | None = None

    @property
    def shortfall(self) -> RateShortfall | None:
        """How far the sending rate fell below the asked one, once two seconds tell; None while it keeps up."""
        if self.elapsed_s < _RATE_AFTER_S or not self.requested_rps:
            return None
        sent_rps, answered_rps = self.sent / self.elapsed_s, self.answered / self.elapsed_s
        if sent_rps >= self.requested_rps * _ACHIEVED_ENOUGH:
            return None
        return RateShortfall(self.requested_rps, sent_rps, answered_rps, self.concurrency, self.mean_latency_ms)

    @property
    def peak_rps_per_instance(self) -> float | None:
        """The most requests answered in one second per instance serving then (for the suggested target)."""
        rates = [s.answered / s.instances for s in self.seconds if s.instances]
        return max(rates) if rates else None


class LoadTest:
    """Started once; `stop()` ends it early. Thread-safe to read while it runs."""

    def __init__(
        self,
        target: LoadTarget,
        plan: LoadPlan,
        photos: list[tuple[bytes, str]],
        *,
        limits: LoadLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_plan(plan, limits or LoadLimits())
        if not photos:
            raise ServiceError("No photos to send: choose a photo set with images.")
        self.target, self.plan = target, plan
        self._photos = photos
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._slots = threading.Semaphore(plan.concurrency)
        self._results: list[tuple[float, float, str]] = []  # (seconds since start, latency s, OK/THROTTLED/FAILED)
        self._instances: dict[int, int | None] = {}
        self._sent = 0
        self._last_error: str | None = None
        self._last_throttle: str | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> LoadTest:
        self._started = self._clock()
        for run in (self._pace, self._watch_instances):
            thread = threading.Thread(target=run, name=f"load-test {self.target.label}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _pace(self) -> None:
        """Send a request every 1/rps seconds while one of `concurrency` workers is free, until the duration is
        up; then wait for the requests in flight."""
        interval = 1.0 / self.plan.rps
        next_at = self._started
        with ThreadPoolExecutor(self.plan.concurrency, thread_name_prefix="load-test") as workers:
            while not self._stop.is_set():
                now = self._clock()
                if now - self._started >= self.plan.duration_s:
                    break
                if now < next_at:
                    self._stop.wait(min(next_at - now, 0.05))
                    continue
                if not self._slots.acquire(timeout=0.05):
                    continue
                photo = self._photos[self._sent % len(self._photos)]
                self._sent += 1
                workers.submit(self._request, *photo)
                next_at = max(next_at + interval, now - interval)  # catch up a little, never in a burst
            self._stop.set()
        self._ended = self._clock()

    def _request(self, body: bytes, content_type: str) -> None:
        start = self._clock()
        try:
            self.target.invoke(body, content_type)
            outcome = OK
        except ServiceError as exc:
            outcome = THROTTLED if exc.code in THROTTLE_CODES else FAILED
            if outcome == THROTTLED:
                self._last_throttle = exc.message
            else:
                self._last_error = exc.message
        except Exception as exc:  # noqa: BLE001 - any failure is a failed request, and the test goes on
            outcome = FAILED
            self._last_error = f"{type(exc).__name__}: {exc}"
        finally:
            self._slots.release()
        end = self._clock()
        with self._lock:
            self._results.append((end - self._started, end - start, outcome))

    def _watch_instances(self) -> None:
        while not self._stop.is_set():
            second = int(self._clock() - self._started)
            count = self.target.instances()
            with self._lock:
                self._instances[second] = count
            self._stop.wait(_INSTANCE_POLL_S)

    def snapshot(self) -> LoadSnapshot:
        with self._lock:
            results = list(self._results)
            instances = dict(self._instances)
        now = self._ended if self._ended is not None else self._clock()
        elapsed = min(now - self._started, float(self.plan.duration_s)) if self._started else 0.0
        by_second: dict[int, list[tuple[float, str]]] = {}
        for at, latency, outcome in results:
            by_second.setdefault(int(at), []).append((latency, outcome))
        last_instances: int | None = None
        seconds = []
        for t in range(int(elapsed) + 1):
            last_instances = instances.get(t, last_instances)
            done = by_second.get(t, [])
            latencies = [lat * 1000 for lat, outcome in done if outcome == OK]
            seconds.append(
                Second(
                    t=t,
                    answered=len(latencies),
                    errors=sum(1 for _, outcome in done if outcome == FAILED),
                    throttled=sum(1 for _, outcome in done if outcome == THROTTLED),
                    p50_ms=float(np.percentile(latencies, 50)) if latencies else None,
                    p99_ms=float(np.percentile(latencies, 99)) if latencies else None,
                    instances=last_instances,
                )
            )
        outcomes = Counter(outcome for _, _, outcome in results)
        all_latencies = [latency * 1000 for _, latency, _ in results]
        return LoadSnapshot(
            running=self.running(),
            elapsed_s=elapsed,
            sent=self._sent,
            answered=outcomes[OK],
            errors=outcomes[FAILED],
            throttled=outcomes[THROTTLED],
            last_error=self._last_error,
            seconds=seconds,
            last_throttle=self._last_throttle,
            requested_rps=self.plan.rps,
            concurrency=self.plan.concurrency,
            mean_latency_ms=float(np.mean(all_latencies)) if all_latencies else None,
        )
