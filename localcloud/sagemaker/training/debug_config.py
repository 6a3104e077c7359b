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

from classifier.recording.reader import load_recording
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
"""How often a running job's rules are re-evaluated (each reads the whole recording)."""


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
    """Copies a job's recording to S3 as it grows and keeps its rule statuses current."""

    job: dict[str, Any]
    host_dirs: list[Path]
    last_sync: float = 0.0
    last_rules: float = 0.0
    uploaded: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for host_dir in self.host_dirs:
            root = host_local_path(self.job, host_dir)
            if root.is_dir():
                for path in root.rglob("*"):
                    if path.is_file():
                        found[path.relative_to(root).as_posix()] = path
        return found

    def sync(self, objects: ObjectStore, *, force: bool = False) -> None:
        """Upload what changed since the last sync (every SYNC_SECONDS, or now when ``force``)."""
        config = self.job.get("TensorBoardOutputConfig")
        if not config or (not force and time.monotonic() - self.last_sync < SYNC_SECONDS):
            return
        self.last_sync = time.monotonic()
        bucket, _, prefix = config["S3OutputPath"].split("://", 1)[1].partition("/")
        objects.ensure_bucket(bucket, "us-east-1")
        for relative, path in self.files().items():
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            if self.uploaded.get(path) == signature:
                continue
            key = f"{prefix.rstrip('/')}/{relative}" if prefix.strip("/") else relative
            objects.put_file(bucket, key, path, content_type="application/octet-stream")
            self.uploaded[path] = signature

    def statuses(self, *, finished: bool, force: bool = False) -> dict[str, Any] | None:
        """Fresh DebugRuleEvaluationStatuses / ProfilerRuleEvaluationStatuses, or None when not due."""
        has_rules = self.job.get("DebugRuleConfigurations") or self.job.get("ProfilerRuleConfigurations")
        if not has_rules or (not force and time.monotonic() - self.last_rules < RULES_SECONDS):
            return None
        self.last_rules = time.monotonic()
        recording = load_recording({relative: path.read_bytes() for relative, path in self.files().items()})
        now = time.time()
        changes: dict[str, Any] = {}
        debug = self.job.get("DebugRuleEvaluationStatuses") or []
        for status, config in zip(debug, self.job.get("DebugRuleConfigurations") or [], strict=True):
            parameters = config.get("RuleParameters") or {}
            result = evaluate_rule(parameters["rule_to_invoke"], recording, parameters, finished=finished)
            _update(status, result.status, status_details(result), now)
        if debug:
            changes["DebugRuleEvaluationStatuses"] = debug
        profiler = self.job.get("ProfilerRuleEvaluationStatuses") or []
        for status, config in zip(profiler, self.job.get("ProfilerRuleConfigurations") or [], strict=True):
            parameters = dict(config.get("RuleParameters") or {})
            rule = parameters.pop("rule_to_invoke")
            if rule != "ProfilerReport":  # a single report rule: its parameters carry the rule's prefix
                parameters = {f"{rule}_{k}": v for k, v in parameters.items()}
            results = evaluate_profiler_report(recording, parameters)
            if rule != "ProfilerReport":
                results = [r for r in results if r.rule == rule]
            _update(status, *report_status(results, finished), now)
        if profiler:
            changes["ProfilerRuleEvaluationStatuses"] = profiler
        return changes


def _update(status: dict[str, Any], value: str, details: str, now: float) -> None:
    if status.get("RuleEvaluationStatus") != value or status.get("StatusDetails", "") != details:
        status["RuleEvaluationStatus"] = value
        if details:
            status["StatusDetails"] = details
        else:
            status.pop("StatusDetails", None)
        status["LastModifiedTime"] = now
