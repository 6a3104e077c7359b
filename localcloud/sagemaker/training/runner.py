"""Running a SageMaker training job under the script-mode contract, and recording how it goes.

A job copies its channels from S3, unpacks `sagemaker_submit_directory`, and starts the
`sagemaker_program` once per instance with the SageMaker environment (`SM_*`), exactly as
the framework containers' training toolkit does. Output lines go to CloudWatch Logs
(`/aws/sagemaker/TrainingJobs`, stream `<job>/algo-<n>-<epoch>`); the job's
MetricDefinitions regexes turn them into CloudWatch metrics and `FinalMetricDataList`;
algo-1's model dir becomes `<S3OutputPath>/<job>/output/model.tar.gz`.

Stopping (StopTrainingJob, or MaxRuntimeInSeconds running out) sends SIGTERM and, as SageMaker does, gives
the program 120 s to save its model before SIGKILL; the model dir is uploaded only if it holds something,
so a stopped job has either the model its program saved or no model.tar.gz at all. The API is provider.py's.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleAccess, RoleSession
from localcloud.auth.role_sessions import RoleEnv
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.metric_sink import MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.process import without_credentials, without_network
from localcloud.core.protocol import AwsError, validation
from localcloud.core.state import Store
from localcloud.sagemaker.training.debug_config import RecordingSync, write_container_config
from localcloud.sagemaker.training.staging import download_channels, download_code, hyperparameter, upload_outputs

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
ENDED = ("Completed", "Failed", "Stopped")
STOP_GRACE_SECONDS = 120.0  # SIGTERM, then SIGKILL: SageMaker's window for saving the model


def _die_with_parent() -> None:
    """Runs in the child before exec: a training process never outlives localcloud."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


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


class Runner:
    """Runs training jobs and keeps their records' status; `lock` guards every change of a job's record."""

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        logs: LogSink,
        metrics: MetricSink,
        role_env: RoleEnv,
        roles: ExecutionRoles,
    ) -> None:
        self.store, self.objects, self.logs, self.metrics = store, objects, logs, metrics
        self.role_env = role_env  # the job's execution role credentials (role ARN, session name), from STS
        self.roles = roles  # what SageMaker does for the job, it does as the job's execution role
        self.root = store.data_dir / "training"
        self.runs: dict[str, Run] = {}
        self._tails: dict[tuple[str, str], list[str]] = {}  # last lines per (job, host), for FailureReason
        self.cpu_shares: dict[str, int] = {}  # cores a job may use, when not the whole machine
        self.closing = False  # localcloud is shutting down: jobs it kills are left for resume() to report
        self.lock = threading.RLock()

    # the job's record -------------------------------------------------------------
    def job(self, name: str) -> dict[str, Any]:
        job = self.store.get("training-job", name)
        if job is None:
            raise validation(f"Requested resource not found: Training job {name} does not exist.")
        return job

    def set(self, name: str, **changes: Any) -> None:
        self.store.update("training-job", name, LastModifiedTime=time.time(), **changes)

    def transition(self, name: str, status: str, message: str) -> None:
        with self.lock:
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
            self.set(name, SecondaryStatus=status, SecondaryStatusTransitions=transitions)

    def _fail(self, name: str, reason: str) -> None:
        self.set(name, TrainingJobStatus="Failed", FailureReason=reason[:1024], TrainingEndTime=time.time())
        self.transition(name, "Failed", "Training job failed")

    # runs -------------------------------------------------------------------------
    def add(self, name: str, num_cpus: int | None) -> None:
        """A job just created (under `lock`), with its share of the cores when it has one."""
        self.runs[name] = Run()
        if num_cpus:
            self.cpu_shares[name] = num_cpus

    def start(self, name: str, region: str) -> None:
        """Run the job in a thread of its own, from download to upload."""
        threading.Thread(target=self._run, args=(name, region), daemon=True).start()

    def stop_all(self) -> None:
        with self.lock:
            self.closing = True
            runs = list(self.runs.values())
        for run in runs:
            run.stop_requested.set()
            for process in run.processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

    def _run(self, name: str, region: str) -> None:
        job = self.job(name)
        job_dir = self.root / name
        session = RoleSession(self.roles, job["RoleArn"], name, region)  # the session is named after the job
        access = RoleAccess.of(session, self.objects, self.logs, self.metrics)
        try:
            self.transition(name, "Downloading", "Downloading input data")
            channels = download_channels(access.objects, job, job_dir)
            code_dir = download_code(access.objects, job, job_dir)
        except (AwsError, ValueError, OSError, tarfile.TarError) as exc:
            message = exc.message if isinstance(exc, AwsError) else str(exc)
            self._follow_recording(name, RecordingSync(job, []), access, finished=True)  # nothing was recorded
            self._fail(name, f"ClientError: Data download failed: {message}")
            return
        self.transition(name, "Training", "Training image download completed. Training in progress.")
        started = time.time()
        self.set(name, TrainingStartTime=started)
        outcome = self._train(job, job_dir, code_dir, channels, region, access)
        if self.closing:  # killed by the shutdown, not stopped by anyone: the next start says it was interrupted
            return
        ended = time.time()
        seconds = max(1, round(ended - started))
        # Wall-clock, as AWS reports it: "multiply BillableTimeInSeconds by the number of instances" to get the
        # compute time billed (the dashboard does).
        self.set(name, TrainingTimeInSeconds=seconds, BillableTimeInSeconds=seconds)
        model_dir = job_dir / "hosts" / "algo-1" / "model"
        if outcome == "ok" or (outcome in ("stopped", "timeout") and any(model_dir.iterdir())):
            try:
                self.transition(name, "Uploading", "Uploading generated training model")
                upload_outputs(access.objects, job, job_dir)
            except ValueError as exc:  # S3 refused: the role may not write there, or the bucket is gone
                self._fail(name, f"ClientError: Artifact upload failed: {exc}")
                return
            except OSError as exc:
                self._fail(name, f"InternalServerError: uploading the model failed: {exc}")
                return
        with self.lock:
            self._finish(name, outcome)
            self.runs.pop(name, None)

    def _finish(self, name: str, outcome: str) -> None:
        if outcome == "ok":
            self.set(name, TrainingJobStatus="Completed", TrainingEndTime=time.time())
            self.transition(name, "Completed", "Training job completed")
        elif outcome == "stopped":
            self.set(name, TrainingJobStatus="Stopped", TrainingEndTime=time.time())
            self.transition(name, "Stopped", "Training job stopped")
        elif outcome == "timeout":
            self.set(
                name,
                TrainingJobStatus="Stopped",
                TrainingEndTime=time.time(),
                FailureReason="MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds.",
            )
            self.transition(name, "MaxRuntimeExceeded", "Training job ran out of time and was stopped")
        else:
            self._fail(name, outcome)

    def _command(self, job: dict[str, Any]) -> list[str]:
        hyper = job["HyperParameters"]
        command = [sys.executable, hyperparameter(hyper["sagemaker_program"])]
        for key, value in hyper.items():
            if not key.startswith("sagemaker_"):
                command += [f"--{key}", hyperparameter(value)]
        return command

    def _train(
        self,
        job: dict[str, Any],
        job_dir: Path,
        code_dir: Path,
        channels: dict[str, Path],
        region: str,
        access: RoleAccess,
    ) -> str:
        """Run the program on every host; 'ok', 'stopped', 'timeout' or a failure reason."""
        name = job["TrainingJobName"]
        count = job["ResourceConfig"].get("InstanceCount", 1)
        hosts = [f"algo-{i + 1}" for i in range(count)]
        hyper = {k: hyperparameter(v) for k, v in job["HyperParameters"].items() if not k.startswith("sagemaker_")}
        command = self._command(job)
        master_port = str(_free_port())
        cores = self.cpu_shares.pop(name, None) or os.cpu_count() or 1
        cpus_per_host = max(1, cores // count)  # the hosts share the job's cores
        epoch = int(time.time())
        with self.lock:
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
                    "SM_CURRENT_INSTANCE_TYPE": job["ResourceConfig"].get("InstanceType", ""),
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
            access.logs.put_events(
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
                without_network(command, isolate=job.get("EnableNetworkIsolation", False), peers=run.processes),
                cwd=code_dir,
                env=without_credentials(env, isolate=job.get("EnableNetworkIsolation", False)),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            run.processes.append(process)
            reader = threading.Thread(target=self._pump, args=(job, host, stream, process, access), daemon=True)
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
            self._follow_recording(name, recording, access, finished=False)
            time.sleep(0.2)
        for reader in readers:
            reader.join(timeout=10)
        self._follow_recording(name, recording, access, finished=True)
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

    def _follow_recording(self, name: str, recording: RecordingSync, access: RoleAccess, *, finished: bool) -> None:
        """Sync the job's TensorBoard directory to S3 and refresh its rule statuses (both at once when
        ``finished``); a damaged file is the rules' to report, not a reason to fail the job, and a failed upload
        does not keep the rules from being judged. A job being stopped (or shut down) stops its rules too."""
        run = self.runs.get(name)
        stopped = self.closing or (run is not None and run.terminated_at is not None)
        try:
            recording.sync(access.objects, force=finished)
        except Exception:  # noqa: BLE001 - a failed upload is tried again at the next sync; the rules go on
            traceback.print_exc()
        try:
            changes = recording.statuses(finished=finished, stopped=stopped, force=finished)
        except Exception:  # noqa: BLE001 - nothing in the rules may end the thread that runs the job
            traceback.print_exc()
            return
        if changes:
            with self.lock:
                self.set(name, **changes)

    def _pump(self, job: dict[str, Any], host: str, stream: str, process: subprocess.Popen, access: RoleAccess) -> None:
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
                        self._record_metric(name, host, metric, float(match.group(1)), now, access)
            if len(batch) >= 200 or time.monotonic() - last_flush > 0.3:
                access.logs.put_events(LOG_GROUP, stream, batch)
                batch, last_flush = [], time.monotonic()
        if batch:
            access.logs.put_events(LOG_GROUP, stream, batch)

    def _record_metric(
        self, name: str, host: str, metric: str, value: float, timestamp: float, access: RoleAccess
    ) -> None:
        access.metrics.put(METRIC_NAMESPACE, metric, {"Host": f"{name}/{host}"}, timestamp, value)
        if host != "algo-1":
            return
        with self.lock:
            job = self.store.get("training-job", name)
            if job is None:
                return
            final = {m["MetricName"]: m for m in job.get("FinalMetricDataList", [])}
            final[metric] = {"MetricName": metric, "Value": value, "Timestamp": timestamp}
            self.set(name, FinalMetricDataList=list(final.values()))
