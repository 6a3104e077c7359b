"""Reviews as a Ground Truth image-classification output manifest: JSON Lines, one photo a line.

Each line is what a Ground Truth labeling job writes: `source-ref` (the photo in S3), the label attribute (the
class's index in the label list) and `<attribute>-metadata` (`class-name`, `confidence`, `type`
`groundtruth/image-classification`, `job-name`, `human-annotated`, `creation-date`). Ground Truth keeps an input
manifest's other keys as they are, so the capture the photo came from and the model's answer ride along as keys
of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LABEL_ATTRIBUTE = "breed"
NOT_A_DOG = "not a dog"
TYPE = "groundtruth/image-classification"


class ManifestError(ValueError):
    """A manifest line that is not a review this dashboard can read."""


@dataclass(frozen=True)
class Review:
    """One reviewed photo: the right answer (`truth`, a model label or NOT_A_DOG) and what the model said."""

    source_ref: str
    truth: str
    event_id: str
    inference_time: str | None
    model_label: str | None
    model_confidence: float | None
    model_said_dog: bool | None
    capture_ref: str
    reviewer: str
    reviewed_at: datetime

    @property
    def model_was_right(self) -> bool:
        """Right when it named the breed, or called a non-dog "not a dog"."""
        if self.truth == NOT_A_DOG:
            return self.model_said_dog is False
        return self.model_said_dog is not False and self.model_label == self.truth


def to_line(review: Review, classes: list[str], job_name: str) -> str:
    """The manifest line of `review`; `classes` is the label list the attribute's index points into."""
    if review.truth not in classes:
        raise ManifestError(f"'{review.truth}' is not one of the review's classes")
    line: dict[str, Any] = {
        "source-ref": review.source_ref,
        LABEL_ATTRIBUTE: classes.index(review.truth),
        f"{LABEL_ATTRIBUTE}-metadata": {
            "class-name": review.truth,
            "confidence": 1.0,
            "type": TYPE,
            "job-name": f"labeling-job/{job_name}",
            "human-annotated": "yes",
            "creation-date": review.reviewed_at.astimezone(UTC).replace(tzinfo=None).isoformat(),
        },
        "event-id": review.event_id,
        "inference-time": review.inference_time,
        "model-label": review.model_label,
        "model-confidence": review.model_confidence,
        "model-said-dog": review.model_said_dog,
        "capture-ref": review.capture_ref,
        "reviewer": review.reviewer,
    }
    return json.dumps(line, separators=(",", ":"))


def from_line(line: str) -> Review:
    """Read one manifest line back; raise `ManifestError` when it is not a review of this shape."""
    try:
        data = json.loads(line)
        metadata = data[f"{LABEL_ATTRIBUTE}-metadata"]
        created = datetime.fromisoformat(metadata["creation-date"]).replace(tzinfo=UTC)
        confidence = data.get("model-confidence")
        return Review(
            source_ref=str(data["source-ref"]),
            truth=str(metadata["class-name"]),
            event_id=str(data["event-id"]),
            inference_time=data.get("inference-time"),
            model_label=data.get("model-label"),
            model_confidence=float(confidence) if confidence is not None else None,
            model_said_dog=data.get("model-said-dog"),
            capture_ref=str(data.get("capture-ref", "")),
            reviewer=str(data.get("reviewer", "")),
            reviewed_at=created,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"not a review line: {exc}") from exc


def write_manifest(reviews: list[Review], classes: list[str], job_name: str) -> bytes:
    return "".join(to_line(r, classes, job_name) + "\n" for r in reviews).encode("utf-8")


def read_manifest(body: bytes) -> tuple[list[Review], int]:
    """The reviews of a manifest, the last per photo (a photo reviewed twice keeps its newer answer), and how
    many lines could not be read."""
    latest: dict[str, Review] = {}
    unreadable = 0
    for line in body.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            review = from_line(line)
        except ManifestError:
            unreadable += 1
            continue
        latest[review.event_id] = review
    return list(latest.values()), unreadable
