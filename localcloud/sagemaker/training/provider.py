"""SageMaker training jobs: the script-mode contract, run as real processes.

A job copies its channels from S3, unpacks `sagemaker_submit_directory`, and starts the
`sagemaker_program` once per instance with the SageMaker environment (`SM_*`), exactly as
the framework containers' training toolkit does. Output lines go to CloudWatch Logs
(`/aws/sagemaker/TrainingJobs`, stream `<job>/algo-<n>-<epoch>`); the job's
MetricDefinitions regexes turn them into CloudWatch metrics and `FinalMetricDataList`;
algo-1's model dir becomes `<S3OutputPath>/<job>/output/model.tar.gz`.

Stopping (StopTrainingJob, or MaxRuntimeInSeconds running out) sends SIGTERM and, as SageMaker does, gives
the program 120 s to save its model before SIGKILL; the model dir is uploaded only if it holds something,
so a stopped job has either the model its program saved or no model.tar.gz at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localcloud.core.paginator import page_listing
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.s3.provider import S3
from localcloud.sagemaker.training.debug_config import (
    RecordingSync,
    check_request,
    initial_fields,
    write_container_config,
)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
ENDED = ("Completed", "Failed", "Stopped")
STOP_GRACE_SECONDS = 120.0  # SIGTERM, then SIGKILL: SageMaker's window for saving the model


class LogSink(Protocol):
    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None: ...


class MetricSink(Protocol):
    def put(self, namespace: str, name: str, dimensions: dict[str, str], timestamp: float, value: float) -> None: ...


def _die_with_parent() -> None:
    """Runs in the child before exec: a training process never outlives localcloud."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _hyperparameter(value: str) -> str:
    """The SageMaker SDK JSON-encodes hyperparameter values; the toolkit decodes them."""
    try:
        decoded = json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded)


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    """A job in flight: its processes and whether someone asked it to stop."""

    processes: list[subprocess.Popen] = field(default_factory=list)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    terminated_at: float | None = None
    """When SIGTERM went out (a stop or the runtime limit): SIGKILL follows STOP_GRACE_SECONDS later."""
    signalled: set[int] = field(default_factory=set)

    def terminate(self) -> None:
        """SIGTERM to every host not yet told (hosts started after a stop request get theirs on the next
        call); the training loop escalates to SIGKILL after the grace period."""
        if self.terminated_at is None:
            self.terminated_at = time.monotonic()
        for process in self.processes:
            if process.pid not in self.signalled:
                self.signalled.add(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)


class Training:
    def __init__(self, store: Store, s3: S3, logs: LogSink, metrics: MetricSink, *, max_instances: int = 4) -> None:
        self.store, self.s3, self.logs, self.metrics = store, s3, logs, metrics
        self.max_instances = max_instances
        self.root = store.data_dir / "training"
        self.runs: dict[str, Run] = {}
        self._tails: dict[tuple[str, str], list[str]] = {}  # last lines per (job, host), for FailureReason
        self.cpu_shares: dict[str, int] = {}  # cores a job may use, when not the whole machine
        self.closing = False  # localcloud is shutting down: jobs it kills are left for resume() to report
        # The job's execution role credentials as environment variables (role ARN, session name); cloud.py wires STS.
        self.role_env: Callable[[str, str], dict[str, str]] = lambda role_arn, session: {}
        self._lock = threading.RLock()

    # API ------------------------------------------------------------------------
    def op_CreateTrainingJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self.create(p, call.region)

    def create(
        self, p: dict[str, Any], region: str, *, tuning_job_arn: str | None = None, num_cpus: int | None = None
    ) -> dict[str, Any]:
        """CreateTrainingJob; a tuning job's trials also carry its ARN and their share of the cores
        (`num_cpus`, split between the trial's hosts), so parallel trials do not fight over them."""
        name = p["TrainingJobName"]
        arn = f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/{name.lower()}"
        hyper = p.get("HyperParameters") or {}
        if "sagemaker_program" not in hyper or "sagemaker_submit_directory" not in hyper:
            raise validation(
                "HyperParameters must name sagemaker_program and sagemaker_submit_directory "
                "(script mode of the AWS framework containers)."
            )
        for channel in p.get("InputDataConfig") or []:
            uri = channel["DataSource"].get("S3DataSource", {}).get("S3Uri", "")
            if not uri.startswith("s3://"):
                raise validation(f"Channel {channel['ChannelName']} needs an S3 data source (s3://bucket/prefix).")
        check_request(p)
        count = p["ResourceConfig"].get("InstanceCount", 1)
        with self._lock:
            in_use = sum(
                j["ResourceConfig"].get("InstanceCount", 1)
                for j in self.store.all("training-job")
                if j["TrainingJobStatus"] == "InProgress"
            )
            if in_use + count > self.max_instances:
                instance_type = p["ResourceConfig"].get("InstanceType", "ml.m5.large")
                raise AwsError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit '{instance_type} for training job usage' is "
                    f"{self.max_instances} Instances, with current utilization of {in_use} Instances and a "
                    f"request delta of {count} Instances. Please use AWS Service Quotas to request an increase "
                    "for this quota.",
                )
            now = time.time()
            output = p["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            record = {
                "TrainingJobName": name,
                "TrainingJobArn": arn,
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Starting",
                "HyperParameters": hyper,
                "AlgorithmSpecification": p["AlgorithmSpecification"],
                "RoleArn": p["RoleArn"],
                "InputDataConfig": p.get("InputDataConfig", []),
                "OutputDataConfig": p["OutputDataConfig"],
                "ResourceConfig": p["ResourceConfig"],
                "StoppingCondition": p["StoppingCondition"],
                "CreationTime": now,
                "LastModifiedTime": now,
                "ModelArtifacts": {"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"},
                "SecondaryStatusTransitions": [
                    {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"},
                ],
                "Tags": p.get("Tags", []),
                **initial_fields(p, arn),
            }
            if tuning_job_arn:
                record["TuningJobArn"] = tuning_job_arn
            if not self.store.insert("training-job", name, record):
                raise validation(
                    f"Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({arn})"
                )
            self.runs[name] = Run()
            if num_cpus:
                self.cpu_shares[name] = num_cpus
        threading.Thread(target=self._run, args=(name, region), daemon=True).start()
        return {"TrainingJobArn": arn}

    def _job(self, name: str) -> dict[str, Any]:
        job = self.store.get("training-job", name)
        if job is None:
            raise validation(f"Requested resource not found: Training job {name} does not exist.")
        return job

    def op_DescribeTrainingJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        return {k: v for k, v in job.items() if k != "Tags"}

    def op_ListTrainingJobs(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        page, token = page_listing(
            self.store.all("training-job"),
            p,
            name_key="TrainingJobName",
            status_key="TrainingJobStatus",
            default_order="Ascending",
            default_size=10,
        )
        keys = (
            "TrainingJobName",
            "TrainingJobArn",
            "CreationTime",
            "TrainingEndTime",
            "LastModifiedTime",
            "TrainingJobStatus",
            "SecondaryStatus",
        )
        return {"TrainingJobSummaries": [{k: j[k] for k in keys if k in j} for j in page], "NextToken": token}

    def op_StopTrainingJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self.stop(p["TrainingJobName"])
        return {}

    def stop(self, name: str) -> None:
        """SIGTERM to the job's hosts (Stopping, then Stopped); refused unless the job is InProgress."""
        with self._lock:  # against _run ending the job between the check and the change
            job = self._job(name)
            if job["TrainingJobStatus"] != "InProgress":
                raise validation(
                    f"The request was rejected because the training job is in status {job['TrainingJobStatus']}."
                )
            self._set(name, TrainingJobStatus="Stopping")
            self._transition(name, "Stopping", "Stopping the training job")
            run = self.runs.get(name)
        if run:
            run.stop_requested.set()
            run.terminate()

    # lifecycle ------------------------------------------------------------------
    def resume(self) -> None:
        """After a restart, a job that was running cannot be continued: it failed, visibly."""
        for job in self.store.all("training-job"):
            if job["TrainingJobStatus"] in ("InProgress", "Stopping"):
                now = time.time()
                self._set(
                    job["TrainingJobName"],
                    TrainingJobStatus="Failed",
                    SecondaryStatus="Failed",
                    FailureReason="InternalServerError: the job was interrupted because localcloud "
                    "restarted while it ran.",
                    TrainingEndTime=now,
                )
                self._transition(job["TrainingJobName"], "Failed", "Interrupted by a localcloud restart")

    def stop_all(self) -> None:
        with self._lock:
            self.closing = True
            runs = list(self.runs.values())
        for run in runs:
            run.stop_requested.set()
            for process in run.processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

    def _set(self, name: str, **changes: Any) -> None:
        self.store.update("training-job", name, LastModifiedTime=time.time(), **changes)

    def _transition(self, name: str, status: str, message: str) -> None:
        with self._lock:
            job = self.store.get("training-job", name)
            if job is None:
                return
            now = time.time()
            transitions = job["SecondaryStatusTransitions"]
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = now
            transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
            if status in ENDED:
                transitions[-1]["EndTime"] = now
            self._set(name, SecondaryStatus=status, SecondaryStatusTransitions=transitions)

    def _fail(self, name: str, reason: str) -> None:
        self._set(name, TrainingJobStatus="Failed", FailureReason=reason[:1024], TrainingEndTime=time.time())
        self._transition(name, "Failed", "Training job failed")

    def _run(self, name: str, region: str) -> None:
        job = self._job(name)
        job_dir = self.root / name
        try:
            self._transition(name, "Downloading", "Downloading input data")
            channels = self._download_channels(job, job_dir)
            code_dir = self._download_code(job, job_dir)
        except (AwsError, ValueError, OSError, tarfile.TarError) as exc:
            message = exc.message if isinstance(exc, AwsError) else str(exc)
            self._follow_recording(name, RecordingSync(job, []), finished=True)  # its rules: nothing was recorded
            self._fail(name, f"ClientError: {message}")
            return
        self._transition(name, "Training", "Training image download completed. Training in progress.")
        started = time.time()
        self._set(name, TrainingStartTime=started)
        outcome = self._train(job, job_dir, code_dir, channels, region)
        if self.closing:  # killed by the shutdown, not stopped by anyone: the next start says it was interrupted
            return
        ended = time.time()
        seconds = max(1, round(ended - started))
        count = job["ResourceConfig"].get("InstanceCount", 1)
        self._set(name, TrainingTimeInSeconds=seconds, BillableTimeInSeconds=seconds * count)
        model_dir = job_dir / "hosts" / "algo-1" / "model"
        if outcome == "ok" or (outcome in ("stopped", "timeout") and any(model_dir.iterdir())):
            try:
                self._transition(name, "Uploading", "Uploading generated training model")
                self._upload_outputs(job, job_dir)
            except (AwsError, OSError) as exc:
                self._fail(name, f"InternalServerError: uploading the model failed: {exc}")
                return
        with self._lock:
            self._finish(name, outcome)
            self.runs.pop(name, None)

    def _finish(self, name: str, outcome: str) -> None:
        if outcome == "ok":
            self._set(name, TrainingJobStatus="Completed", TrainingEndTime=time.time())
            self._transition(name, "Completed", "Training job completed")
        elif outcome == "stopped":
            self._set(name, TrainingJobStatus="Stopped", TrainingEndTime=time.time())
            self._transition(name, "Stopped", "Training job stopped")
        elif outcome == "timeout":
            self._set(
                name,
                TrainingJobStatus="Stopped",
                TrainingEndTime=time.time(),
                FailureReason="MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds.",
            )
            self._transition(name, "MaxRuntimeExceeded", "Training job ran out of time and was stopped")
        else:
            self._fail(name, outcome)

    def _download_channels(self, job: dict[str, Any], job_dir: Path) -> dict[str, Path]:
        channels: dict[str, Path] = {}
        for channel in job["InputDataConfig"]:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = _split_s3(uri)
            target = job_dir / "input" / "data" / channel["ChannelName"]
            target.mkdir(parents=True, exist_ok=True)
            count = 0
            for obj in self.store.iter_objects(bucket, prefix, ""):
                relative = obj["key"][len(prefix) :].lstrip("/")
                destination = (target / relative).resolve()
                if not relative or not destination.is_relative_to(target.resolve()):
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.s3.object_path(bucket, obj["key"]), destination)
                count += 1
            if count == 0:
                raise ValueError(
                    f'No S3 objects found under S3 URL "{uri}" given in input data source. '
                    "Please ensure that the bucket exists in the selected region, that objects "
                    "exist under that S3 prefix, and that the role has access to them."
                )
            channels[channel["ChannelName"]] = target
        return channels

    def _download_code(self, job: dict[str, Any], job_dir: Path) -> Path:
        uri = _hyperparameter(job["HyperParameters"]["sagemaker_submit_directory"])
        bucket, key = _split_s3(uri)
        code_dir = job_dir / "code"
        code_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(self.s3.object_path(bucket, key)) as tar:
            tar.extractall(code_dir, filter="data")
        program = _hyperparameter(job["HyperParameters"]["sagemaker_program"])
        if not (code_dir / program).is_file():
            raise ValueError(f"sagemaker_program {program} is not in {uri}")
        return code_dir

    def _command(self, job: dict[str, Any]) -> list[str]:
        hyper = job["HyperParameters"]
        command = [sys.executable, _hyperparameter(hyper["sagemaker_program"])]
        for key, value in hyper.items():
            if not key.startswith("sagemaker_"):
                command += [f"--{key}", _hyperparameter(value)]
        return command

    def _train(self, job: dict[str, Any], job_dir: Path, code_dir: Path, channels: dict[str, Path], region: str) -> str:
        """Run the program on every host; 'ok', 'stopped', 'timeout' or a failure reason."""
        name = job["TrainingJobName"]
        count = job["ResourceConfig"].get("InstanceCount", 1)
        hosts = [f"algo-{i + 1}" for i in range(count)]
        hyper = {k: _hyperparameter(v) for k, v in job["HyperParameters"].items() if not k.startswith("sagemaker_")}
        command = self._command(job)
        master_port = str(_free_port())
        cores = self.cpu_shares.pop(name, None) or os.cpu_count() or 1
        cpus_per_host = max(1, cores // count)  # the hosts share the job's cores
        epoch = int(time.time())
        with self._lock:
            run = self.runs.setdefault(name, Run())
        readers = []
        role_credentials = self.role_env(job["RoleArn"], name)
        write_container_config(job, job_dir / "input")
        recording = RecordingSync(job, [job_dir / "hosts" / host for host in hosts])
        for host in hosts:
            host_dir = job_dir / "hosts" / host
            (host_dir / "model").mkdir(parents=True, exist_ok=True)
            (host_dir / "output" / "data").mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALCLOUD_"))}
            env.update(
                {
                    "SM_MODEL_DIR": str(host_dir / "model"),
                    "SM_OUTPUT_DATA_DIR": str(host_dir / "output" / "data"),
                    "SM_OUTPUT_DIR": str(host_dir / "output"),
                    "SM_INPUT_DIR": str(job_dir / "input"),
                    "SM_CHANNELS": json.dumps(sorted(channels)),
                    "SM_HOSTS": json.dumps(hosts),
                    "SM_CURRENT_HOST": host,
                    "SM_NUM_CPUS": str(cpus_per_host),
                    "SM_NUM_GPUS": "0",
                    "SM_HPS": json.dumps(hyper),
                    "SM_USER_ENTRY_POINT": command[1],
                    "SM_MODULE_DIR": "",
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": master_port,
                    "AWS_REGION": region,
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": str(code_dir),
                }
            )
            env.update(role_credentials)  # the execution role's, as the training container's SDK finds them
            env.update({f"SM_CHANNEL_{c.upper()}": str(path) for c, path in channels.items()})
            env.update({f"SM_HP_{k.upper()}": v for k, v in hyper.items()})
            stream = f"{name}/{host}-{epoch}"
            self.logs.put_events(
                LOG_GROUP,
                stream,
                [
                    (
                        int(time.time() * 1000),
                        f"Training Env: hosts={hosts} current_host={host} "
                        f"channels={sorted(channels)} hyperparameters={hyper}",
                    ),
                    (int(time.time() * 1000), f"Invoking script with the following command:\n{' '.join(command[1:])}"),
                ],
            )
            process = subprocess.Popen(
                command,
                cwd=code_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            run.processes.append(process)
            reader = threading.Thread(target=self._pump, args=(job, host, stream, process), daemon=True)
            reader.start()
            readers.append(reader)

        deadline = time.monotonic() + job["StoppingCondition"].get("MaxRuntimeInSeconds", 86400)
        timed_out = False
        while any(p.poll() is None for p in run.processes):
            if run.stop_requested.is_set():
                run.terminate()  # a stop that came while the hosts were starting
            elif time.monotonic() > deadline and not timed_out:
                timed_out = True
                run.terminate()
            if run.terminated_at is not None and time.monotonic() - run.terminated_at > STOP_GRACE_SECONDS:
                for process in run.processes:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
            self._follow_recording(name, recording, finished=False)
            time.sleep(0.2)
        for reader in readers:
            reader.join(timeout=10)
        self._follow_recording(name, recording, finished=True)
        if run.stop_requested.is_set():
            return "stopped"
        if timed_out:
            return "timeout"
        failed = [(host, p.returncode) for host, p in zip(hosts, run.processes, strict=True) if p.returncode != 0]
        if failed:
            host, code = failed[0]
            failure_file = job_dir / "hosts" / host / "output" / "failure"  # the script's own words, as on AWS
            if failure_file.exists():
                details = failure_file.read_text(errors="replace").strip()
            else:
                details = "Last lines: " + " | ".join(self._tails.get((name, host), [])[-5:])
            return (
                f"AlgorithmError: ExecuteUserScriptError: ExitCode {code} on {host}. Command "
                f'"{" ".join(command[1:])}". {details}'
            )
        return "ok"

    def _follow_recording(self, name: str, recording: RecordingSync, *, finished: bool) -> None:
        """Sync the job's TensorBoard directory to S3 and refresh its rule statuses (both at once when
        ``finished``); a damaged file is the rules' to report, not a reason to fail the job."""
        try:
            recording.sync(self.s3, force=finished)
            changes = recording.statuses(finished=finished, force=finished)
        except Exception:  # noqa: BLE001 - nothing in the rules may end the thread that runs the job
            traceback.print_exc()
            return
        if changes:
            with self._lock:
                self._set(name, **changes)

    def _pump(self, job: dict[str, Any], host: str, stream: str, process: subprocess.Popen) -> None:
        """Copy a host's output to CloudWatch Logs and its metric lines to CloudWatch metrics."""
        name = job["TrainingJobName"]
        definitions = [
            (d["Name"], re.compile(d["Regex"])) for d in job["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]
        tail: list[str] = []
        self._tails[(name, host)] = tail
        batch: list[tuple[int, str]] = []
        last_flush = time.monotonic()
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            now = time.time()
            batch.append((int(now * 1000), line))
            tail.append(line)
            del tail[:-20]
            for metric, regex in definitions:
                match = regex.search(line)
                if match:
                    with contextlib.suppress(ValueError, IndexError):
                        self._record_metric(name, host, metric, float(match.group(1)), now)
            if len(batch) >= 200 or time.monotonic() - last_flush > 0.3:
                self.logs.put_events(LOG_GROUP, stream, batch)
                batch, last_flush = [], time.monotonic()
        if batch:
            self.logs.put_events(LOG_GROUP, stream, batch)

    def _record_metric(self, name: str, host: str, metric: str, value: float, timestamp: float) -> None:
        self.metrics.put(METRIC_NAMESPACE, metric, {"Host": f"{name}/{host}"}, timestamp, value)
        if host != "algo-1":
            return
        with self._lock:
            job = self.store.get("training-job", name)
            if job is None:
                return
            final = {m["MetricName"]: m for m in job.get("FinalMetricDataList", [])}
            final[metric] = {"MetricName": metric, "Value": value, "Timestamp": timestamp}
            self._set(name, FinalMetricDataList=list(final.values()))

    def _upload_outputs(self, job: dict[str, Any], job_dir: Path) -> None:
        """Tar algo-1's model dir (and output data) to S3, where SageMaker puts them."""
        bucket, key = _split_s3(job["ModelArtifacts"]["S3ModelArtifacts"])
        self.s3.ensure_bucket(bucket, "us-east-1")
        host_dir = job_dir / "hosts" / "algo-1"
        for source, name in ((host_dir / "model", "model.tar.gz"), (host_dir / "output" / "data", "output.tar.gz")):
            archive = job_dir / name
            with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
                for path in sorted(source.rglob("*")):
                    tar.add(path, arcname=str(path.relative_to(source)), recursive=False)
            self.s3.put_file(bucket, key.rsplit("/", 1)[0] + "/" + name, archive)
