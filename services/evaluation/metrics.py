"""Accuracy with its uncertainty, per-breed precision/recall/F1 and calibration, from photo results (numpy only).

Intervals are Wilson score intervals: unlike the normal approximation they stay inside [0, 1] and are honest
for the small per-breed counts of a test split (a breed with 3 photos, all right, is not "100 % ± 0").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.evaluation.photo_results import PhotoResult

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """`hits` of `total`, and its 95 % Wilson interval."""

    hits: int
    total: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0


def wilson(hits: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion; (0, 1) when nothing was counted."""
    if total <= 0:
        return 0.0, 1.0
    p = hits / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    low = 0.0 if hits <= 0 else max(0.0, min(p, centre - margin))  # rounding must not push p outside
    high = 1.0 if hits >= total else min(1.0, max(p, centre + margin))
    return low, high


def rate(hits: int, total: int) -> Rate:
    low, high = wilson(hits, total)
    return Rate(hits, total, low, high)


@dataclass(frozen=True)
class BreedScore:
    """One breed of the set (or one the model answered): photos of it, how often it was said, and the scores."""

    breed: str
    photos: int
    said: int
    right: int

    @property
    def precision(self) -> float | None:
        return self.right / self.said if self.said else None

    @property
    def recall(self) -> float | None:
        return self.right / self.photos if self.photos else None

    @property
    def f1(self) -> float | None:
        return 2 * self.right / (self.photos + self.said) if self.photos + self.said else None


def per_breed(results: Sequence[PhotoResult]) -> list[BreedScore]:
    """Every breed that is a photo's truth or a top-1 answer, by name."""
    photos: dict[str, int] = {}
    said: dict[str, int] = {}
    right: dict[str, int] = {}
    for result in results:
        photos[result.truth] = photos.get(result.truth, 0) + 1
        said[result.top1] = said.get(result.top1, 0) + 1
        if result.correct:
            right[result.truth] = right.get(result.truth, 0) + 1
    breeds = sorted(set(photos) | set(said) - {""})
    return [BreedScore(b, photos.get(b, 0), said.get(b, 0), right.get(b, 0)) for b in breeds]


def never_right(scores: Sequence[BreedScore]) -> list[BreedScore]:
    """Breeds with photos of which not one was named right, most photos first."""
    return sorted((s for s in scores if s.photos and not s.right), key=lambda s: (-s.photos, s.breed))


@dataclass(frozen=True)
class Calibration:
    """Reliability bins (equal width over the first answer's score) and the expected calibration error: the
    photo-weighted mean gap between how sure the model was and how often it was right."""

    edges: list[float]
    counts: list[int]
    confidence: list[float | None]
    accuracy: list[float | None]
    ece: float


def calibration(results: Sequence[PhotoResult], bins: int = 10) -> Calibration:
    edges = np.linspace(0.0, 1.0, bins + 1)
    confidence = np.clip(np.array([r.confidence for r in results], dtype=float), 0.0, 1.0)
    correct = np.array([r.correct for r in results], dtype=float)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    sums_conf = np.bincount(which, weights=confidence, minlength=bins)
    sums_right = np.bincount(which, weights=correct, minlength=bins)
    filled = counts > 0
    mean_conf = np.where(filled, sums_conf / np.maximum(counts, 1), np.nan)
    mean_right = np.where(filled, sums_right / np.maximum(counts, 1), np.nan)
    total = counts.sum()
    gaps = np.abs(np.nan_to_num(mean_conf) - np.nan_to_num(mean_right)) * counts
    ece = float(gaps.sum() / total) if total else 0.0
    return Calibration(
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        confidence=[None if math.isnan(v) else float(v) for v in mean_conf],
        accuracy=[None if math.isnan(v) else float(v) for v in mean_right],
        ece=min(1.0, max(0.0, ece)),
    )


def not_a_dog(results: Sequence[PhotoResult]) -> int:
    """Photos the model called "not a dog": every photo of a labelled breed set is a dog, so each is a miss."""
    return sum(1 for r in results if r.is_dog is False)
