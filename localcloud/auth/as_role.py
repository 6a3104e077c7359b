"""S3, CloudWatch Logs and metrics as an execution role sees them.

SageMaker makes every access for a training job (channels, code, model, output data, recordings, logs,
metrics) and for an endpoint (the model artifact) with the execution role's credentials, and Lambda writes a
function's logs with its role's, so a role without the permission fails on AWS. These wrappers give a
service's runners the interfaces they had (core's ObjectStore, LogSink, MetricSink) with each access decided
by the role's policies first (acting.py):

- S3 answers as S3 does: NoSuchBucket for a missing bucket; AccessDenied unless the role may; and for a
  missing key, NoSuchKey only when the role may also list the bucket (else AccessDenied, so that a denied
  caller learns nothing of what exists).
- Logs and metrics a role may not write are dropped, as on AWS, where such a job runs without them; the refusal
  is in the event history.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from localcloud.auth.acting import ExecutionRoles
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.metric_sink import Datapoint, MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.log import log
from localcloud.core.protocol import AwsError


class RoleSession:
    """One job's (or endpoint's) session as its execution role."""

    def __init__(self, roles: ExecutionRoles, role_arn: str, session: str, region: str) -> None:
        self.roles, self.role_arn, self.session, self.region = roles, role_arn, session[:64], region
        self.account = role_arn.split(":")[4]

    def act(
        self, action: str, resource: str, parameters: dict[str, object], context: dict[str, list[str]] | None = None
    ) -> None:
        """AccessDenied (AwsError) unless the role may; recorded either way, with the request's `parameters`."""
        self.roles.act(
            self.role_arn, self.session, self.region, action, resource, context=context, parameters=parameters
        )

    def allowed(
        self, action: str, resource: str, parameters: dict[str, object], context: dict[str, list[str]] | None = None
    ) -> bool:
        try:
            self.act(action, resource, parameters, context)
        except AwsError:
            return False
        return True


class RoleObjects:
    """core's ObjectStore, each access made as the role."""

    def __init__(self, objects: ObjectStore, session: RoleSession) -> None:
        self.objects, self.session = objects, session

    def keys(self, bucket: str, prefix: str) -> list[str]:
        keys = self.objects.keys(bucket, prefix)  # NoSuchBucket first, as S3 answers
        self.session.act(
            "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"Bucket": bucket, "Prefix": prefix}, {"s3:prefix": [prefix]}
        )
        return keys

    def object_path(self, bucket: str, key: str) -> Path:
        self.objects.keys(bucket, key)  # NoSuchBucket first
        self.session.act("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", {"Bucket": bucket, "Key": key})
        try:
            return self.objects.object_path(bucket, key)
        except AwsError as error:
            if error.code != "NoSuchKey":
                raise
            # S3 tells a caller that may not list the bucket AccessDenied, not whether the key exists.
            self.session.act(
                "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"Bucket": bucket, "Prefix": key}, {"s3:prefix": [key]}
            )
            raise

    def put_file(self, bucket: str, key: str, source: Path, content_type: str = "application/x-gzip") -> None:
        self.objects.keys(bucket, key)  # NoSuchBucket first
        self.session.act("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", {"Bucket": bucket, "Key": key})
        self.objects.put_file(bucket, key, source, content_type)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "binary/octet-stream") -> None:
        self.objects.keys(bucket, key)  # NoSuchBucket first
        self.session.act("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", {"Bucket": bucket, "Key": key})
        self.objects.put_bytes(bucket, key, data, content_type)


class RoleLogs:
    """core's LogSink, written as the role: a stream the role may not create or write to gets nothing."""

    def __init__(self, logs: LogSink, session: RoleSession) -> None:
        self.logs, self.session = logs, session
        self._streams: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        with self._lock:
            may = self._streams.get((group, stream))
            if may is None:
                may = self._streams[(group, stream)] = self._may_write(group, stream)
        if may:
            self.logs.put_events(group, stream, events)

    def _may_write(self, group: str, stream: str) -> bool:
        """Checked once a stream, as SageMaker creates the stream once and then writes to it."""
        arn = f"arn:aws:logs:{self.session.region}:{self.session.account}:log-group:{group}"
        names = {"logGroupName": group, "logStreamName": stream}
        may = self.session.allowed("logs:CreateLogStream", f"{arn}:log-stream:{stream}", names) and (
            self.session.allowed("logs:PutLogEvents", f"{arn}:log-stream:{stream}", names)
        )
        if not may:
            log(f"{self.session.session}: its role may not write to {group}:{stream}; its logs are dropped, as on AWS")
        return may


class RoleMetrics:
    """core's MetricSink, published as the role (cloudwatch:PutMetricData, with `cloudwatch:namespace`)."""

    def __init__(self, metrics: MetricSink, session: RoleSession) -> None:
        self.metrics, self.session = metrics, session
        self._namespaces: dict[str, bool] = {}

    def _may(self, namespace: str) -> bool:
        if namespace not in self._namespaces:
            self._namespaces[namespace] = self.session.allowed(
                "cloudwatch:PutMetricData", "*", {"Namespace": namespace}, {"cloudwatch:namespace": [namespace]}
            )
        return self._namespaces[namespace]

    def put(self, namespace: str, name: str, dimensions: dict[str, str], timestamp: float, value: float) -> None:
        if self._may(namespace):
            self.metrics.put(namespace, name, dimensions, timestamp, value)

    def put_many(self, namespace: str, data: list[Datapoint]) -> None:
        if self._may(namespace):
            self.metrics.put_many(namespace, data)


@dataclass(frozen=True)
class RoleAccess:
    """S3, logs and metrics as a job's (or endpoint's) execution role: how SageMaker reaches them for it."""

    objects: RoleObjects
    logs: RoleLogs
    metrics: RoleMetrics

    @classmethod
    def of(cls, session: RoleSession, objects: ObjectStore, logs: LogSink, metrics: MetricSink) -> RoleAccess:
        return cls(RoleObjects(objects, session), RoleLogs(logs, session), RoleMetrics(metrics, session))
