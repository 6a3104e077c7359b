"""Two models on the same photos: their accuracies, the breeds each gets right more often, and McNemar's test on
the photos they disagree about, which says whether the difference is more than noise.

McNemar looks only at discordant photos (one model right, the other wrong): under "no difference" each is a fair
coin. Up to 25 of them the exact binomial test is used (math.comb); beyond, the chi-square statistic with
continuity correction, whose one-degree-of-freedom tail is erfc(√(χ²/2)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.core.errors import ServiceError
from services.evaluation.metrics import Rate, rate
from services.evaluation.photo_results import PhotoResult

EXACT_UP_TO = 25
ALPHA = 0.05


@dataclass(frozen=True)
class McNemar:
    """`only_a`: photos model A got right and B wrong; `only_b` the reverse."""

    only_a: int
    only_b: int
    p_value: float
    method: str

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar(only_a: int, only_b: int) -> McNemar:
    """Two-sided McNemar test; symmetric in its arguments."""
    n = only_a + only_b
    if n == 0:
        return McNemar(only_a, only_b, 1.0, "no disagreements")
    if n <= EXACT_UP_TO:
        tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
        return McNemar(only_a, only_b, min(1.0, 2 * tail), "exact binomial")
    statistic = (abs(only_a - only_b) - 1) ** 2 / n
    return McNemar(only_a, only_b, min(1.0, math.erfc(math.sqrt(statistic / 2))), "chi-square, continuity-corrected")


@dataclass(frozen=True)
class Comparison:
    photos: int
    a: Rate
    b: Rate
    test: McNemar
    wins_a: list[tuple[str, int, int]]
    """(breed, right by A, right by B) where A named more of the breed's photos right."""
    wins_b: list[tuple[str, int, int]]

    @property
    def verdict(self) -> str:
        if self.test.only_a == self.test.only_b or not self.test.significant:
            return "noise"
        return "a" if self.test.only_a > self.test.only_b else "b"


def compare(a: Sequence[PhotoResult], b: Sequence[PhotoResult]) -> Comparison:
    """Compare on the photos both evaluations have; refuses two evaluations that share none."""
    by_key = {r.key: r for r in b}
    pairs = [(r, by_key[r.key]) for r in a if r.key in by_key]
    if not pairs:
        raise ServiceError("These two evaluations share no photo: compare two evaluations of the same labelled set.")
    right_a: dict[str, int] = {}
    right_b: dict[str, int] = {}
    only_a = only_b = 0
    for first, second in pairs:
        right_a[first.truth] = right_a.get(first.truth, 0) + first.correct
        right_b[first.truth] = right_b.get(first.truth, 0) + second.correct
        only_a += first.correct and not second.correct
        only_b += second.correct and not first.correct
    breeds = sorted(right_a)
    return Comparison(
        photos=len(pairs),
        a=rate(sum(right_a.values()), len(pairs)),
        b=rate(sum(right_b.values()), len(pairs)),
        test=mcnemar(only_a, only_b),
        wins_a=[(x, right_a[x], right_b[x]) for x in breeds if right_a[x] > right_b[x]],
        wins_b=[(x, right_a[x], right_b[x]) for x in breeds if right_b[x] > right_a[x]],
    )
