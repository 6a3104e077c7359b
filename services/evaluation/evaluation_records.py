"""Where an evaluation is kept in S3, beside its transform output, so a reload or another operator sees it:

    s3://<bucket>/evaluations/<name>/evaluation.json   what was evaluated on what, status, headline figures
    s3://<bucket>/evaluations/<name>/manifest.json     the transform's input: the set's photos (a ManifestFile)
    s3://<bucket>/evaluations/<name>/output/           the transform's `<photo>.out` answers
    s3://<bucket>/evaluations/<name>/results.json      every photo's result, written once the transform ended

The name is the transform job's name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROOT = "evaluations/"
ENDED = frozenset({"Completed", "Failed", "Stopped"})


def record_key(name: str) -> str:
    return f"{ROOT}{name}/evaluation.json"


def results_key(name: str) -> str:
    return f"{ROOT}{name}/results.json"


def manifest_key(name: str) -> str:
    return f"{ROOT}{name}/manifest.json"


def output_prefix(name: str) -> str:
    return f"{ROOT}{name}/output/"


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation: the model (how it was picked, the SageMaker Model run, its artifact) and the set."""

    name: str
    bucket: str
    created: str
    model_kind: str
    model_origin: str
    model_name: str
    model_data_url: str
    set_uri: str
    photos: int
    classes: int
    unknown_classes: list[str] = field(default_factory=list)
    status: str = "InProgress"
    failure_reason: str | None = None
    top1: float | None = None
    top5: float | None = None
    scored: int = 0

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def output_uri(self) -> str:
        return f"s3://{self.bucket}/{output_prefix(self.name)}"

    @property
    def label(self) -> str:
        """The model first, then the set without its bucket, then the evaluation: a half-width selector cuts
        the end of a long label, and the model is what a reader picks by."""
        labelled = self.set_uri.removeprefix("s3://").partition("/")[2] or self.set_uri
        return f"{self.model_origin} ({self.model_kind}) on {labelled} · {self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvaluationRecord:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
