"""What an operator asks of a training job, checked and turned into the CreateTrainingJob request.

Requests are built exactly as the SageMaker Python SDK builds them for its PyTorch estimator (framework
image for the region and CPU/GPU, JSON-encoded hyperparameters with `sagemaker_program` and
`sagemaker_submit_directory`, channel `training`), so the same job runs on AWS's PyTorch container and in
localcloud. Everything an operator types is checked before the first call.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.core.errors import ServiceError
from services.core.pricing import INSTANCE_TYPES, instance_type

CHANNEL = "training"
ENTRY_POINT = "train.py"
FRAMEWORK_VERSION = "2.6.0"
PYTHON_VERSION = "py312"
ROLE_NAME = "dog-breed-sagemaker-execution"
VOLUME_SIZE_GB = 30
DEFAULT_MAX_RUNTIME_S = 3600
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600  # AWS's ceiling (the default quota is lower: 5 days)
FINE_TUNE_CHOICES = {
    "head": "only the classification head learns (backbone frozen; fastest)",
    "last-blocks": "the head and the last two backbone blocks learn",
}

DEFAULT_METRIC_DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("train:loss", r"train_loss=([0-9\.]+)"),
    ("train:accuracy", r"train_acc=([0-9\.]+)"),
    ("validation:loss", r"valid_loss=([0-9\.]+)"),
    ("validation:accuracy", r"valid_acc=([0-9\.]+)"),
    ("test:loss", r"Testing Loss: ([0-9\.]+)"),  # the original project's objective ("Test Loss" there)
    ("test:accuracy", r"Testing Accuracy: ([0-9\.]+)"),
)
"""Regexes over the training script's log lines, e.g. `Epoch 1/3: train_loss=1.2345 train_acc=0.4567 …`."""

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")
_ECR_ACCOUNTS = {  # regions whose AWS Deep Learning Containers live in another account (SageMaker SDK config)
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
}
SDK_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
)


def image_uri(kind: str, region: str, instance: str) -> str:
    """The AWS PyTorch Deep Learning Container for `kind` ("training" or "inference") in `region`,
    GPU build for GPU instance types (the CPU build would not see the GPU)."""
    account = _ECR_ACCOUNTS.get(region, "763104351884")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    gpus = _gpus(instance)
    if gpus:
        tag = f"{FRAMEWORK_VERSION}-gpu-{PYTHON_VERSION}-cu124-ubuntu22.04"
    else:
        tag = f"{FRAMEWORK_VERSION}-cpu-{PYTHON_VERSION}"
    return f"{account}.dkr.ecr.{region}.{domain}/pytorch-{kind}:{tag}"


def _gpus(instance: str) -> int:
    if instance in INSTANCE_TYPES:
        return INSTANCE_TYPES[instance].gpus
    family = instance.removeprefix("ml.").split(".")[0]
    return 1 if family[:1] in {"g", "p"} else 0


def generate_job_name(base: str = "dog-breed") -> str:
    """`<base>-YYYYMMDD-HHMMSS`, cut so the whole stays within AWS's 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")[: 63 - len(stamp) - 1] or "job"
    return f"{base}-{stamp}"


def check_job_name(name: str) -> str:
    """AWS's training job name rule, checked before a call so the message says what is allowed."""
    if not _NAME.fullmatch(name or ""):
        raise ServiceError(
            f"'{name}' is not a valid training job name: 1–63 letters, digits and hyphens, starting and "
            "ending with a letter or digit."
        )
    return name


@dataclass(frozen=True)
class TrainingSpec:
    """Everything the launch form asks for. `role_arn` None means the account's default execution role
    (`dog-breed-sagemaker-execution`)."""

    job_name: str
    data_uri: str
    output_path: str
    learning_rate: float = 0.001
    batch_size: int = 32
    epochs: int = 3
    fine_tune: str = "head"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    role_arn: str | None = None
    metric_definitions: tuple[tuple[str, str], ...] = DEFAULT_METRIC_DEFINITIONS
    volume_size_gb: int = VOLUME_SIZE_GB
    network_isolation: bool = False  # EnableNetworkIsolation: SageMaker still downloads and uploads the data

    def hyperparameters(self) -> dict[str, Any]:
        """The script's own arguments (`--learning_rate 0.001 …`), before JSON encoding."""
        return {
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "fine_tune": self.fine_tune,
        }


def validate_spec(spec: TrainingSpec, *, train_size: int | None = None) -> None:
    """Every problem with `spec` in one message (an operator fixes them all at once), or nothing.

    `train_size` (images in the channel's train/ split) bounds the batch size when known.
    """
    problems: list[str] = []
    try:
        check_job_name(spec.job_name)
    except ServiceError as exc:
        problems.append(exc.message)
    if not (isinstance(spec.learning_rate, int | float) and spec.learning_rate > 0):
        problems.append(f"Learning rate must be greater than 0 (got {spec.learning_rate}).")
    if not isinstance(spec.batch_size, int) or spec.batch_size < 1:
        problems.append(f"Batch size must be at least 1 (got {spec.batch_size}).")
    elif train_size is not None and spec.batch_size > train_size:
        problems.append(
            f"Batch size {spec.batch_size} is larger than the training split ({train_size} images); "
            f"choose at most {train_size}."
        )
    if not isinstance(spec.epochs, int) or spec.epochs < 1:
        problems.append(f"Epochs must be at least 1 (got {spec.epochs}).")
    if spec.fine_tune not in FINE_TUNE_CHOICES:
        problems.append(f"Fine-tune must be one of {', '.join(FINE_TUNE_CHOICES)} (got '{spec.fine_tune}').")
    try:
        instance_type(spec.instance_type)
    except ServiceError as exc:
        problems.append(exc.message)
    if not isinstance(spec.instance_count, int) or spec.instance_count < 1:
        problems.append(f"Instance count must be at least 1 (got {spec.instance_count}).")
    if not 1 <= spec.max_runtime_s <= MAX_RUNTIME_LIMIT_S:
        problems.append(f"Max runtime must be between 1 s and {MAX_RUNTIME_LIMIT_S} s (28 days).")
    if not 1 <= spec.volume_size_gb <= 16384:
        problems.append("Volume size must be between 1 and 16384 GB.")
    for label, uri in (("Data channel", spec.data_uri), ("Output path", spec.output_path)):
        if not _S3_URI.fullmatch(uri or ""):
            problems.append(f"{label} '{uri}' is not an s3://bucket/prefix URI.")
    if spec.role_arn is not None and not _ROLE_ARN.fullmatch(spec.role_arn):
        problems.append(f"'{spec.role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).")
    problems += _metric_problems(spec.metric_definitions)
    if problems:
        raise ServiceError(" ".join(problems), code="ValidationError")


def _metric_problems(definitions: tuple[tuple[str, str], ...]) -> list[str]:
    problems: list[str] = []
    if len(definitions) > 40:
        problems.append("At most 40 metric definitions.")
    names = [name for name, _ in definitions]
    if len(set(names)) != len(names):
        problems.append("Metric names must be unique.")
    for name, regex in definitions:
        if not 1 <= len(name) <= 255 or not 1 <= len(regex) <= 500:
            problems.append(f"Metric '{name}': name 1–255 characters, regex 1–500.")
            continue
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            problems.append(f"Metric '{name}': the regex does not compile ({exc}).")
            continue
        if compiled.groups < 1:
            problems.append(f"Metric '{name}': the regex needs one capture group for the value.")
    return problems


def encode_hyperparameters(spec: TrainingSpec, *, submit_uri: str, region: str) -> dict[str, str]:
    """Hyperparameters as the SageMaker Python SDK sends them: every value JSON-encoded (so strings carry
    quotes), plus the script-mode keys the PyTorch container reads to fetch and run the code."""
    values: dict[str, Any] = {
        **spec.hyperparameters(),
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": submit_uri,
        "sagemaker_container_log_level": 20,
        "sagemaker_job_name": spec.job_name,
        "sagemaker_region": region,
    }
    return {key: json.dumps(value) for key, value in values.items()}


def decode_hyperparameters(encoded: dict[str, str]) -> dict[str, Any]:
    """The inverse, tolerant of jobs launched by other tools with plain (unencoded) strings."""
    decoded: dict[str, Any] = {}
    for key, value in encoded.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def source_uri(spec: TrainingSpec) -> str:
    """`s3://<output bucket>/<job>/source/sourcedir.tar.gz`, where the SDK puts the code."""
    bucket = urlsplit(spec.output_path).netloc
    return f"s3://{bucket}/{spec.job_name}/source/sourcedir.tar.gz"


def artifact_uri(spec: TrainingSpec) -> str:
    """Where a SageMaker job of the same name would put its model."""
    return f"{spec.output_path.rstrip('/')}/{spec.job_name}/output/model.tar.gz"


TENSORBOARD_LOCAL_PATH = "/opt/ml/output/tensorboard"


def recording_uri(spec: TrainingSpec) -> str:
    """`<output path>/<job>/tensorboard`: where a job's recording lands, on SageMaker and EC2 alike."""
    return f"{spec.output_path.rstrip('/')}/{spec.job_name}/tensorboard"


def build_request(spec: TrainingSpec, *, region: str, role_arn: str) -> dict[str, Any]:
    """The CreateTrainingJob request for `spec` (pure: tests compare it key by key with AWS's shape)."""
    return {
        "TrainingJobName": spec.job_name,
        "HyperParameters": encode_hyperparameters(spec, submit_uri=source_uri(spec), region=region),
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("training", region, spec.instance_type),
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": name, "Regex": regex} for name, regex in spec.metric_definitions],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": spec.data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": spec.output_path},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
        # The script records into SageMaker's default TensorBoard directory; SageMaker (and localcloud) sync
        # it here while the job runs, where the job page's Debugger and Profiler tabs read it.
        "TensorBoardOutputConfig": {"S3OutputPath": recording_uri(spec), "LocalPath": TENSORBOARD_LOCAL_PATH},
        **({"EnableNetworkIsolation": True} if spec.network_isolation else {}),
    }
