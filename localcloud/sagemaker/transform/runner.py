"""Running a SageMaker batch transform job on the model's own serving code, and recording how it goes.

A job reads its model's artifact as the model's execution role, starts `InstanceCount` real instances of the
model (the same `model_server` processes an endpoint runs, each on its own cores, cores.py), spreads the input
objects across them by object, and sends each instance `MaxConcurrentTransforms` requests at a time
(work.py). Every S3 read and write and every log line is made as the model's role. The instances' output goes
to CloudWatch Logs (`/aws/sagemaker/TransformJobs`, stream `<job>/<instance-id>`), AWS's `[sagemaker logs]`
lines to `<job>/<instance-id>/data-log`. The first failure stops the job, `Failed` with its reason; a stop
ends it `Stopped` once the requests in flight have answered. The API is provider.py's.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleLogs, RoleObjects, RoleSession
from localcloud.auth.role_sessions import RoleEnv
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.state import Store
from localcloud.sagemaker.cores import Cores
from localcloud.sagemaker.fleet import Instance, extract_model
from localcloud.sagemaker.model_artifact import model_artifact
from localcloud.sagemaker.transform.inputs import InputObject, list_inputs
from localcloud.sagemaker.transform.records import RecordError
from localcloud.sagemaker.transform.work import LOG_GROUP, Failure, Pipeline, Settings, Worker, sagemaker_line

KIND = "transform-job"


@dataclass
class Run:
    """A job in flight: its instances, and whether it is to stop (a StopTransformJob, a failure, a shutdown)."""

    abort: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    instances: list[Instance] = field(default_factory=list)
    failure: str | None = None


class _LogTail:
    """Copies what an instance's process writes to its log file into its CloudWatch stream."""

    def __init__(self, path: Path, logs: RoleLogs, stream: str) -> None:
        self.path, self.logs, self.stream, self.offset = path, logs, stream, 0

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only; the rest waits for its newline
        if not end:
            return
        self.offset += end
        now = int(time.time() * 1000)
        lines = [line for line in data[:end].decode(errors="replace").splitlines() if line.strip()]
        if lines:
            self.logs.put_events(LOG_GROUP, self.stream, [(now, line) for line in lines])


class Runner:
    """Runs transform jobs and keeps their records' status; `lock` guards every change of a job's status."""

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        logs: LogSink,
        role_env: RoleEnv,
        roles: ExecutionRoles,
        cores: Cores,
        model_cache: Path,
    ) -> None:
        self.store, self.objects, self.logs = store, objects, logs
        self.role_env = role_env  # the model's execution role credentials, for its containers
        self.roles = roles  # what SageMaker does for the job (its model, inputs, outputs, logs), it does as the role
        self.cores, self.model_cache = cores, model_cache
        self.root = store.data_dir / "transform"
        self.runs: dict[str, Run] = {}
        self.closing = False  # localcloud is shutting down: its jobs stay InProgress for resume() to run again
        self.lock = threading.RLock()

    def set(self, name: str, **changes: Any) -> None:
        self.store.update(KIND, name, LastModifiedTime=time.time(), **changes)

    def start(self, name: str, region: str) -> None:
        """Run the job in a thread of its own."""
        with self.lock:
            self.runs[name] = Run()
        threading.Thread(target=self._run, args=(name, region), name=f"transform {name}", daemon=True).start()

    def stop(self, name: str) -> None:
        with self.lock:
            run = self.runs.get(name)
        if run is not None:
            run.stop_requested.set()
            run.abort.set()

    def stop_all(self) -> None:
        with self.lock:
            self.closing = True
            runs = list(self.runs.values())
        for run in runs:
            run.abort.set()
            for instance in run.instances:
                instance.stop()

    def _run(self, name: str, region: str) -> None:
        job = self.store.get(KIND, name)
        run = self.runs[name]
        try:
            outcome = self._transform(job, run, region)
        except Failure as failure:
            outcome = str(failure)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the job ends visibly, not silently
            outcome = f"InternalServerError: {type(exc).__name__}: {exc}"
        with self.lock:
            self.runs.pop(name, None)
            if self.closing:  # cut short by the shutdown: the next start runs it again
                return
            now = time.time()
            if outcome == "ok":
                self.set(name, TransformJobStatus="Completed", TransformEndTime=now)
            elif outcome == "stopped":
                self.set(name, TransformJobStatus="Stopped", TransformEndTime=now)
            else:
                self.set(name, TransformJobStatus="Failed", FailureReason=outcome[:1024], TransformEndTime=now)

    def _transform(self, job: dict[str, Any], run: Run, region: str) -> str:
        """'ok', 'stopped', or raise Failure."""
        name = job["TransformJobName"]
        model = self.store.get("model", job["ModelName"])
        if model is None:
            arn = f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:model/{job['ModelName'].lower()}"
            raise Failure(f'ClientError: Could not find model "{arn}".')
        if not model.get("ExecutionRoleArn"):
            raise Failure("ClientError: The model has no ExecutionRoleArn to read its data and artifact with.")
        session = RoleSession(self.roles, model["ExecutionRoleArn"], name, region)  # named after the job
        objects, logs = RoleObjects(self.objects, session), RoleLogs(self.logs, session)
        try:
            model_dir = extract_model(model_artifact(self.objects, self.roles, model, name), self.model_cache)
        except RuntimeError as exc:
            raise Failure(f"ClientError: {exc}") from None
        try:
            inputs = list_inputs(objects, job["TransformInput"]["DataSource"]["S3DataSource"])
        except AwsError as exc:
            uri = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            raise Failure(f"ClientError: Failed to download data from {uri}: {exc.code}: {exc.message}") from None
        except RecordError as exc:
            raise Failure(f"ClientError: {exc}") from None
        if not inputs:
            uri = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            raise Failure(f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source.')
        if run.abort.is_set():
            return "stopped"
        instances = self._start_instances(job, run, model, model_dir, logs)
        try:
            self.set(name, TransformStartTime=time.time())
            self._work(job, run, instances, inputs, objects, logs)
        finally:
            for instance, tail in instances:
                instance.stop()
                tail.pump()
        if run.failure:
            raise Failure(run.failure)
        return "stopped" if run.stop_requested.is_set() else "ok"

    def _start_instances(
        self, job: dict[str, Any], run: Run, model: dict[str, Any], model_dir: Path, logs: RoleLogs
    ) -> list[tuple[Instance, _LogTail]]:
        """The job's instances, started in parallel, each with its log stream; Failure if one cannot start."""
        name = job["TransformJobName"]
        resources = job["TransformResources"]
        environment = {
            **self.role_env(model["ExecutionRoleArn"], name),
            **(model["PrimaryContainer"].get("Environment") or {}),
            # What SageMaker tells a container it runs a transform job (the inference toolkits read these).
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(job["MaxPayloadInMB"]),
            "SAGEMAKER_BATCH_STRATEGY": _upper_snake(job.get("BatchStrategy", "SingleRecord")),
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(job["MaxConcurrentTransforms"]),
            **(job.get("Environment") or {}),
        }
        started: list[tuple[Instance, _LogTail]] = []
        errors: list[str] = []
        lock = threading.Lock()

        def start_one() -> None:
            instance_id = f"i-{secrets.token_hex(9)[:17]}"
            log_path = self.root / name / f"{instance_id}.log"
            holder, cores = self.cores.take(resources["InstanceType"])
            instance = Instance(
                model_dir,
                log_path,
                environment,
                network_isolation=model.get("EnableNetworkIsolation", False),
                cores=cores,
                on_stop=lambda: self.cores.give(holder),
            )
            with lock:
                run.instances.append(instance)  # a shutdown stops it even while it starts
            tail = _LogTail(log_path, logs, f"{name}/{instance_id}")
            try:
                instance.wait_ready()
            except RuntimeError as exc:
                instance.stop()
                tail.pump()
                with lock:
                    errors.append(str(exc))
                return
            with lock:
                started.append((instance, tail))

        threads = [threading.Thread(target=start_one) for _ in range(resources["InstanceCount"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            for instance, _ in started:
                instance.stop()
            raise Failure(f"AlgorithmError: the model's container did not start: {errors[0]}"[:1024])
        return started

    def _work(
        self,
        job: dict[str, Any],
        run: Run,
        instances: list[tuple[Instance, _LogTail]],
        inputs: list[InputObject],
        objects: RoleObjects,
        logs: RoleLogs,
    ) -> None:
        """Objects spread across the instances (object i to instance i mod count), each instance's share sent
        `MaxConcurrentTransforms` at a time; returns when all are done, the job failed, or it was stopped."""
        settings = Settings.of(job)
        concurrency = job["MaxConcurrentTransforms"]
        pipelines = []
        for number, (instance, tail) in enumerate(instances):
            data_log = f"{tail.stream}/data-log"
            logs.put_events(
                LOG_GROUP,
                data_log,
                [
                    sagemaker_line(
                        f"MaxConcurrentTransforms={concurrency}, MaxPayloadInMB={job['MaxPayloadInMB']}, "
                        f"BatchStrategy={_upper_snake(settings.strategy)}"
                    )
                ],
            )
            worker = Worker(settings, instance, objects, logs, data_log)
            share = inputs[number :: len(instances)]
            pipelines.append(Pipeline(worker, share, concurrency, run.abort, lambda reason: self._fail(run, reason)))
        for pipeline in pipelines:
            pipeline.start()
        for pipeline in pipelines:
            pipeline.wait(every=lambda: [tail.pump() for _, tail in instances])

    def _fail(self, run: Run, reason: str) -> None:
        with self.lock:
            run.failure = run.failure or reason


def _upper_snake(strategy: str) -> str:
    """SingleRecord -> SINGLE_RECORD, as AWS writes it to the container and its data log."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(strategy)).upper()
