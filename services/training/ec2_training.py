"""Training on a plain EC2 machine: the original project's second path, without SageMaker.

The instance's user data (`ec2_user_data`) does what SageMaker would: fetch the `training` channel and the
code from S3, run the same `train.py`, upload `model.tar.gz` where a SageMaker job would put it
(`<output>/<job>/output/model.tar.gz`), and shut the machine down, which terminates it
(`InstanceInitiatedShutdownBehavior=terminate`), so a forgotten machine stops costing money.

The user data carries no credentials: on the machine boto3 takes them from the instance profile.
Instances are tagged with the job name and artifact URI, so the dashboard lists and describes them
like jobs. The image fits the type (the GPU Deep Learning AMI for GPU types, Ubuntu for the others, where
the user data installs PyTorch first), and a maximum run time ends training and the machine with it.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from classifier import packaging
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import estimate_ec2_cost
from services.training.curves import Series, series_from_text
from services.training.ec2_user_data import DEFAULT_EC2_MAX_RUNTIME_S, build_user_data
from services.training.job_spec import (
    DEFAULT_METRIC_DEFINITIONS,
    TrainingSpec,
    artifact_uri,
    recording_uri,
    source_uri,
    validate_spec,
)
from services.training.sagemaker_training import TrainingService

GPU_AMI = (
    "resolve:ssm:/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.6-ubuntu-22.04/latest/ami-id"
)
"""The AWS Deep Learning AMI with PyTorch 2.6 and the NVIDIA driver, for GPU types (g*, p*)."""
CPU_AMI = "resolve:ssm:/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
"""Ubuntu 22.04 for CPU types; the user data installs PyTorch and the training packages on it. Both are
public SSM parameters that EC2 resolves itself, so the defaults are right in every region without a lookup."""
DEFAULT_EC2_INSTANCE_TYPE = "m5.xlarge"
MAX_EC2_RUNTIME_S = 28 * 24 * 3600
DEFAULT_INSTANCE_PROFILE = "dog-breed-ec2-training"
JOB_TAG = "dog-breed:job"
ARTIFACT_TAG = "dog-breed:artifact"
RECORDING_TAG = "dog-breed:recording"
"""Where the machine's training uploads its recording (recording_uri), for the Debugger and Profiler tabs."""
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+")
_AMI = re.compile(r"ami-[0-9a-f]{8,17}|resolve:ssm:/[A-Za-z0-9_./-]+")
_PROFILE = re.compile(r"[\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::\d{12}:instance-profile/[\w+=,.@/-]+")
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
_CONSOLE_LIMIT = 64 * 1024  # EC2 keeps the last 64 KB of console output
ALIVE = frozenset({"pending", "running", "shutting-down", "stopping"})


def is_gpu_type(instance_type: str) -> bool:
    """GPU families: g4dn, g5, p3 … (`ml.` prefixes aside)."""
    return instance_type.removeprefix("ml.")[:1] in {"g", "p"}


def ami_for(instance_type: str) -> str:
    """The image that fits the type: the GPU Deep Learning AMI for GPU types, plain Ubuntu for the rest."""
    return GPU_AMI if is_gpu_type(instance_type) else CPU_AMI


@dataclass(frozen=True)
class Ec2Options:
    """The machine: AMI (an id or `resolve:ssm:` parameter; None picks the one that fits the type), EC2
    instance type, the instance profile whose role lets the machine read the data and write the model,
    and the maximum run time after which the machine ends training and shuts itself down."""

    ami: str | None = None
    instance_type: str = DEFAULT_EC2_INSTANCE_TYPE
    instance_profile: str | None = DEFAULT_INSTANCE_PROFILE
    volume_size_gb: int = 30
    max_runtime_s: int = DEFAULT_EC2_MAX_RUNTIME_S

    @property
    def image(self) -> str:
        return self.ami or ami_for(self.instance_type)


@dataclass(frozen=True)
class Ec2Job:
    """An EC2 training machine as the job page shows it."""

    instance_id: str
    job_name: str | None
    state: str
    state_reason: str | None
    instance_type: str
    launched: datetime | None
    artifact: str | None
    artifact_present: bool | None
    """None in `list_ec2_jobs`, which does not look in S3 for every machine; `describe_ec2_job` checks."""
    console_output: str
    recording: str | None = None
    """The S3 prefix of the run's recording (TensorBoard events, system samples, timeline)."""

    @property
    def series(self) -> Series:
        """The run's curves, read from its console with the same regexes a SageMaker job uses."""
        return series_from_text(self.console_output, DEFAULT_METRIC_DEFINITIONS)

    def notional_cost(self, now: datetime) -> float | None:
        """List price × time since launch (to `now`; a machine that is gone stopped costing at some point
        the API does not keep, so only machines still alive are priced)."""
        if self.launched is None or self.state not in ALIVE:
            return None
        return estimate_ec2_cost(self.instance_type, max(0.0, (now - self.launched).total_seconds()))


def check_options(options: Ec2Options) -> None:
    """Every problem with the machine's settings in one message, or nothing."""
    problems = []
    if options.ami is not None and not _AMI.fullmatch(options.ami):
        problems.append(f"'{options.ami}' is not an AMI id (ami-…) or a resolve:ssm: parameter.")
    elif options.ami == GPU_AMI and not is_gpu_type(options.instance_type):
        problems.append(
            f"The GPU Deep Learning AMI needs a GPU instance type (g4dn, g5, p3 …), not {options.instance_type}; "
            "leave the AMI empty for the image that fits the type."
        )
    if not 60 <= options.max_runtime_s <= MAX_EC2_RUNTIME_S:
        problems.append(f"Maximum run time must be between 60 s and {MAX_EC2_RUNTIME_S} s (28 days).")
    if not _INSTANCE_TYPE.fullmatch(options.instance_type or "") or options.instance_type.startswith("ml."):
        problems.append(f"'{options.instance_type}' is not an EC2 instance type like m5.xlarge (no ml. prefix).")
    if options.instance_profile is not None and not _PROFILE.fullmatch(options.instance_profile):
        problems.append(f"'{options.instance_profile}' is not an instance profile name or ARN.")
    if not 8 <= options.volume_size_gb <= 16384:
        problems.append("Root volume size must be between 8 and 16384 GB.")
    if problems:
        raise ServiceError(" ".join(problems), code="ValidationError")


class Ec2TrainingService(AwsService):
    """Launches, watches and terminates EC2 training machines through boto3."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        ec2_client: Any = None,
        s3_client: Any = None,
        sts_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"ec2": ec2_client, "s3": s3_client, "sts": sts_client}
        )

    def build_request(self, spec: TrainingSpec, options: Ec2Options) -> dict[str, Any]:
        """The RunInstances request (pure apart from the region; tests check it against moto)."""
        request: dict[str, Any] = {
            "ImageId": options.image,
            "InstanceType": options.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": build_user_data(spec, region=self._settings.region, max_runtime_s=options.max_runtime_s),
            "InstanceInitiatedShutdownBehavior": "terminate",
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": options.volume_size_gb, "VolumeType": "gp3"}}
            ],
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "Name", "Value": spec.job_name},
                        {"Key": JOB_TAG, "Value": spec.job_name},
                        {"Key": ARTIFACT_TAG, "Value": artifact_uri(spec)},
                        {"Key": RECORDING_TAG, "Value": recording_uri(spec)},
                    ],
                }
            ],
        }
        if options.instance_profile:
            key = "Arn" if options.instance_profile.startswith("arn:") else "Name"
            request["IamInstanceProfile"] = {key: options.instance_profile}
        return request

    def launch_on_ec2(self, spec: TrainingSpec, options: Ec2Options | None = None) -> str:
        """Check everything, upload the code, start the machine; returns the instance id."""
        options = options or Ec2Options()
        check_options(options)
        training = TrainingService(
            self._session, s3_client=self._client("s3"), sts_client=self._client("sts"), settings=self._settings
        )
        training.check(spec)  # names, hyperparameters, channel non-empty, batch size ≤ train split
        request = self.build_request(spec, options)
        bucket = urlsplit(spec.output_path).netloc
        training.datasets().ensure_bucket(bucket)
        key = urlsplit(source_uri(spec)).path.lstrip("/")
        with tempfile.TemporaryDirectory(prefix="sourcedir-") as scratch:
            archive = packaging.build_sourcedir(Path(scratch) / "sourcedir.tar.gz")
            try:
                self._client("s3").upload_file(str(archive), bucket, key)
            except Exception as exc:  # S3Transfer wraps ClientErrors
                cause = exc if isinstance(exc, BOTO_ERRORS) else (exc.__cause__ or exc.__context__)
                if isinstance(cause, BOTO_ERRORS):
                    raise from_client_error(cause, what=f"upload the training code to s3://{bucket}/{key}") from exc
                raise ServiceError(f"Could not upload the training code: {exc}") from exc
        try:
            response = self._client("ec2").run_instances(**request)
        except BOTO_ERRORS as exc:
            with contextlib.suppress(*BOTO_ERRORS):  # nothing half-created: the code goes again
                self._client("s3").delete_object(Bucket=bucket, Key=key)
            raise from_client_error(exc, what=f"launch an EC2 machine for '{spec.job_name}'") from exc
        return response["Instances"][0]["InstanceId"]

    def list_ec2_jobs(self) -> list[Ec2Job]:
        """Machines launched by the dashboard (tagged with a job name), newest first; no console output."""
        jobs: list[Ec2Job] = []
        try:
            pages = (
                self._client("ec2")
                .get_paginator("describe_instances")
                .paginate(Filters=[{"Name": "tag-key", "Values": [JOB_TAG]}])
            )
            for page in pages:
                for reservation in page.get("Reservations", []):
                    jobs += [_ec2_job(i, console="", present=None) for i in reservation.get("Instances", [])]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list EC2 training machines") from exc
        return sorted(jobs, key=lambda j: j.launched or datetime.min.replace(tzinfo=UTC), reverse=True)

    def describe_ec2_job(self, instance_id: str) -> Ec2Job:
        """State, console output (the user data's prints) and whether the model has landed in S3."""
        _check_instance_id(instance_id)
        ec2 = self._client("ec2")
        try:
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
            instance = reservations[0]["Instances"][0]
        except (IndexError, KeyError):
            raise ServiceError(f"EC2 instance '{instance_id}' was not found.", code="NotFound") from None
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe EC2 instance '{instance_id}'") from exc
        try:
            # botocore already base64-decodes GetConsoleOutput's Output (an after-call handler).
            console = (ec2.get_console_output(InstanceId=instance_id, Latest=True).get("Output") or "")[
                -_CONSOLE_LIMIT:
            ]
        except BOTO_ERRORS as exc:
            console = f"(console output unavailable: {from_client_error(exc, what='read the console').message})"
        artifact = _tags(instance).get(ARTIFACT_TAG)
        return _ec2_job(instance, console=console, present=bool(artifact) and self._exists(artifact))

    def _exists(self, uri: str) -> bool:
        parts = urlsplit(uri)
        try:
            self._client("s3").head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except BOTO_ERRORS:
            return False
        return True

    def terminate(self, instance_id: str) -> str:
        """Terminate the machine; returns its new state (shutting-down)."""
        _check_instance_id(instance_id)
        try:
            response = self._client("ec2").terminate_instances(InstanceIds=[instance_id])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"terminate EC2 instance '{instance_id}'") from exc
        return response["TerminatingInstances"][0]["CurrentState"]["Name"]


def validate(spec: TrainingSpec, options: Ec2Options) -> None:
    """The checks that need no cloud call, for the form to run as the operator types."""
    validate_spec(spec)
    check_options(options)


def _check_instance_id(instance_id: str) -> None:
    if not _INSTANCE_ID.fullmatch(instance_id or ""):
        raise ServiceError(f"'{instance_id}' is not an EC2 instance id (i-…).")


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def _ec2_job(instance: dict[str, Any], *, console: str, present: bool | None) -> Ec2Job:
    tags = _tags(instance)
    return Ec2Job(
        instance_id=instance["InstanceId"],
        job_name=tags.get(JOB_TAG) or tags.get("Name"),
        state=instance.get("State", {}).get("Name", "unknown"),
        state_reason=(instance.get("StateReason") or {}).get("Message"),
        instance_type=instance.get("InstanceType", ""),
        launched=instance.get("LaunchTime"),
        artifact=tags.get(ARTIFACT_TAG),
        artifact_present=present,
        console_output=console,
        recording=tags.get(RECORDING_TAG),
    )
