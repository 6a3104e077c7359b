"""SageMaker batch transform jobs: the API (Create, Describe, List, Stop) and what a restart does to them.

CreateTransformJob refuses what AWS refuses before anything runs: a model that does not exist, a name in use,
payload limits over 100 MB, an input prefix its model's role finds no object under, more instances than the
account's limit. Running a job is runner.py's; its status lives in the job's record, which the runner keeps.
A restart runs the jobs that were in progress again from the start (each object's `.out` is written whole,
so a second run only rewrites them), and ends those that were stopping `Stopped`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleObjects, RoleSession
from localcloud.auth.role_sessions import RoleEnv
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.sagemaker.cores import Cores
from localcloud.sagemaker.transform.inputs import parse_s3
from localcloud.sagemaker.transform.jsonpath import PathError, parse
from localcloud.sagemaker.transform.runner import KIND, Runner

DEFAULT_PAYLOAD_MB, MAX_PAYLOAD_MB = 6, 100
RUNNING = ("InProgress", "Stopping")
PAGES = Paginator(default_size=10)
SUMMARY_KEYS = (
    "TransformJobName",
    "TransformJobArn",
    "CreationTime",
    "TransformEndTime",
    "LastModifiedTime",
    "TransformJobStatus",
    "FailureReason",
)


def _not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Could not find requested job with name {name}")


def _check_request(p: dict[str, Any]) -> None:
    """What CreateTransformJob refuses in the request itself (ValidationException)."""
    payload = p.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)
    if payload > MAX_PAYLOAD_MB:
        raise validation("The value of MaxPayloadInMB cannot be greater than 100 MB.")
    if p.get("MaxConcurrentTransforms") and p["MaxConcurrentTransforms"] * payload > MAX_PAYLOAD_MB:
        raise validation("The value of (MaxConcurrentTransforms * MaxPayloadInMB) cannot exceed 100 MB.")
    transform_input = p["TransformInput"]
    if transform_input.get("SplitType", "None") not in ("None", "Line"):
        raise validation("localcloud splits input by None or Line; RecordIO and TFRecord splitting are not offered.")
    if p.get("DataCaptureConfig"):
        raise validation("localcloud does not capture batch transform data; leave DataCaptureConfig out.")
    source = transform_input["DataSource"]["S3DataSource"]
    if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
        raise validation("localcloud reads transform input as S3Prefix or ManifestFile.")
    for what, uri in (("S3Uri", source["S3Uri"]), ("S3OutputPath", p["TransformOutput"]["S3OutputPath"])):
        try:
            parse_s3(uri)
        except ValueError as exc:
            raise validation(f"{what}: {exc}.") from None
    for key in ("InputFilter", "OutputFilter"):
        path = (p.get("DataProcessing") or {}).get(key)
        if path:
            try:
                parse(path)
            except PathError as exc:
                raise validation(f"{key} is not a JSONPath expression batch transform supports: {exc}.") from None


class Transform:
    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        logs: LogSink,
        role_env: RoleEnv,
        roles: ExecutionRoles,
        cores: Cores,
        model_cache: Path,
        *,
        max_instances: int = 4,
    ) -> None:
        self.store, self.objects, self.roles = store, objects, roles
        self.max_instances = max_instances
        self.runner = Runner(store, objects, logs, role_env, roles, cores, model_cache)

    # API ------------------------------------------------------------------------
    def op_CreateTransformJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["TransformJobName"]
        arn = f"arn:aws:sagemaker:{call.region}:{ACCOUNT_ID}:transform-job/{name.lower()}"
        model = self.store.get("model", p["ModelName"])
        if model is None:
            model_arn = f"arn:aws:sagemaker:{call.region}:{ACCOUNT_ID}:model/{p['ModelName'].lower()}"
            raise validation(f'Could not find model "{model_arn}".')
        _check_request(p)
        if self.store.get(KIND, name) is not None:
            raise self._in_use(arn)
        self._check_input(p["TransformInput"]["DataSource"]["S3DataSource"], model, name, call.region)
        resources = p["TransformResources"]
        now = time.time()
        transform_input = p["TransformInput"]
        record = {
            "TransformJobName": name,
            "TransformJobArn": arn,
            "TransformJobStatus": "InProgress",
            "ModelName": p["ModelName"],
            "MaxConcurrentTransforms": p.get("MaxConcurrentTransforms") or 1,
            "MaxPayloadInMB": p.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB),
            "BatchStrategy": p.get("BatchStrategy", "SingleRecord"),
            "Environment": p.get("Environment") or {},
            "TransformInput": {"CompressionType": "None", "SplitType": "None", **transform_input},
            "TransformOutput": {"AssembleWith": "None", **p["TransformOutput"]},
            "TransformResources": resources,
            "DataProcessing": {
                "InputFilter": "$",
                "OutputFilter": "$",
                "JoinSource": "None",
                **(p.get("DataProcessing") or {}),
            },
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tags": p.get("Tags", []),
            **{k: p[k] for k in ("ModelClientConfig", "ExperimentConfig") if p.get(k)},
        }
        with self.runner.lock:
            in_use = sum(
                j["TransformResources"]["InstanceCount"]
                for j in self.store.all(KIND)
                if j["TransformJobStatus"] in RUNNING
            )
            count = resources["InstanceCount"]
            if in_use + count > self.max_instances:
                raise AwsError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit '{resources['InstanceType']} for transform job usage' is "
                    f"{self.max_instances} Instances, with current utilization of {in_use} Instances and a request "
                    f"delta of {count} Instances. Please use AWS Service Quotas to request an increase for this quota.",
                )
            if not self.store.insert(KIND, name, record):
                raise self._in_use(arn)
            self.runner.start(name, call.region)
        return {"TransformJobArn": arn}

    @staticmethod
    def _in_use(arn: str) -> AwsError:
        return AwsError(
            "ResourceInUse",
            "Job name must be unique within an AWS account and region, and a job with this name already exists "
            f"({arn})",
        )

    def _check_input(self, source: dict[str, Any], model: dict[str, Any], name: str, region: str) -> None:
        """An S3 prefix must hold objects the model's role can list, as AWS checks before the job starts."""
        role = model.get("ExecutionRoleArn")
        if source["S3DataType"] != "S3Prefix" or not role:
            return
        bucket, prefix = parse_s3(source["S3Uri"])
        try:
            found = RoleObjects(self.objects, RoleSession(self.roles, role, name, region)).keys(bucket, prefix)
        except AwsError:
            found = []
        if not [key for key in found if not key.endswith("/")]:
            raise validation(
                f'No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data source. Please ensure '
                f"that the bucket exists in the selected region ({region}), that objects exist under that S3 prefix, "
                f'and that the role "{role}" has "s3:ListBucket" permissions on bucket "{bucket}".'
            )

    def job(self, name: str) -> dict[str, Any]:
        job = self.store.get(KIND, name)
        if job is None:
            raise _not_found(name)
        return job

    def op_DescribeTransformJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return {k: v for k, v in self.job(p["TransformJobName"]).items() if k not in ("Tags", "LastModifiedTime")}

    def op_ListTransformJobs(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        jobs = self.store.all(KIND)
        if "NameContains" in p:
            jobs = [j for j in jobs if p["NameContains"].lower() in j["TransformJobName"].lower()]
        if "StatusEquals" in p:
            jobs = [j for j in jobs if j["TransformJobStatus"] == p["StatusEquals"]]
        for key, field, after in (
            ("CreationTimeAfter", "CreationTime", True),
            ("CreationTimeBefore", "CreationTime", False),
            ("LastModifiedTimeAfter", "LastModifiedTime", True),
            ("LastModifiedTimeBefore", "LastModifiedTime", False),
        ):
            if key in p:
                bound = p[key].timestamp()
                jobs = [j for j in jobs if (j[field] > bound if after else j[field] < bound)]
        sort_key = {"Name": "TransformJobName", "CreationTime": "CreationTime", "Status": "TransformJobStatus"}
        jobs.sort(
            key=lambda j: j[sort_key[p.get("SortBy", "CreationTime")]],
            reverse=p.get("SortOrder", "Descending") == "Descending",
        )
        page, token = PAGES.page(jobs, p)
        result: dict[str, Any] = {"TransformJobSummaries": [{k: j[k] for k in SUMMARY_KEYS if k in j} for j in page]}
        if token is not None:
            result["NextToken"] = token
        return result

    def op_StopTransformJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["TransformJobName"]
        with self.runner.lock:  # against the runner ending the job between the check and the change
            job = self.job(name)
            if job["TransformJobStatus"] == "Stopping":
                return {}
            if job["TransformJobStatus"] != "InProgress":
                raise validation(
                    f"The request was rejected because the transform job is in status {job['TransformJobStatus']}."
                )
            self.runner.set(name, TransformJobStatus="Stopping")
            self.runner.stop(name)
        return {}

    # lifecycle ------------------------------------------------------------------
    def resume(self) -> None:
        """After a restart: a job that was running runs again from the start; one that was stopping stopped."""
        for job in self.store.all(KIND):
            if job["TransformJobStatus"] == "InProgress":
                self.runner.start(job["TransformJobName"], job["TransformJobArn"].split(":")[3])
            elif job["TransformJobStatus"] == "Stopping":
                self.runner.set(job["TransformJobName"], TransformJobStatus="Stopped", TransformEndTime=time.time())

    def stop_all(self) -> None:
        self.runner.stop_all()
