"""One input object through a transform instance: read as the model's role, split, sent, answered, written.

A failure becomes `Failure`, whose reason is the job's FailureReason in AWS's kind of words (`ClientError: ...`
for what the input, the role or the request got wrong, `AlgorithmError: ...` for the model's own failures),
naming the object; the data log (`<job>/<instance>/data-log`) gets AWS's `[sagemaker logs]` lines for it.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.auth.as_role import RoleLogs, RoleObjects
from localcloud.core.protocol import AwsError
from localcloud.sagemaker.fleet import Instance
from localcloud.sagemaker.transform.inputs import InputObject, output_location
from localcloud.sagemaker.transform.records import DataProcessing, RecordError, assemble, batches, split

LOG_GROUP = "/aws/sagemaker/TransformJobs"


class Failure(Exception):
    """The job fails with this reason."""


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
        )


class Worker:
    """Sends objects to one instance; as many of these per instance as MaxConcurrentTransforms."""

    def __init__(
        self,
        settings: Settings,
        instance: Instance,
        objects: RoleObjects,
        logs: RoleLogs,
        data_log: str,
        scratch: Path,
        abort: threading.Event,
    ) -> None:
        self.settings, self.instance, self.objects, self.logs = settings, instance, objects, logs
        self.data_log, self.scratch, self.abort = data_log, scratch, abort

    def transform(self, item: InputObject) -> None:
        """Transform one object and write its `.out`; Failure on any error."""
        settings = self.settings
        data = self._read(item)
        try:
            settings.processing.check_content(settings.content_type)
            records = split(data, settings.split_type)
            groups = batches(records, settings.strategy, settings.split_type, settings.max_payload_mb)
            answers: list[bytes] = []
            produced = settings.accept or "application/json"
            for batch in groups:
                if self.abort.is_set():
                    return
                body = settings.processing.request(batch)
                answer, produced = self._invoke(item, body)
                answers += settings.processing.answers(batch, answer)
        except RecordError as exc:
            self._log(f"{item.name}: ClientError: {exc}")
            raise Failure(f"ClientError: {item.name}: {exc}. See job logs for more information.") from None
        self._write(item, assemble(answers, settings.assemble_with), produced)

    def _read(self, item: InputObject) -> bytes:
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
        try:
            response = self.instance.invoke(body, self.settings.content_type, self.settings.accept)
        except TimeoutError:
            self._log(f"{item.name}: Model server did not respond to /invocations request within 60 seconds")
            raise Failure(f"AlgorithmError: {item.name}: the model did not answer within 60 seconds.") from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self._log(f"{item.name}: Unable to get response from algorithm")
            raise Failure(
                f"AlgorithmError: {item.name}: the model's container stopped while handling it (exit code "
                f"{self.instance.process.poll()}): {self.instance.last_log_lines()} ({type(exc).__name__})"
            ) from None
        if response.status != 200:
            message = response.body.decode(errors="replace").strip()[:500]
            kind = "ClientError" if 400 <= response.status < 500 else "AlgorithmError"
            self._log(f"{item.name}: {kind}: {response.status}")
            self._log(f"{item.name}: {message}")
            raise Failure(
                f"{kind}: {item.name}: the model answered {response.status} ({message}). "
                "See job logs for more information."
            )
        return response.body, response.content_type

    def _write(self, item: InputObject, data: bytes, content_type: str) -> None:
        bucket, key = output_location(self.settings.output_path, item)
        scratch = self.scratch / f"{uuid.uuid4().hex}.out"
        scratch.write_bytes(data)
        try:
            self.objects.put_file(bucket, key, scratch, content_type)
        except AwsError as exc:
            self._log(f"{item.name}: ClientError: {exc.code} writing s3://{bucket}/{key}")
            raise Failure(
                f"ClientError: Failed to upload results to s3://{bucket}/{key}: {exc.code}: {exc.message}"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(scratch)

    def _log(self, text: str) -> None:
        self.logs.put_events(LOG_GROUP, self.data_log, [sagemaker_line(text)])
