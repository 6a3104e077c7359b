"""One input object through a transform instance: read as the model's role, split, sent, answered, written; and
each instance's pipeline of them, which reads ahead and writes behind so that the instance never waits on S3.

A failure becomes `Failure`, whose reason is the job's FailureReason in AWS's kind of words (`ClientError: ...`
for what the input, the role or the request got wrong, `AlgorithmError: ...` for the model's own failures),
naming the object; the data log (`<job>/<instance>/data-log`) gets AWS's `[sagemaker logs]` lines for it.
"""

from __future__ import annotations

import gzip
import http.client
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.auth.as_role import RoleLogs, RoleObjects
from localcloud.core.protocol import AwsError
from localcloud.sagemaker.fleet import INVOCATION_TIMEOUT_S, Instance
from localcloud.sagemaker.transform.inputs import InputObject, output_location
from localcloud.sagemaker.transform.records import DataProcessing, RecordError, assemble, batches, split

LOG_GROUP = "/aws/sagemaker/TransformJobs"


class Failure(Exception):
    """The job fails with this reason."""


class _Retryable(Exception):
    """A failed request that ModelClientConfig's retries may try again; `reason` fails the job if none is left."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sagemaker_line(text: str) -> tuple[int, str]:
    """A data-log event as AWS writes it: `<ISO time>:[sagemaker logs]: <text>`."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
    return int(now * 1000), f"{stamp}:[sagemaker logs]: {text}"


@dataclass(frozen=True)
class Settings:
    """What a job asks of every object, read once from its record."""

    split_type: str
    strategy: str
    max_payload_mb: int
    content_type: str
    accept: str
    compressed: bool
    assemble_with: str
    output_path: str
    processing: DataProcessing
    timeout_s: float
    max_retries: int

    @classmethod
    def of(cls, job: dict[str, Any]) -> Settings:
        transform_input, output = job["TransformInput"], job["TransformOutput"]
        return cls(
            split_type=transform_input.get("SplitType", "None"),
            strategy=job.get("BatchStrategy", "SingleRecord"),
            max_payload_mb=job["MaxPayloadInMB"],
            content_type=transform_input.get("ContentType") or "application/octet-stream",
            accept=output.get("Accept") or "",
            compressed=transform_input.get("CompressionType") == "Gzip",
            assemble_with=output.get("AssembleWith", "None"),
            output_path=output["S3OutputPath"],
            processing=DataProcessing.of(job.get("DataProcessing")),
            **_client_config(job.get("ModelClientConfig")),
        )


def _client_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """ModelClientConfig's timeout and retries, with the API reference's defaults for a field left out (600 s,
    3 retries); a job without one keeps the model server's 60 s and no retry."""
    if not config:
        return {"timeout_s": INVOCATION_TIMEOUT_S, "max_retries": 0}
    return {
        "timeout_s": float(config.get("InvocationsTimeoutInSeconds", 600)),
        "max_retries": int(config.get("InvocationsMaxRetries", 3)),
    }


class Worker:
    """What is done to one object on its way through one instance: read, answered, written."""

    def __init__(
        self, settings: Settings, instance: Instance, objects: RoleObjects, logs: RoleLogs, data_log: str
    ) -> None:
        self.settings, self.instance, self.objects, self.logs = settings, instance, objects, logs
        self.data_log = data_log

    def answer(self, item: InputObject, data: bytes, abort: threading.Event) -> tuple[bytes, str] | None:
        """The object's `.out` and its content type (None when the job stopped meanwhile); Failure on any error."""
        settings = self.settings
        try:
            settings.processing.check_content(settings.content_type)
            records = split(data, settings.split_type)
            groups = batches(records, settings.strategy, settings.split_type, settings.max_payload_mb)
            answers: list[bytes] = []
            produced = settings.accept or "application/json"
            for batch in groups:
                if abort.is_set():
                    return None
                body = settings.processing.request(batch)
                answer, produced = self._invoke(item, body)
                answers += settings.processing.answers(batch, answer)
        except RecordError as exc:
            self._log(f"{item.name}: ClientError: {exc}")
            raise Failure(f"ClientError: {item.name}: {exc}. See job logs for more information.") from None
        return assemble(answers, settings.assemble_with), produced

    def read(self, item: InputObject) -> bytes:
        """The object's bytes, read as the role (and unzipped when CompressionType says Gzip); Failure if not."""
        try:
            data = self.objects.object_path(item.bucket, item.key).read_bytes()
        except AwsError as exc:
            self._log(f"{item.name}: ClientError: {exc.code}")
            raise Failure(
                f"ClientError: Failed to download data from s3://{item.bucket}/{item.key}: {exc.code}: {exc.message}"
            ) from None
        if not self.settings.compressed:
            return data
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            self._log(f"{item.name}: ClientError: not gzip")
            raise Failure(f"ClientError: {item.name} is not Gzip data as CompressionType says: {exc}") from None

    def _invoke(self, item: InputObject, body: bytes) -> tuple[bytes, str]:
        """The model's answer to one request; a timeout, a lost connection or a 5xx is tried again up to
        InvocationsMaxRetries times (a 4xx is the input's fault and would only fail again)."""
        for retry in range(1, self.settings.max_retries + 1):
            try:
                return self._invoke_once(item, body)
            except _Retryable:
                self._log(f"{item.name}: retrying ({retry} of {self.settings.max_retries})")
        try:
            return self._invoke_once(item, body)
        except _Retryable as exc:
            raise Failure(exc.reason) from None

    def _invoke_once(self, item: InputObject, body: bytes) -> tuple[bytes, str]:
        timeout = self.settings.timeout_s
        try:
            response = self.instance.invoke(body, self.settings.content_type, self.settings.accept, timeout)
        except TimeoutError:
            self._log(f"{item.name}: Model server did not respond to /invocations request within {timeout:g} seconds")
            raise _Retryable(
                f"AlgorithmError: {item.name}: the model did not answer within {timeout:g} seconds."
            ) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self._log(f"{item.name}: Unable to get response from algorithm")
            raise _Retryable(
                f"AlgorithmError: {item.name}: the model's container stopped while handling it (exit code "
                f"{self.instance.process.poll()}): {self.instance.last_log_lines()} ({type(exc).__name__})"
            ) from None
        if response.status != 200:
            message = response.body.decode(errors="replace").strip()[:500]
            kind = "ClientError" if 400 <= response.status < 500 else "AlgorithmError"
            self._log(f"{item.name}: {kind}: {response.status}")
            self._log(f"{item.name}: {message}")
            reason = (
                f"{kind}: {item.name}: the model answered {response.status} ({message}). "
                "See job logs for more information."
            )
            raise Failure(reason) if kind == "ClientError" else _Retryable(reason)
        return response.body, response.content_type

    def write(self, item: InputObject, data: bytes, content_type: str) -> None:
        """The `.out` to S3 as the role, at the object's path below the output path; Failure if refused."""
        bucket, key = output_location(self.settings.output_path, item)
        try:
            self.objects.put_bytes(bucket, key, data, content_type)
        except AwsError as exc:
            self._log(f"{item.name}: ClientError: {exc.code} writing s3://{bucket}/{key}")
            raise Failure(
                f"ClientError: Failed to upload results to s3://{bucket}/{key}: {exc.code}: {exc.message}"
            ) from None

    def _log(self, text: str) -> None:
        self.logs.put_events(LOG_GROUP, self.data_log, [sagemaker_line(text)])


class Pipeline:
    """One instance's share of the objects: read ahead, sent `concurrency` at a time, written behind, so that
    the instance does not wait on S3 between requests. The first Failure goes to `fail` and sets `abort`."""

    def __init__(
        self,
        worker: Worker,
        items: list[InputObject],
        concurrency: int,
        abort: threading.Event,
        fail: Callable[[str], None],
    ) -> None:
        self.worker, self.items, self.concurrency, self.abort, self.fail = worker, items, concurrency, abort, fail
        self._ready: queue.Queue[tuple[InputObject, bytes] | None] = queue.Queue(maxsize=concurrency + 1)
        self._answered: queue.SimpleQueue[tuple[InputObject, bytes, str] | None] = queue.SimpleQueue()
        self._senders = [threading.Thread(target=self._guarded, args=(self._send,)) for _ in range(concurrency)]
        self._stages = [threading.Thread(target=self._guarded, args=(self._read_ahead,)), *self._senders]
        self._writer = threading.Thread(target=self._guarded, args=(self._write_behind,))

    def start(self) -> None:
        for thread in [*self._stages, self._writer]:
            thread.daemon = True
            thread.start()

    def wait(self, every: Callable[[], None]) -> None:
        """Until every object is written (or the job stopped or failed), calling `every` twice a second."""
        for thread in self._stages:
            while thread.is_alive():
                thread.join(timeout=0.5)
                every()
        self._answered.put(None)
        while self._writer.is_alive():
            self._writer.join(timeout=0.5)
            every()

    def _guarded(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except Failure as failure:
            self.fail(str(failure))
            self.abort.set()
        except Exception as exc:  # noqa: BLE001 - an object is never skipped silently: the job fails instead
            self.fail(f"InternalServerError: {type(exc).__name__}: {exc}")
            self.abort.set()

    def _read_ahead(self) -> None:
        try:
            for item in self.items:
                if self.abort.is_set():
                    return
                self._put(self._ready, (item, self.worker.read(item)))
        finally:
            for _ in self._senders:
                self._put(self._ready, None)

    def _put(self, target: queue.Queue, entry: object) -> None:
        """Wait for room unless the job is ending (its senders may be gone)."""
        while True:
            try:
                target.put(entry, timeout=0.2)
                return
            except queue.Full:
                if self.abort.is_set():
                    return

    def _send(self) -> None:
        while not self.abort.is_set():
            try:
                entry = self._ready.get(timeout=0.2)
            except queue.Empty:
                continue
            if entry is None:
                return
            answered = self.worker.answer(*entry, self.abort)
            if answered is not None:
                self._answered.put((entry[0], *answered))

    def _write_behind(self) -> None:
        while (entry := self._answered.get()) is not None:
            if not self.abort.is_set():
                self.worker.write(*entry)
