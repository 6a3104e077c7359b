"""What a role must keep doing, read from its recent resources and the dashboard's layout (pure).

The SageMaker execution role: its newest training jobs (channels, code, outputs, the training log group and
metric namespace), its models (artifacts, private images) and the endpoints serving them (their log groups);
and, for the role the Train and Deploy pages use by default, where those pages put things
(services/training/job_spec.py, services/data/datasets.py), so a plan covers the next job too. The function's
role: the endpoints its functions call and their log groups.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from services.security.generalise import ENDPOINT_LOG_GROUPS, Evidence, Layout, Use
from services.training.curves import LOG_GROUP as TRAINING_LOG_GROUP
from services.training.job_spec import TrainingSpec, artifact_uri, source_uri

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
"""The namespace SageMaker publishes a job's metric-definition matches in, as the job's role."""
DATASETS_ROOT = "datasets/"
"""Where the Data page uploads datasets (services/data/datasets.py `dataset_prefix`)."""
_SHOWN = 3  # job names quoted per piece of evidence


def s3_split(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); ('', '') for anything else."""
    if not uri.startswith("s3://"):
        return "", ""
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _under(prefix_key: str) -> str:
    """Every object SageMaker writes below an S3OutputPath: `out/` and `out` both mean `out/<job>/...`."""
    return prefix_key.rstrip("/") + "/*" if prefix_key.strip("/") else "*"


def _code_pattern(job_name: str, uri: str) -> str:
    """The job's code object, its own job-name folder generalised: `b/<job>/source/x` -> `b/*/source/x`."""
    bucket, key = s3_split(uri)
    if key.startswith(f"{job_name}/"):
        key = "*/" + key[len(job_name) + 1 :]
    return f"{bucket}/{key}"


def _named(jobs: list[str]) -> str:
    more = f" and {len(jobs) - _SHOWN} more" if len(jobs) > _SHOWN else ""
    return ", ".join(jobs[:_SHOWN]) + more


def training_uses(jobs: list[dict[str, Any]], region: str, account: str) -> tuple[list[Use], Layout]:
    """Uses and layout from the role's training jobs (DescribeTrainingJob answers, newest first)."""
    by_use: dict[tuple[str, str, str, tuple[str, str, str] | None], list[str]] = defaultdict(list)
    code, channels, outputs, artifacts = set(), set(), set(), set()
    for job in jobs:
        name = job["TrainingJobName"]
        for channel in job.get("InputDataConfig", []):
            bucket, key = s3_split(channel["DataSource"].get("S3DataSource", {}).get("S3Uri", ""))
            if bucket:
                channels.add(f"{bucket}/{key}*")
                by_use[("ReadTrainingData", "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}*", None)].append(name)
                prefix = ("StringLike", "s3:prefix", f"{key}*")
                by_use[("ListTrainingData", "s3:ListBucket", f"arn:aws:s3:::{bucket}", prefix)].append(name)
        submit = str(job.get("HyperParameters", {}).get("sagemaker_submit_directory", "")).strip('"')
        if submit.startswith("s3://"):
            code.add(pattern := _code_pattern(name, submit))
            by_use[("ReadTrainingCode", "s3:GetObject", f"arn:aws:s3:::{pattern}", None)].append(name)
        bucket, key = s3_split(job.get("OutputDataConfig", {}).get("S3OutputPath", ""))
        if bucket:
            outputs.add(written := f"{bucket}/{_under(key)}")
            by_use[("WriteTrainingOutput", "s3:PutObject", f"arn:aws:s3:::{written}", None)].append(name)
            artifacts.add(model := f"{bucket}/{key.rstrip('/')}/*/output/model.tar.gz".replace("//", "/"))
            by_use[("ReadModelArtifacts", "s3:GetObject", f"arn:aws:s3:::{model}", None)].append(name)
    uses = [
        Use(sid, action, resource, "recent resources", f"training jobs {_named(names)}", condition)
        for (sid, action, resource, condition), names in by_use.items()
    ]
    if jobs:
        uses += log_uses(TRAINING_LOG_GROUP, region, account, "recent resources", "its training jobs log here")
        why = "SageMaker publishes its jobs' metric-definition matches here as the role"
        condition = ("StringEquals", "cloudwatch:namespace", TRAINING_NAMESPACE)
        uses.append(Use("PutMetrics", "cloudwatch:PutMetricData", "*", "recent resources", why, condition))
    layout = Layout(tuple(sorted(code)), tuple(sorted(channels)), tuple(sorted(outputs)), tuple(sorted(artifacts)))
    return uses, layout


def log_uses(group: str, region: str, account: str, source: Evidence, why: str) -> list[Use]:
    """Create the group and write its streams (`<group>:*`, AWS's form for stream-level actions)."""
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    return [
        Use("CreateLogGroups", "logs:CreateLogGroup", arn, source, why),
        Use("WriteLogs", "logs:CreateLogStream", f"{arn}:*", source, why),
        Use("WriteLogs", "logs:PutLogEvents", f"{arn}:*", source, why),
    ]


def model_uses(
    models: dict[str, list[dict[str, Any]]], serving: list[str], region: str, account: str
) -> tuple[list[Use], tuple[str, ...]]:
    """Uses from the role's models (name -> containers) and the endpoints serving them; and the artifacts."""
    uses, artifacts = [], []
    for model, containers in models.items():
        for container in containers:
            bucket, key = s3_split(container.get("ModelDataUrl", ""))
            if bucket:
                artifacts.append(f"{bucket}/{key}")
                resource = f"arn:aws:s3:::{bucket}/{key}"
                uses.append(Use("ReadModelArtifacts", "s3:GetObject", resource, "recent resources", f"model {model}"))
            repository = ecr_repository(container.get("Image", ""))
            if repository and repository.split(":")[4] == account:  # AWS's own images are pulled by SageMaker
                why = f"model {model} runs a private image"
                for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
                    uses.append(Use("PullPrivateImages", action, repository, "recent resources", why))
                uses.append(Use("EcrSignIn", "ecr:GetAuthorizationToken", "*", "recent resources", why))
    if serving:
        why = f"endpoints {_named(serving)} serve its models; the Deploy page names new ones"
        uses += log_uses(ENDPOINT_LOG_GROUPS + "*", region, account, "recent resources", why)
    return uses, tuple(artifacts)


def ecr_repository(image: str) -> str | None:
    """`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG` -> the repository's ARN."""
    host, _, path = image.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not path:
        return None
    return f"arn:aws:ecr:{parts[3]}:{parts[0]}:repository/{path.split(':')[0].split('@')[0]}"


def dashboard_uses(output_path: str, region: str, account: str) -> tuple[list[Use], Layout]:
    """Where the Train and Deploy pages put things for the role they use by default: code of any job, the
    Data page's datasets, outputs and models under the default output path, its logs and metrics."""
    spec = TrainingSpec(job_name="*", data_uri="", output_path=output_path)
    bucket, out_key = s3_split(output_path)
    code = "/".join(s3_split(source_uri(spec)))
    model = "/".join(s3_split(artifact_uri(spec)))
    written = f"{bucket}/{_under(out_key)}"
    data = f"{bucket}/{DATASETS_ROOT}*"
    source: Evidence = "dashboard layout"
    uses = [
        Use("ReadTrainingCode", "s3:GetObject", f"arn:aws:s3:::{code}", source, "the Train page's code key"),
        Use("ReadTrainingData", "s3:GetObject", f"arn:aws:s3:::{data}", source, "the Data page's datasets"),
        Use(
            "ListTrainingData",
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            source,
            "SageMaker lists a channel before it downloads it",
            ("StringLike", "s3:prefix", f"{DATASETS_ROOT}*"),
        ),
        Use("WriteTrainingOutput", "s3:PutObject", f"arn:aws:s3:::{written}", source, "the Train page's output path"),
        Use("ReadModelArtifacts", "s3:GetObject", f"arn:aws:s3:::{model}", source, "the Deploy page serves these"),
        *log_uses(TRAINING_LOG_GROUP, region, account, source, "every training job logs here"),
        Use(
            "PutMetrics",
            "cloudwatch:PutMetricData",
            "*",
            source,
            "SageMaker publishes training metrics as the role",
            ("StringEquals", "cloudwatch:namespace", TRAINING_NAMESPACE),
        ),
    ]
    return uses, Layout((code,), (data,), (written,), (model,))


def function_uses(functions: list[dict[str, Any]], region: str, account: str) -> list[Use]:
    """Uses of the functions sharing a role: invoking the endpoint each names, writing its own logs."""
    uses = []
    for function in functions:
        name = function["FunctionName"]
        endpoint = ((function.get("Environment") or {}).get("Variables") or {}).get("ENDPOINT_NAME")
        if endpoint:
            arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"
            why = f"function {name} calls it (ENDPOINT_NAME)"
            uses.append(Use("InvokeEndpoints", "sagemaker:InvokeEndpoint", arn, "recent resources", why))
        uses += log_uses(f"/aws/lambda/{name}", region, account, "recent resources", f"function {name} logs here")
    return uses
