"""SageMaker data capture: a sample of an endpoint's requests and answers, written to S3 in SageMaker's format
(capture_config.py) as the variant's model's execution role.

Capture never slows or breaks serving. The request path only draws the sample and hands the bodies to a bounded
queue; one background writer turns them into JSON lines, keeps one file per endpoint, variant and hour, and puts
each file in S3 once its first record is `flush_s` old (SageMaker writes every few minutes; 60 s by default,
`--capture-flush-seconds` shortens it). What cannot be captured is dropped, never the invocation: a full queue,
a full disk, a missing or denied bucket. Each drop is counted in CloudWatch and said once per batch in the
endpoint's log group (`/aws/sagemaker/Endpoints/<endpoint>`, stream `<variant>/data-capture`).

AWS publishes no metric for captures; localcloud's own are `CapturedRequests` and `DroppedCaptures` in the
`LocalCloud/DataCapture` namespace (dimensions EndpointName, VariantName).
"""

from __future__ import annotations

import contextlib
import queue
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleLogs, RoleObjects, RoleSession
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.metric_sink import BackgroundPublisher, MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.log import log
from localcloud.core.protocol import AwsError
from localcloud.sagemaker.capture.capture_config import CaptureSettings, bucket_and_prefix, capture_key, capture_record

NAMESPACE = "LocalCloud/DataCapture"
MAX_QUEUED_BYTES = 64 * 2**20  # request and response bodies waiting for the writer, all endpoints together
MAX_FILE_BYTES = 8 * 2**20  # a file is put early once it holds this much


@dataclass(frozen=True)
class VariantCapture:
    """Where and as whom one variant's captures go."""

    endpoint: str
    variant: str
    settings: CaptureSettings
    role_arn: str | None
    region: str


@dataclass
class _Pending:
    """A file being filled: one variant's captures of one hour."""

    target: VariantCapture
    first: float
    lines: list[str] = field(default_factory=list)
    size: int = 0


class DataCapture:
    """Every endpoint's capture settings, the queue the request path feeds, and the writer that empties it."""

    def __init__(
        self,
        objects: ObjectStore,
        roles: ExecutionRoles,
        metrics: MetricSink,
        logs: LogSink,
        *,
        flush_s: float = 60.0,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
    ) -> None:
        self.objects, self.roles, self.logs, self.flush_s = objects, roles, logs, flush_s
        self._publisher = BackgroundPublisher(metrics, NAMESPACE)
        self._targets: dict[str, dict[str, VariantCapture]] = {}  # endpoint -> variant -> where it captures to
        self._queue: queue.SimpleQueue[tuple[VariantCapture, float, bytes, str, bytes, str, str | None]] = (
            queue.SimpleQueue()
        )
        self._queued, self._queued_bytes, self._max_queued_bytes = 0, 0, max_queued_bytes
        self._full: dict[VariantCapture, int] = {}  # captures dropped for a full queue, said by the writer
        self._lock = threading.Lock()
        self._pending: dict[tuple[VariantCapture, str], _Pending] = {}
        self._drained = threading.Condition(self._lock)
        threading.Thread(target=self._write_forever, name="data capture", daemon=True).start()

    # what SageMaker tells it ----------------------------------------------------------
    def configure(self, endpoint: str, settings: CaptureSettings | None, models: dict[str, dict[str, Any]]) -> None:
        """The capture of an endpoint's config now serving (None: none), over its variants' models (whose execution
        roles write the captures). Captures already queued go where they were meant to."""
        targets = {
            variant: VariantCapture(
                endpoint, variant, settings, model.get("ExecutionRoleArn"), model["ModelArn"].split(":")[3]
            )
            for variant, model in models.items()
            if settings is not None and settings.enabled
        }
        with self._lock:
            if targets:
                self._targets[endpoint] = targets
            else:
                self._targets.pop(endpoint, None)

    def forget(self, endpoint: str) -> None:
        self.configure(endpoint, None, {})

    # the request path -----------------------------------------------------------------
    def offer(
        self,
        endpoint: str,
        variant: str,
        request: tuple[bytes, str],
        response: tuple[bytes, str],
        inference_id: str | None = None,
    ) -> None:
        """One answered request: sampled, and queued for the writer when drawn; never blocks, never raises."""
        target = self._targets.get(endpoint, {}).get(variant)
        if target is None or random.random() * 100 >= target.settings.percentage:
            return
        size = len(request[0]) + len(response[0])
        with self._lock:
            if self._queued_bytes + size > self._max_queued_bytes:
                self._full[target] = self._full.get(target, 0) + 1
                return
            self._queued += 1
            self._queued_bytes += size
        self._queue.put((target, time.time(), *request, *response, inference_id))

    # the writer -----------------------------------------------------------------------
    def _write_forever(self) -> None:
        while True:
            try:
                self._write_once()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any one failure
                log(f"data capture: {type(exc).__name__}: {exc}")

    def _write_once(self) -> None:
        timeout = self._next_due()
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            item = None
        if item is not None:
            target, when, request, request_type, response, response_type, inference_id = item
            bodies = (request, request_type), (response, response_type)
            line = capture_record(target.settings, when, *bodies, inference_id)
            hour = time.strftime("%Y%m%d%H", time.gmtime(when))
            with self._lock:
                pending = self._pending.setdefault((target, hour), _Pending(target, when))
                pending.lines.append(line)
                pending.size += len(line) + 1
                self._queued -= 1
                self._queued_bytes -= len(request) + len(response)
                self._drained.notify_all()
        self._report_full_queue()
        now = time.time()
        with self._lock:
            due = [k for k, p in self._pending.items() if p.size >= MAX_FILE_BYTES or now - p.first >= self.flush_s]
            files = [self._pending.pop(key) for key in due]
        for pending in files:
            self._put(pending)

    def _next_due(self) -> float:
        """How long the writer may wait for the next capture before a pending file is due."""
        with self._lock:
            firsts = [p.first for p in self._pending.values()]
        if not firsts:
            return self.flush_s
        return max(0.0, min(firsts) + self.flush_s - time.time())

    def _put(self, pending: _Pending) -> None:
        """One file into S3 as the variant's role; its captures dropped, with a metric and a log line, when
        S3 refuses it or the disk is full."""
        target, count = pending.target, len(pending.lines)
        bucket, prefix = bucket_and_prefix(target.settings.destination)
        key = capture_key(prefix, target.endpoint, target.variant, pending.first)
        try:
            if not target.role_arn:
                raise AwsError("AccessDenied", "The model has no ExecutionRoleArn to write captures with.", 403)
            session = RoleSession(self.roles, target.role_arn, target.endpoint, target.region)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl") as spool:
                spool.write("\n".join(pending.lines) + "\n")
                spool.flush()
                RoleObjects(self.objects, session).put_file(bucket, key, Path(spool.name), "application/octet-stream")
        except AwsError as exc:
            self._dropped(target, count, f"s3://{bucket}/{key} was refused ({exc.code}: {exc.message})")
            return
        except OSError as exc:  # a full disk, above all
            self._dropped(target, count, f"s3://{bucket}/{key} could not be written ({exc.strerror or exc})")
            return
        self._count("CapturedRequests", target, count)

    def _report_full_queue(self) -> None:
        with self._lock:
            full, self._full = self._full, {}
        for target, count in full.items():
            self._dropped(target, count, "the capture queue was full (the writer falls behind the requests)")

    def _dropped(self, target: VariantCapture, count: int, why: str) -> None:
        self._count("DroppedCaptures", target, count)
        message = f"Data capture dropped {count} capture(s) of variant {target.variant}: {why}."
        log(f"{target.endpoint}: {message}")
        if not target.role_arn:
            return
        session = RoleSession(self.roles, target.role_arn, target.endpoint, target.region)
        group, stream = f"/aws/sagemaker/Endpoints/{target.endpoint}", f"{target.variant}/data-capture"
        with contextlib.suppress(Exception):  # a log the role may not write is dropped, as on AWS
            RoleLogs(self.logs, session).put_events(group, stream, [(int(time.time() * 1000), message)])

    def _count(self, name: str, target: VariantCapture, count: int) -> None:
        dims = {"EndpointName": target.endpoint, "VariantName": target.variant}
        self._publisher.put([(name, dims, time.time(), float(count), "Count")])

    def flush(self, timeout: float = 10.0) -> None:
        """Write what is queued and pending now (localcloud stopping)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queued and time.monotonic() < deadline:
                self._drained.wait(timeout=0.05)
            files, self._pending = list(self._pending.values()), {}
        for pending in files:
            self._put(pending)
