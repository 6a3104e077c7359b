"""Lineage: which model an endpoint serves, which training (or tuning) job made that model, which
dataset the job learned from, which breeds the model names, and back from a job to its endpoints.

Everything is read with the calls the SageMaker console uses (DescribeEndpoint, DescribeEndpointConfig,
DescribeModel, DescribeTrainingJob, ListEndpoints); a training job is recognised as a model's origin
only when its ModelArtifacts are exactly the model's ModelDataUrl. The breed list comes from the
`model.json` inside the model archive (read once per archive version).
"""

from __future__ import annotations

import json
import re
import tarfile
import threading
from dataclasses import dataclass
from typing import Any

import boto3

from classifier.labels import IMAGENET_DOG_CLASSES, imagenet_labels, udacity_labels
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

# `<output path>/<job>/output/model.tar.gz`: where SageMaker puts a training job's model.
_JOB_ARTIFACT = re.compile(r"^s3://[^/]+/(?:.*/)?(?P<job>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/output/model\.tar\.gz$")
MAX_MODEL_JSON_BYTES = 64 * 1024

_breeds_cache: dict[tuple[str, str], tuple[str, list[str]] | None] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class ModelOrigin:
    """A model and where it came from; None fields are unknown (a model made outside this dashboard)."""

    model_name: str
    model_data_url: str | None
    training_job: str | None
    tuning_job: str | None
    dataset_uri: str | None


@dataclass(frozen=True)
class VariantLineage:
    variant: str
    instance_type: str | None
    current_instances: int | None
    model: ModelOrigin


@dataclass(frozen=True)
class EndpointLineage:
    name: str
    status: str
    config_name: str
    variants: list[VariantLineage]
    breed_source: str
    """What the served model's labels are ("the 133 Udacity breeds", "ImageNet's 118 dog classes", …)."""
    breeds: list[str]


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class LineageService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        s3_client: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client, "s3": s3_client}
        )

    def endpoint(self, name: str) -> EndpointLineage:
        sagemaker = self._client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{name}'") from exc
        current = {v["VariantName"]: v.get("CurrentInstanceCount") for v in endpoint.get("ProductionVariants", [])}
        variants = [
            VariantLineage(
                variant=v["VariantName"],
                instance_type=v.get("InstanceType"),
                current_instances=current.get(v["VariantName"]),
                model=self.model(v["ModelName"]),
            )
            for v in config["ProductionVariants"]
        ]
        source, breeds = self._breeds(variants[0].model.model_data_url if variants else None)
        return EndpointLineage(name, endpoint["EndpointStatus"], config["EndpointConfigName"], variants, source, breeds)

    def model(self, model_name: str) -> ModelOrigin:
        """The model and, when its artifact is a training job's output, that job, its tuning job and dataset."""
        sagemaker = self._client("sagemaker")
        try:
            model = sagemaker.describe_model(ModelName=model_name)
        except BOTO_ERRORS:
            return ModelOrigin(model_name, None, None, None, None)  # deleted since: the endpoint still serves it
        url = (model.get("PrimaryContainer") or {}).get("ModelDataUrl")
        match = _JOB_ARTIFACT.match(url or "")
        if match is None:
            return ModelOrigin(model_name, url, None, None, None)
        try:
            job = sagemaker.describe_training_job(TrainingJobName=match.group("job"))
        except BOTO_ERRORS:
            return ModelOrigin(model_name, url, None, None, None)
        if job.get("ModelArtifacts", {}).get("S3ModelArtifacts") != url:
            return ModelOrigin(model_name, url, None, None, None)
        channels = {c["ChannelName"]: c for c in job.get("InputDataConfig", [])}
        channel = channels.get("training") or next(iter(channels.values()), None)
        dataset = channel["DataSource"]["S3DataSource"]["S3Uri"] if channel else None
        tuning = job.get("TuningJobArn", "").rsplit("/", 1)[-1] or None
        return ModelOrigin(model_name, url, job["TrainingJobName"], tuning, dataset)

    def jobs_trained_on(self, dataset_uri: str, *, newest: int = 50) -> list[str]:
        """The training jobs, among the `newest` (one ListTrainingJobs page), whose data channel is this dataset.

        ListTrainingJobs does not say a job's data; each candidate is described, so the search is bounded.
        """
        sagemaker = self._client("sagemaker")
        wanted = dataset_uri.rstrip("/")
        try:
            summaries = sagemaker.list_training_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=newest)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list training jobs") from exc
        found = []
        for summary in summaries["TrainingJobSummaries"]:
            try:
                job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            except BOTO_ERRORS:
                continue
            uris = [c["DataSource"]["S3DataSource"]["S3Uri"].rstrip("/") for c in job.get("InputDataConfig", [])]
            if wanted in uris:
                found.append(job["TrainingJobName"])
        return found

    def endpoints_serving(self, model_data_url: str) -> list[str]:
        """The endpoints whose current config serves this artifact (a job page's way back)."""
        sagemaker = self._client("sagemaker")
        serving = []
        try:
            for page in sagemaker.get_paginator("list_endpoints").paginate():
                for summary in page["Endpoints"]:
                    if self._serves(summary["EndpointName"], model_data_url):
                        serving.append(summary["EndpointName"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list endpoints") from exc
        return serving

    def _serves(self, endpoint_name: str, model_data_url: str) -> bool:
        sagemaker = self._client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            for variant in config["ProductionVariants"]:
                model = sagemaker.describe_model(ModelName=variant["ModelName"])
                if (model.get("PrimaryContainer") or {}).get("ModelDataUrl") == model_data_url:
                    return True
        except BOTO_ERRORS:
            return False  # deleted while we looked: not serving it
        return False

    def model_breeds(self, model_data_url: str) -> tuple[str, list[str]]:
        """What the artifact's labels are, and the labels (none when unknown): what an evaluation checks a set
        against."""
        return self._breeds(model_data_url)

    def _breeds(self, model_data_url: str | None) -> tuple[str, list[str]]:
        if not model_data_url or not model_data_url.startswith("s3://"):
            return "unknown: the model's artifact is not in S3", []
        bucket, key = _s3_parts(model_data_url)
        s3 = self._client("s3")
        try:
            etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        except BOTO_ERRORS as exc:
            return f"unknown: {from_client_error(exc, what='read the model archive').message}", []
        with _cache_lock:
            cached = _breeds_cache.get((model_data_url, etag), ...)
        if cached is ...:
            cached = self._read_model_json(bucket, key)
            with _cache_lock:
                _breeds_cache[(model_data_url, etag)] = cached
        if cached is None:
            return "unknown: the archive has no model.json (a model not packaged by this dashboard)", []
        return cached

    def _read_model_json(self, bucket: str, key: str) -> tuple[str, list[str]] | None:
        """Stream the archive until `model.json`; the weights before it are read and dropped, never kept."""
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"]
            with tarfile.open(fileobj=body, mode="r|gz") as archive:
                for member in archive:
                    if member.name.lstrip("./") == "model.json" and member.size <= MAX_MODEL_JSON_BYTES:
                        handle = archive.extractfile(member)
                        metadata = json.loads(handle.read()) if handle else {}
                        break
                else:
                    return None
        except (*BOTO_ERRORS, tarfile.TarError, OSError, ValueError) as exc:
            raise ServiceError(f"Could not read the model archive s3://{bucket}/{key}: {exc}") from exc
        classes = metadata.get("classes")
        if classes == "udacity-133":
            return "the 133 Udacity dog breeds (the trained head)", udacity_labels()
        if classes == "imagenet-1k":
            labels = imagenet_labels()
            return "ImageNet's 118 dog classes (the stock ImageNet model)", [labels[i] for i in IMAGENET_DOG_CLASSES]
        return f"unknown classes {classes!r}", []
