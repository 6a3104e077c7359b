"""Drift of the answered breeds from the training set's, as the Jensen–Shannon distance.

The Jensen–Shannon distance is the square root of the Jensen–Shannon divergence with base-2 logarithms: symmetric,
0 for identical distributions, 1 for distributions with no class in common, and defined where one side has a
class the other lacks (unlike the Kullback–Leibler divergence or PSI, which need smoothing there). It is what
SageMaker Clarify reports as JS for label distributions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DRIFT_METRIC = "Jensen–Shannon distance"
MIN_REQUESTS = 20
"""Fewer answers in an hour than this give no drift score: a handful of photos always looks drifted."""


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """The Jensen–Shannon distance (base 2, in [0, 1]) between two distributions given as counts or weights
    per class; either side is normalised first. Raises ValueError for an empty or negative side."""
    classes = sorted(set(p) | set(q))
    left = np.array([float(p.get(c, 0.0)) for c in classes])
    right = np.array([float(q.get(c, 0.0)) for c in classes])
    for side in (left, right):
        if side.size == 0 or (side < 0).any() or side.sum() <= 0 or not np.isfinite(side).all():
            raise ValueError("a distribution needs non-negative, finite weights summing to more than 0")
    left, right = left / left.sum(), right / right.sum()
    middle = (left + right) / 2
    divergence = (_kl(left, middle) + _kl(right, middle)) / 2
    return float(np.sqrt(min(1.0, max(0.0, divergence))))


def _kl(a: np.ndarray, b: np.ndarray) -> float:
    present = a > 0
    return float(np.sum(a[present] * np.log2(a[present] / b[present])))


@dataclass(frozen=True)
class HourDrift:
    """One hour's answers against the baseline: no distance when the hour had too few answers to say; `floor` is
    what an hour of as many answers scores by chance alone (see `noise_floor`)."""

    hour: str
    answers: int
    distance: float | None
    floor: float | None = None

    @property
    def beyond_chance(self) -> float | None:
        """How far the distance is above the noise floor (0 within it): the score the drift alarm judges, so that
        an hour of few answers spread over many breeds does not alarm by chance."""
        if self.distance is None or self.floor is None:
            return None
        return max(0.0, self.distance - self.floor)


def hourly_drift(
    breeds_per_hour: Mapping[str, Mapping[str, int]], baseline: Mapping[str, float], *, minimum: int = MIN_REQUESTS
) -> list[HourDrift]:
    """The drift score of each hour, oldest first, with its noise floor."""
    out = []
    for hour in sorted(breeds_per_hour):
        counts = breeds_per_hour[hour]
        answers = int(sum(counts.values()))
        if answers >= minimum and baseline:
            out.append(HourDrift(hour, answers, js_distance(counts, baseline), noise_floor(baseline, answers)))
        else:
            out.append(HourDrift(hour, answers, None))
    return out


def noise_floor(baseline: Mapping[str, float], answers: int, *, draws: int = 200, seed: int = 0) -> float:
    """The distance an hour of `answers` answers drawn straight from `baseline` stays under 95 % of the time: chance
    alone, no drift. Few answers spread over many breeds look far from the baseline (20 answers over 111 breeds score
    about 0.76), so a score or a threshold means something only against this. Seeded: the same inputs, the same
    floor on every rerun (and remembered, as every hour of a page draws it)."""
    classes = sorted(baseline)
    weights = tuple(float(baseline[c]) for c in classes)
    if answers < 1 or not weights or sum(weights) <= 0 or min(weights) < 0:
        raise ValueError("a noise floor needs answers and a baseline with weight")
    return _floor(weights, answers, draws, seed)


@lru_cache(maxsize=512)
def _floor(weights: tuple[float, ...], answers: int, draws: int, seed: int) -> float:
    shares = np.array(weights) / sum(weights)
    samples = np.random.default_rng(seed).multinomial(answers, shares, size=draws) / answers
    middle = (samples + shares) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(samples > 0, samples * np.log2(samples / middle), 0.0).sum(axis=1)
        right = np.where(shares > 0, shares * np.log2(shares / middle), 0.0).sum(axis=1)
    distances = np.sqrt(np.clip((left + right) / 2, 0.0, 1.0))
    return float(np.percentile(distances, 95))
