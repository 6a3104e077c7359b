"""What the model said about each photo of a labelled set, read from the batch transform's `<photo>.out` objects.

An `.out` object holds exactly what the model's serving code answered for the photo: this project's JSON
(`{"predictions": [{"label", "score"} × 5], "is_dog", "dog_score", …}`, classifier/serving/inference.py) or the
original deployment's `[[133 raw logits]]`; both are read by the Predict page's parser, so the two pages agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.core.errors import ServiceError
from services.evaluation.breed_names import resolve
from services.serving.prediction import parse_answer


@dataclass(frozen=True)
class PhotoResult:
    """One photo: its key under the set, its breed (canonical), the breeds the model ranked first (canonical,
    best first, at most five) with their scores, and its dog verdict (None from a model that gives none)."""

    key: str
    truth: str
    said: tuple[str, ...]
    scores: tuple[float, ...]
    is_dog: bool | None

    @property
    def top1(self) -> str:
        return self.said[0] if self.said else ""

    @property
    def correct(self) -> bool:
        return self.top1 == self.truth

    @property
    def in_top5(self) -> bool:
        return self.truth in self.said[:5]

    @property
    def confidence(self) -> float:
        """The score the model gave its first answer (0–1)."""
        return self.scores[0] if self.scores else 0.0

    def to_json(self) -> list[Any]:
        """Compact: a thousand photos stay a small JSON object."""
        return [self.key, self.truth, list(self.said), [round(s, 5) for s in self.scores], self.is_dog]

    @classmethod
    def from_json(cls, row: list[Any]) -> PhotoResult:
        key, truth, said, scores, is_dog = row
        return cls(str(key), str(truth), tuple(map(str, said)), tuple(map(float, scores)), is_dog)


def read_output(body: bytes, *, key: str, truth: str) -> PhotoResult:
    """The `.out` body for photo `key` of breed `truth` (canonical); a body no parser knows raises ServiceError."""
    try:
        answer = parse_answer(json.loads(body), source=f"the transform output for {key}")
    except ValueError as exc:
        raise ServiceError(f"The transform output for {key} is not JSON: {body[:120]!r}.") from exc
    said = [resolve(breed.label, truth) for breed in answer.breeds[:5]]
    scores = [breed.score for breed in answer.breeds[:5]]
    return PhotoResult(key, truth, tuple(said), tuple(scores), answer.is_dog)
