"""The Debugger, profiler and TensorBoard fields of a training job, honoured as SageMaker does.

- TensorBoardOutputConfig: the job's LocalPath (default /opt/ml/output/tensorboard, mapped onto each host's
  directory as /opt/ml is) is synced to S3OutputPath while the job runs and once more when it ends; hosts write
  files of distinct names (classifier/recording/reader.py), so they share the prefix.
- DebugHookConfig and ProfilerConfig: written for the program as SageMaker writes them
  (``/opt/ml/input/config/debughookconfig.json``, ``profilerconfig.json``); the profiling interval must be one
  SageMaker allows.
- DebugRuleConfigurations / ProfilerRuleConfigurations: each names its rule in ``rule_to_invoke``; unknown
  rules and bad parameters are refused with ValidationException. The rules run on what the job recorded, with
  the same code the job and the dashboard use (classifier/rules/debugger_rules.py and
  profiler_rules.py), and
  DescribeTrainingJob reports their statuses.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.recording.parts import growing
from classifier.recording.reader import Recording, RecordingReader, recording_files
from classifier.recording.system_monitor import PROFILING_INTERVALS_MS
from classifier.rules.debugger_rules import DEBUG_RULES, evaluate_rule, status_details
from classifier.rules.profiler_rules import (
    PROFILER_RULES,
    evaluate_profiler_report,
    parse_report_parameters,
    report_status,
)
from classifier.rules.rule_params import RuleParameterError
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import ACCOUNT_ID, validation

DEFAULT_LOCAL_PATH = "/opt/ml/output/tensorboard"
CONTAINER_ROOT = "/opt/ml/"
SYNC_SECONDS = 2.0
"""How often a running job's recording is copied to S3."""
RULES_SECONDS = 10.0
"""How often a running job's rules are re-evaluated (each time decoding what was recorded since)."""


def check_request(p: dict[str, Any]) -> None:
    """Refuse what SageMaker refuses in the Debugger, profiler and TensorBoard fields of CreateTrainingJob
    (the shapes themselves were checked against botocore's model already)."""
    tensorboard = p.get("TensorBoardOutputConfig")
    if tensorboard:
        local = tensorboard.get("LocalPath") or DEFAULT_LOCAL_PATH
        if not local.startswith(CONTAINER_ROOT):
            raise validation(
                f"TensorBoardOutputConfig.LocalPath {local!r} must be a directory under {CONTAINER_ROOT} "
                "(localcloud maps the container's /opt/ml onto each host)."
            )
    interval = (p.get("ProfilerConfig") or {}).get("ProfilingIntervalInMilliseconds")
    if interval is not None and interval not in PROFILING_INTERVALS_MS:
        raise validation(
            f"Value '{interval}' at 'profilerConfig.profilingIntervalInMilliseconds' failed to satisfy constraint: "
            f"Member must be one of {list(PROFILING_INTERVALS_MS)}"
        )
    for field_name, rules in (("DebugRuleConfigurations", DEBUG_RULES), ("ProfilerRuleConfigurations", None)):
        names: set[str] = set()
        for config in p.get(field_name) or []:
            name = config["RuleConfigurationName"]
            if name in names:
                raise validation(f"{field_name} has two rules named {name!r}; RuleConfigurationName must be unique.")
            names.add(name)
            _check_rule(field_name, config, rules)


def _check_rule(field_name: str, config: dict[str, Any], rules: dict[str, Any] | None) -> None:
    parameters = config.get("RuleParameters") or {}
    rule = parameters.get("rule_to_invoke")
    known = list(rules) if rules is not None else ["ProfilerReport", *PROFILER_RULES]
    if rule not in known:
        raise validation(
            f"{field_name} {config['RuleConfigurationName']!r}: RuleParameters.rule_to_invoke must name a built-in "
            f"rule ({', '.join(known)}), got {rule!r}."
        )
    try:
        if rules is not None:
            rules[rule][0].parse(parameters)
        elif rule == "ProfilerReport":
            parse_report_parameters(parameters)
        else:
            PROFILER_RULES[rule][0].parse(parameters)
    except RuleParameterError as exc:
        raise validation(f"{field_name} {config['RuleConfigurationName']!r}: {exc}") from None


def host_local_path(job: dict[str, Any], host_dir: Path) -> Path:
    """Where a host's TensorBoard LocalPath lives on this machine (/opt/ml/... is the host's directory)."""
    local = (job.get("TensorBoardOutputConfig") or {}).get("LocalPath") or DEFAULT_LOCAL_PATH
    return host_dir / local[len(CONTAINER_ROOT) :]


def write_container_config(job: dict[str, Any], input_dir: Path) -> None:
    """``input/config/debughookconfig.json`` and ``profilerconfig.json``, as SageMaker gives the container."""
    config_dir = input_dir / "config"
    for field_name, file_name in (
        ("DebugHookConfig", "debughookconfig.json"),
        ("ProfilerConfig", "profilerconfig.json"),
    ):
        if job.get(field_name):
            config_dir.mkdir(parents=True, exist_ok=True)
            (config_dir / file_name).write_text(json.dumps(job[field_name]), encoding="utf-8")


def initial_fields(p: dict[str, Any], arn: str) -> dict[str, Any]:
    """The request's fields echoed on DescribeTrainingJob, and every configured rule InProgress."""
    record: dict[str, Any] = {}
    for key in (
        "TensorBoardOutputConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "ProfilerConfig",
        "ProfilerRuleConfigurations",
    ):
        if p.get(key):
            record[key] = p[key]
    if p.get("ProfilerConfig"):
        record["ProfilingStatus"] = "Disabled" if p["ProfilerConfig"].get("DisableProfiler") else "Enabled"
    now = time.time()
    for configs, statuses in (
        ("DebugRuleConfigurations", "DebugRuleEvaluationStatuses"),
        ("ProfilerRuleConfigurations", "ProfilerRuleEvaluationStatuses"),
    ):
        if p.get(configs):
            record[statuses] = [
                {
                    "RuleConfigurationName": c["RuleConfigurationName"],
                    "RuleEvaluationJobArn": _rule_job_arn(arn, c["RuleConfigurationName"]),
                    "RuleEvaluationStatus": "InProgress",
                    "LastModifiedTime": now,
                }
                for c in p[configs]
            ]
    return record


def _rule_job_arn(job_arn: str, rule_name: str) -> str:
    """A processing-job ARN per rule, as SageMaker ran each rule in its own processing job."""
    region, job = job_arn.split(":")[3], job_arn.rsplit("/", 1)[1]
    digest = hashlib.sha1(f"{job_arn}/{rule_name}".encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", f"{job[:26]}-{rule_name[:26]}").strip("-")
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:processing-job/{stem}-{digest}"


@dataclass
class RecordingSync:
    """Copies a job's recording to S3 as it grows and keeps its rule statuses current.

    S3 has no append, so a file is uploaded once it is complete: the recorder writes each stream as parts in a
    directory of its own (classifier/recording/parts.py) and only the last part of a directory may still grow;
    that one is uploaded when the job ends. The rules read the parts where the job runs, up to the reader's cap,
    decoding only what is new since their last look (classifier/recording/reader.py's RecordingReader).
    """

    job: dict[str, Any]
    host_dirs: list[Path]
    last_sync: float = 0.0
    last_rules: float = 0.0
    uploaded: dict[Path, tuple[int, int]] = field(default_factory=dict)
    reader: RecordingReader = field(default_factory=RecordingReader)

    def files(self) -> dict[str, Path]:
        return recording_files(*(host_local_path(self.job, host_dir) for host_dir in self.host_dirs))

    def sync(self, objects: ObjectStore, *, force: bool = False) -> None:
        """Every SYNC_SECONDS, upload the files that are complete and not yet uploaded as they are; when ``force``
        (the job has ended), every file not yet uploaded as it is."""
        config = self.job.get("TensorBoardOutputConfig")
        if not config or (not force and time.monotonic() - self.last_sync < SYNC_SECONDS):
            return
        self.last_sync = time.monotonic()
        bucket, _, prefix = config["S3OutputPath"].split("://", 1)[1].partition("/")
        files = self.files()
        still_growing = set() if force else growing(files)
        for relative, path in files.items():
            if relative in still_growing:
                continue
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            if self.uploaded.get(path) == signature:
                continue
            key = f"{prefix.rstrip('/')}/{relative}" if prefix.strip("/") else relative
            objects.put_file(bucket, key, path, content_type="application/octet-stream")
            self.uploaded[path] = signature

    def statuses(self, *, finished: bool, stopped: bool = False, force: bool = False) -> dict[str, Any] | None:
        """Fresh DebugRuleEvaluationStatuses / ProfilerRuleEvaluationStatuses, or None when not due (or nothing
        changed). A rule that ended Error keeps it (its evaluation job failed). ``stopped``: the job is being
        stopped (StopTrainingJob, or MaxRuntimeInSeconds): its rules still InProgress are Stopping at once, and
        once it has ended they are Stopped after a last look at what was recorded (an issue found there, or an
        Error, stays)."""
        debug = self.job.get("DebugRuleEvaluationStatuses") or []
        profiler = self.job.get("ProfilerRuleEvaluationStatuses") or []
        if not debug and not profiler:
            return None
        now = time.time()
        if stopped and not finished:
            changed = [s for s in debug + profiler if s["RuleEvaluationStatus"] == "InProgress"]
            for status in changed:
                _update(status, "Stopping", "", now)
            return self._changes(debug, profiler) if changed else None
        if not force and time.monotonic() - self.last_rules < RULES_SECONDS:
            return None
        self.last_rules = time.monotonic()
        recording, unreadable = None, ""
        try:
            recording = self.reader.read(self.files())
        except OSError as exc:  # a file that cannot be read: tried again next time, the rules' Error at the end
            if not finished:
                return None
            unreadable = f"InternalServerError: Cannot read the recording: {exc}."
        verdict_final = finished and not stopped
        for kept, configurations, evaluate in (
            (debug, "DebugRuleConfigurations", _debug_status),
            (profiler, "ProfilerRuleConfigurations", _profiler_status),
        ):
            for status, config in zip(kept, self.job.get(configurations) or [], strict=True):
                if status["RuleEvaluationStatus"] == "Error":
                    continue
                parameters = dict(config.get("RuleParameters") or {})
                value, details = (
                    evaluate(recording, parameters, verdict_final) if recording is not None else ("Error", unreadable)
                )
                if stopped and value == "InProgress":
                    value, details = "Stopped", ""
                _update(status, value, details, now)
        return self._changes(debug, profiler)

    @staticmethod
    def _changes(debug: list[dict[str, Any]], profiler: list[dict[str, Any]]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if debug:
            changes["DebugRuleEvaluationStatuses"] = debug
        if profiler:
            changes["ProfilerRuleEvaluationStatuses"] = profiler
        return changes


def _debug_status(recording: Recording, parameters: dict[str, Any], finished: bool) -> tuple[str, str]:
    rule = parameters["rule_to_invoke"]
    try:
        result = evaluate_rule(rule, recording, parameters, finished=finished)
    except RuleParameterError as exc:  # checked at CreateTrainingJob; a record from an older localcloud
        return "Error", f"ClientError: {rule}: {exc}"[:1024]
    return result.status, status_details(result)


def _profiler_status(recording: Recording, parameters: dict[str, Any], finished: bool) -> tuple[str, str]:
    rule = parameters.pop("rule_to_invoke")
    if rule != "ProfilerReport":  # a single report rule: its parameters carry the rule's prefix
        parameters = {f"{rule}_{k}": v for k, v in parameters.items()}
    try:
        results = evaluate_profiler_report(recording, parameters)
    except RuleParameterError as exc:
        return "Error", f"ClientError: {rule}: {exc}"[:1024]
    if rule != "ProfilerReport":
        results = [r for r in results if r.rule == rule]
    return report_status(results, finished)


def _update(status: dict[str, Any], value: str, details: str, now: float) -> None:
    if status.get("RuleEvaluationStatus") != value or status.get("StatusDetails", "") != details:
        status["RuleEvaluationStatus"] = value
        if details:
            status["StatusDetails"] = details
        else:
            status.pop("StatusDetails", None)
        status["LastModifiedTime"] = now
