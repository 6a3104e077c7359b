"""The baseline answers are compared with: the class frequencies of the training set the served model learned
from, as Model Monitor suggests a baseline from the training data. The set is found by lineage (endpoint → model →
training job → its `training` channel) and counted from one S3 listing of its `train/` split."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.serving.lineage import EndpointLineage, LineageService

_FOLDER_NUMBER = re.compile(r"^\d+\.")
_TTL_S = 300.0  # a dataset is rarely replaced in place; five minutes of memory keep redraws to no listing
_memo: dict[str, tuple[float, dict[str, int]]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Baseline:
    """Training photos per class (by the model's label spelling), or none and why."""

    counts: dict[str, int]
    dataset_uri: str | None
    training_job: str | None
    note: str

    @property
    def found(self) -> bool:
        return bool(self.counts)


def label_of(folder: str) -> str:
    """`001.Affenpinscher` → `Affenpinscher`: how the trained model names the class."""
    return _FOLDER_NUMBER.sub("", folder)


class BaselineService(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def for_endpoint(self, endpoint: str) -> tuple[Baseline, EndpointLineage]:
        """The baseline of the model the endpoint's first variant serves, and the endpoint's lineage."""
        lineage = LineageService(self._settings, boto3_session=self._session).endpoint(endpoint)
        if not lineage.variants:
            return Baseline({}, None, None, "The endpoint has no variants."), lineage
        origin = lineage.variants[0].model
        if origin.training_job is None or origin.dataset_uri is None:
            note = (
                f"Model '{origin.model_name}' was not made by a training job here, so there is no training set to "
                "compare its answers with: the answers are shown alone, with no drift score and no drift alarm. "
                "An endpoint serving a model trained on the Train page gets both."
            )
            return Baseline({}, None, None, note), lineage
        try:
            counts = self.dataset_counts(origin.dataset_uri)
        except ServiceError as exc:
            where = f"The training set {origin.dataset_uri} of job {origin.training_job}"
            note = f"{where} could not be read: {exc.message}"
            return Baseline({}, origin.dataset_uri, origin.training_job, note), lineage
        note = f"Training split of {origin.dataset_uri}, the data channel of training job {origin.training_job}."
        return Baseline(counts, origin.dataset_uri, origin.training_job, note), lineage

    def dataset_counts(self, dataset_uri: str) -> dict[str, int]:
        """Photos per class in the dataset's `train/` split, keyed by label."""
        with _lock:
            memo = _memo.get(dataset_uri)
        if memo and time.monotonic() - memo[0] < _TTL_S:
            return dict(memo[1])
        bucket, _, prefix = dataset_uri.removeprefix("s3://").partition("/")
        summary = DatasetService(settings=self._settings, boto3_session=self._session).summarize_dataset(bucket, prefix)
        counts = {label_of(c.name): c.train for c in summary.classes if c.train}
        with _lock:
            _memo[dataset_uri] = (time.monotonic(), counts)
        return dict(counts)
