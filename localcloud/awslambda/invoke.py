"""Running one invocation: take an environment of the version (provisioned first, then a warm on-demand one,
else a cold start), count the execution against the concurrency limits (or throttle), run the event, write
the log lines AWS writes (START, END, REPORT with Init Duration on a cold start) and the metrics.

Every call either runs once or is throttled: the ledger admits it before it runs and releases it however it
ends. An asynchronous (Event) call that is throttled is not lost either: as AWS's event queue does, it is
retried with backoff until it runs or its maximum age (six hours) passes.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.awslambda.environment import Environment
from localcloud.awslambda.ledger import Ledger
from localcloud.awslambda.metric_publisher import LambdaMetrics, ProvisionedUse
from localcloud.awslambda.names import timestamp
from localcloud.awslambda.pool import Lease, Pools
from localcloud.awslambda.versions import Target
from localcloud.core.interfaces.log_sink import BackgroundLogWriter
from localcloud.core.protocol import AwsError

MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6 MB for synchronous Invoke, request and response
MAX_EVENT_AGE_S = 6 * 3600  # how long AWS keeps retrying a throttled asynchronous event


class Invoker:
    """Invocation: mixed into the Lambda service, which provides the pools, the ledger and the metrics."""

    pools: Pools
    ledger: Ledger
    lambda_metrics: LambdaMetrics
    log_writer: BackgroundLogWriter | None
    log_dir: Path
    execution_credentials: Callable[[dict[str, Any]], tuple[dict[str, str], float]]
    may_log: Callable[[dict[str, Any], str, str, str], bool]
    _stopping: threading.Event

    def run(self, target: Target, event_json: bytes) -> dict[str, Any]:
        """Run one invocation; returns the payload, function error and log text, or raises the throttle."""
        name = target.record["FunctionName"]
        pool = self.pools.get(name, target.version)
        lease = pool.take()
        try:
            shared, concurrent = self.ledger.admit(name, lease.provisioned)
        except AwsError:
            pool.give_back(lease)
            self.lambda_metrics.throttled(target.call)
            raise
        account_concurrent = self.ledger.total_in_flight
        try:
            outcome = self._execute(target, lease, event_json)
        finally:
            pool.give_back(lease)
            self.ledger.release(name, shared)
        provisioned = None
        if pool.qualifier is not None:
            provisioned = ProvisionedUse(pool.qualifier, lease.provisioned, lease.provisioned_busy, pool.allocated)
        self.lambda_metrics.invoked(
            target.call,
            target.version,
            error=outcome["function_error"] is not None,
            duration_ms=outcome["duration_ms"],
            concurrent=concurrent,
            account_concurrent=account_concurrent,
            provisioned=provisioned,
        )
        return outcome

    def run_event(self, target: Target, event_json: bytes) -> None:
        """An asynchronous invocation: retried while throttled, as AWS's event queue does."""
        delay, deadline = 0.05, time.monotonic() + MAX_EVENT_AGE_S
        while not self._stopping.is_set():
            try:
                self.run(target, event_json)
                return
            except AwsError as error:
                if error.status != 429 or time.monotonic() > deadline:
                    return
            self._stopping.wait(delay)
            delay = min(delay * 2, 1.0)

    def _execute(self, target: Target, lease: Lease, event_json: bytes) -> dict[str, Any]:
        record, request_id = target.record, str(uuid.uuid4())
        log_path = self.log_dir / f"{record['FunctionName']}.log"
        timeout = float(record["Timeout"])
        init_ms: float | None = None
        lines = [f"START RequestId: {request_id} Version: {target.version}\n"]
        started = time.perf_counter()
        reply: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        try:
            if lease.env is None:
                cloud_env, expires = self.execution_credentials(record)
                lease.env = Environment(record, log_path, cloud_env, lease.generation, credentials_expire=expires)
                error = lease.env.start(timeout=max(timeout, 10.0))
                init_ms = lease.env.init_ms
            if error is None:
                reply = lease.env.invoke(event_json, request_id, target.invoked_arn, timeout)
                if reply is None:
                    error = {
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                        f"exit status {lease.env.process.wait(timeout=10)}",
                        "errorType": "Runtime.ExitError",
                    }
        except TimeoutError:
            elapsed = time.perf_counter() - started
            error = {"errorMessage": f"{timestamp()} {request_id} Task timed out after {elapsed:.2f} seconds"}
            if lease.env is not None:
                lease.env.stop()
        duration = reply["duration_ms"] if reply else (time.perf_counter() - started) * 1000
        if reply:
            lines.append(reply["logs"])
            error = reply.get("error")
        payload = json.dumps(error).encode() if error else reply["result"].encode()
        if len(payload) > MAX_SYNC_PAYLOAD_BYTES:
            error = {
                "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed "
                f"payload size ({MAX_SYNC_PAYLOAD_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            payload = json.dumps(error).encode()
        memory = reply["max_memory_mb"] if reply else 0
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: "
            f"{math.ceil(duration + (init_ms or 0))} ms\tMemory Size: {record['MemorySize']} MB\t"
            f"Max Memory Used: {memory} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        lines += [f"END RequestId: {request_id}\n", report + "\n"]
        log = "".join(lines)
        with open(log_path, "a") as f:
            f.write(log)
        group = f"/aws/lambda/{record['FunctionName']}"
        if (
            self.log_writer is not None
            and lease.env is not None
            and self.may_log(record, target.invoked_arn.split(":")[3], group, lease.env.log_stream)
        ):  # as on AWS: the function's log group in CloudWatch Logs, one stream per environment, as its role
            self.log_writer.put(group, lease.env.log_stream, int(time.time() * 1000), log)
        return {
            "payload": payload,
            "function_error": "Unhandled" if error else None,
            "log": log,
            "duration_ms": duration,
        }
