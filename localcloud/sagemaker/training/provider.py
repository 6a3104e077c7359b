"""SageMaker training jobs: the API (Create, Describe, List, Stop) and what a restart does to them.

Running a job (its processes, downloads and uploads, logs and metrics) is runner.py's; its status lives in
the job's record, which the runner keeps and this API reads.
"""

from __future__ import annotations

import time
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.role_sessions import RoleEnv
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.metric_sink import MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.sagemaker.listing import page_listing
from localcloud.sagemaker.training.debug_config import check_request, initial_fields
from localcloud.sagemaker.training.runner import Runner


class Training:
    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        logs: LogSink,
        metrics: MetricSink,
        role_env: RoleEnv,
        roles: ExecutionRoles,
        *,
        max_instances: int = 4,
    ) -> None:
        self.store = store
        self.max_instances = max_instances
        self.roles = roles
        self.runner = Runner(store, objects, logs, metrics, role_env, roles)

    # API ------------------------------------------------------------------------
    def op_CreateTrainingJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self.roles.check_handed(call, p["RoleArn"])  # the caller may pass the role; SageMaker may assume it
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
        with self.runner.lock:
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
                "EnableNetworkIsolation": p.get("EnableNetworkIsolation", False),  # runner.py runs it without network
                **({"VpcConfig": p["VpcConfig"]} if p.get("VpcConfig") else {}),
                **initial_fields(p, arn),
            }
            if tuning_job_arn:
                record["TuningJobArn"] = tuning_job_arn
            if not self.store.insert("training-job", name, record):
                raise validation(
                    f"Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({arn})"
                )
            self.runner.add(name, num_cpus)
        self.runner.start(name, region)
        return {"TrainingJobArn": arn}

    def op_DescribeTrainingJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        job = self.runner.job(p["TrainingJobName"])
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
        with self.runner.lock:  # against the runner ending the job between the check and the change
            job = self.runner.job(name)
            if job["TrainingJobStatus"] != "InProgress":
                raise validation(
                    f"The request was rejected because the training job is in status {job['TrainingJobStatus']}."
                )
            self.runner.set(name, TrainingJobStatus="Stopping")
            self.runner.transition(name, "Stopping", "Stopping the training job")
            run = self.runner.runs.get(name)
        if run:
            run.stop_requested.set()
            run.terminate()

    # lifecycle ------------------------------------------------------------------
    def resume(self) -> None:
        """After a restart, a job that was running cannot be continued: it failed, visibly."""
        for job in self.store.all("training-job"):
            if job["TrainingJobStatus"] in ("InProgress", "Stopping"):
                now = time.time()
                self.runner.set(
                    job["TrainingJobName"],
                    TrainingJobStatus="Failed",
                    SecondaryStatus="Failed",
                    FailureReason="InternalServerError: the job was interrupted because localcloud "
                    "restarted while it ran.",
                    TrainingEndTime=now,
                )
                self.runner.transition(job["TrainingJobName"], "Failed", "Interrupted by a localcloud restart")

    def stop_all(self) -> None:
        self.runner.stop_all()
