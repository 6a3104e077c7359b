"""Debugging and profiling a training job: its own recording (classifier/recording/reader.py) read from S3,
judged by the same rules the job ran (classifier/rules/debugger_rules.py, classifier/rules/profiler_rules.py), and any
statuses real SageMaker Debugger left on the job.

Where the recording is: the job's TensorBoardOutputConfig.S3OutputPath, else ``<output>/<job>/tensorboard``
(where the dashboard's SageMaker and EC2 jobs put it). A tuning trial has no TensorBoardOutputConfig (a tuning
job's training definition has no such field, so SageMaker syncs nothing while a trial runs): its script records
into its output data, and the recording is read from the ``tensorboard/`` folder of the trial's output.tar.gz.
Reading is cached by the objects' ETags, so a page that refreshes while the job runs downloads only when something
changed.
"""

from __future__ import annotations

import io
import tarfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3

from classifier.recording.parts import MAX_STREAM_BYTES, plan_reading
from classifier.recording.reader import Recording, load_recording
from classifier.rules.debugger_rules import DEBUG_RULES, RuleResult, evaluate_rule
from classifier.rules.profiler_rules import ProfilerRuleResult, UsageRow, evaluate_profiler_report, system_usage
from classifier.rules.rule_params import RuleParameterError, RuleSpec
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.training.job_spec import check_job_name

_CACHE_ENTRIES = 8
TRIAL_RECORDING_FOLDER = "tensorboard/"
"""Where a tuning trial's script records in its output data (classifier/training/config.py), so in output.tar.gz."""
MAX_ARCHIVE_BYTES = 1024 * 2**20
"""A trial's output.tar.gz is read whole (gzip cannot be read from the middle): larger ones are left to download."""
_cache: OrderedDict[tuple, Any] = OrderedDict()
Loaded = TypeVar("Loaded")
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class RuleStatus:
    """One rule status as DescribeTrainingJob reports it (from localcloud, or from real Debugger)."""

    configuration: str
    status: str
    details: str
    modified: datetime | None
    kind: str
    """"debug" or "profiler"."""


@dataclass
class JobRecording:
    """What a job recorded, where it came from, and what is wrong with it, if anything."""

    job_name: str
    location: str | None
    recording: Recording
    files: int = 0
    bytes: int = 0
    running: bool = False
    statuses: list[RuleStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Missing or cut-short parts, in words an operator can act on."""

    @property
    def empty(self) -> bool:
        rec = self.recording
        return not (rec.scalars or rec.system or rec.timeline)


class DebuggingService(AwsService):
    """Reads training recordings and evaluates rules on them (AWS or localcloud alike)."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        s3_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client, "s3": s3_client}
        )

    def job_recording(self, name: str) -> JobRecording:
        """The recording of training job ``name`` (a SageMaker job; EC2 jobs use ``recording_at``)."""
        check_job_name(name)
        try:
            raw = self._client("sagemaker").describe_training_job(TrainingJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe training job '{name}'") from exc
        location = (raw.get("TensorBoardOutputConfig") or {}).get("S3OutputPath")
        output = (raw.get("OutputDataConfig") or {}).get("S3OutputPath")
        running = raw["TrainingJobStatus"] in ("InProgress", "Stopping")
        if not location and output and raw.get("TuningJobArn"):
            archive = f"{output.rstrip('/')}/{name}/output/output.tar.gz"
            result = self._trial_recording(name, raw["TuningJobArn"].rsplit("/", 1)[-1], archive, running=running)
        else:
            if not location and output:
                location = f"{output.rstrip('/')}/{name}/tensorboard"
            result = self.recording_at(name, location, running=running)
        result.statuses = _statuses(raw)
        return result

    def _trial_recording(self, name: str, tuning_job: str, archive: str, *, running: bool) -> JobRecording:
        """A tuning trial's recording, from the ``tensorboard/`` folder of its output.tar.gz (there once it ended)."""
        why = (
            f"{name} is a trial of tuning job {tuning_job}. SageMaker gives tuning trials no TensorBoard, Debugger or "
            "profiler settings (a tuning job's training definition has no such fields), so nothing is synced while a "
            f"trial runs: its script records into its output data, which SageMaker uploads as {archive} when the "
            "trial ends."
        )
        result = JobRecording(name, archive, Recording(), running=running)
        if running:
            result.notes.append(f"{why} The Debugger and Profiler views appear then.")
            return result
        bucket, _, key = archive.removeprefix("s3://").partition("/")
        try:
            head = self._client("s3").head_object(Bucket=bucket, Key=key)
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise from_client_error(exc, what=f"look for {archive}") from exc
            result.notes.append(f"{why} There is no such file: the trial failed before SageMaker uploaded it.")
            return result
        if head["ContentLength"] > MAX_ARCHIVE_BYTES:
            result.notes.append(
                f"{why} It holds {head['ContentLength'] / 2**20:.0f} MB, more than the dashboard reads at once "
                f"({MAX_ARCHIVE_BYTES / 2**20:.0f} MB): download it and read its {TRIAL_RECORDING_FOLDER} folder."
            )
            return result

        def load() -> tuple[Recording, dict[str, int], list[str]]:
            """The recording, its files' sizes and what the reading cap left out."""
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
                members = {
                    m.name.removeprefix("./")[len(TRIAL_RECORDING_FOLDER) :]: m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.removeprefix("./").startswith(TRIAL_RECORDING_FOLDER)
                }
                plan = plan_reading({path: m.size for path, m in members.items()}, MAX_STREAM_BYTES)
                data = {path: _read(tar, members[path], length) for path, length in plan.lengths.items()}
            return load_recording(data, cut=plan.cut), {p: m.size for p, m in members.items()}, plan.notes

        try:
            result.recording, files, cut = _cached(
                ("archive", bucket, key, head.get("ETag", ""), head["ContentLength"], MAX_STREAM_BYTES), load
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read {archive}") from exc
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ServiceError(f"{archive} is not a readable .tar.gz archive: {exc}.") from exc
        result.files, result.bytes = len(files), sum(files.values())
        result.notes.extend(cut)
        if result.empty:
            result.notes.append(
                f"{why} It holds no recording in its {TRIAL_RECORDING_FOLDER} folder: the trial ran without recording "
                "(record=false), with a training script that does not record, or with one that kept its recording "
                "beside the TensorBoard path, which SageMaker does not upload for a trial."
            )
        else:
            result.notes.extend(_notes(result.recording, running=False))
        return result

    def recordings_of(self, names: list[str]) -> tuple[dict[str, Recording], list[str]]:
        """The recordings of several jobs, for overlaying their losses: those that recorded a per-step training
        loss, and a sentence for each job that did not (or could not be read), naming it."""
        found: dict[str, Recording] = {}
        missing: list[str] = []
        for name in names:
            try:
                data = self.job_recording(name)
            except ServiceError as exc:
                missing.append(f"{name}: {exc.message}")
                continue
            if data.recording.series("Loss/train") is None:
                where = f" at {data.location}" if data.location else ""
                missing.append(f"{name} has no recording of its per-step loss{where}.")
            else:
                found[name] = data.recording
        return found, missing

    def recording_at(self, name: str, location: str | None, *, running: bool = False) -> JobRecording:
        """The recording under an S3 prefix (``s3://bucket/prefix``)."""
        if not location:
            return JobRecording(name, None, Recording(), running=running, notes=["The job names no output path."])
        parts = urlsplit(location)
        if parts.scheme != "s3" or not parts.netloc:
            raise ServiceError(f"The recording location must be an s3:// URI, got {location!r}.")
        bucket, prefix = parts.netloc, parts.path.strip("/") + "/"
        objects = self._list(bucket, prefix, location)
        result = JobRecording(name, location, Recording(), running=running)
        result.files, result.bytes = len(objects), sum(o["Size"] for o in objects)
        if not objects:
            result.notes.append(
                f"Nothing is recorded at {location} yet."
                if running
                else f"Nothing was recorded at {location}: the job ran without recording (record=false), with a "
                "training script that does not record, or its files were deleted."
            )
            return result
        # Each stream's parts in order up to the reader's cap, so the page stays responsive on a long run
        plan = plan_reading({o["Key"][len(prefix) :]: o["Size"] for o in objects}, MAX_STREAM_BYTES)
        result.notes.extend(plan.notes)
        key = (bucket, MAX_STREAM_BYTES, tuple(sorted((o["Key"], o.get("ETag", ""), o["Size"]) for o in objects)))
        result.recording = _cached(
            key, lambda: load_recording(self._download(bucket, prefix, objects, plan.lengths), cut=plan.cut)
        )
        result.notes.extend(_notes(result.recording, running))
        return result

    def _list(self, bucket: str, prefix: str, location: str) -> list[dict[str, Any]]:
        try:
            pages = self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [o for page in pages for o in page.get("Contents", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the recording at {location}") from exc

    def _download(
        self, bucket: str, prefix: str, objects: list[dict[str, Any]], lengths: dict[str, int]
    ) -> dict[str, bytes]:
        """The first ``lengths[path]`` bytes of each object the reading plan takes (the others are left)."""
        s3 = self._client("s3")
        objects = [o for o in objects if o["Key"][len(prefix) :] in lengths]

        def one(obj: dict[str, Any]) -> tuple[str, bytes]:
            path = obj["Key"][len(prefix) :]
            extra = {"Range": f"bytes=0-{lengths[path] - 1}"} if lengths[path] < obj["Size"] else {}
            return path, s3.get_object(Bucket=bucket, Key=obj["Key"], **extra)["Body"].read()

        try:
            with ThreadPoolExecutor(max_workers=min(8, len(objects)) or 1) as pool:
                return dict(pool.map(one, objects))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the recording in s3://{bucket}/{prefix}") from exc


def _cached(key: tuple, load: Callable[[], Loaded]) -> Loaded:
    """What was read for `key` (the objects and their ETags) earlier, or `load`'s, kept for next time."""
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    loaded = load()
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return loaded


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, length: int) -> bytes:
    extracted = tar.extractfile(member)
    return extracted.read(length) if extracted is not None else b""


def rule_specs() -> dict[str, RuleSpec]:
    """Each Debugger rule's parameters and defaults, for forms."""
    return {name: spec for name, (spec, _) in DEBUG_RULES.items()}


def evaluate_rules(recording: JobRecording, overrides: dict[str, dict[str, object]] | None = None) -> list[RuleResult]:
    """Every Debugger rule on the recording, with ``overrides`` (rule -> parameters) where given.
    Parameters out of range or of the wrong type raise ServiceError before anything is evaluated."""
    overrides = overrides or {}
    for name, parameters in overrides.items():
        check_rule_parameters(name, parameters)
    return [
        evaluate_rule(name, recording.recording, overrides.get(name), finished=not recording.running)
        for name in DEBUG_RULES
    ]


def check_rule_parameters(name: str, parameters: dict[str, object]) -> dict[str, Any]:
    """The typed parameters of rule ``name``, or ServiceError saying which one is wrong and what it takes."""
    if name not in DEBUG_RULES:
        raise ServiceError(f"There is no Debugger rule named {name!r}; the rules are {', '.join(DEBUG_RULES)}.")
    try:
        return DEBUG_RULES[name][0].parse(parameters)
    except RuleParameterError as exc:
        raise ServiceError(f"{name}: {exc}") from None


def profiler_report(
    recording: JobRecording, overrides: dict[str, object] | None = None
) -> tuple[list[ProfilerRuleResult], list[UsageRow]]:
    """ProfilerReport's rules (``<Rule>_<parameter>`` overrides) and the system usage table."""
    try:
        results = evaluate_profiler_report(recording.recording, overrides)
    except RuleParameterError as exc:
        raise ServiceError(f"ProfilerReport: {exc}") from None
    return results, system_usage(recording.recording)


def _statuses(raw: dict[str, Any]) -> list[RuleStatus]:
    found = []
    for key, kind in (("DebugRuleEvaluationStatuses", "debug"), ("ProfilerRuleEvaluationStatuses", "profiler")):
        for status in raw.get(key) or []:
            found.append(
                RuleStatus(
                    status.get("RuleConfigurationName", ""),
                    status.get("RuleEvaluationStatus", ""),
                    status.get("StatusDetails", ""),
                    status.get("LastModifiedTime"),
                    kind,
                )
            )
    return found


def _notes(recording: Recording, running: bool) -> list[str]:
    """What is wrong with the files, in words (what the reading cap left out is explained by the plan)."""
    notes = []
    cut = "still being written" if running else "cut short (the job may have been killed while writing)"
    notes.extend(f"{problem}; the file is {cut}, so what is whole is shown." for problem in recording.problems)
    if not recording.scalars:
        notes.append("No losses or gradients were recorded (only the leader host, algo-1, records them).")
    if not recording.system:
        notes.append("No system samples were recorded.")
    return notes
