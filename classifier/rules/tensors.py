"""Which recorded tags a Debugger rule reads: smdebug's collections mapped onto the recording's tags, the
rules' ``tensor_regex``, and the small helpers every rule shares.

smdebug saved tensors in named collections; the recording keeps scalar tags whose prefixes say the same
(classifier/recording/reader.py lists them). Where a rule takes both ``tensor_regex`` and ``collection_names``
it reads the union of the two sets, as the SageMaker developer guide describes.
"""

import re
from typing import Any

import numpy as np

from classifier.recording.reader import Recording, Series
from classifier.rules.rule_params import Parameter, patterns

COLLECTIONS: dict[str, tuple[str, ...]] = {
    "all": ("",),
    "gradients": ("GradientNorm/", "GradientMeanAbs/", "GradientSpread/"),
    "losses": ("Loss/",),
    "metrics": ("Accuracy/",),
    "weights": ("WeightNorm/", "WeightMean/", "WeightStd/", "UpdateRatio/"),
}
"""smdebug's collection names this recording keeps -> the prefixes of their tags."""

Finding = tuple[int, str] | None
"""(step, what happened) where a rule fired, or None."""


class MissingData(Exception):
    """The recording lacks what the rule reads: Error once the job has ended, InProgress (waiting) before."""


def regex_parameter(default: str = "") -> Parameter:
    return Parameter("tensor_regex", str, default, pattern=True, help="Only tags matching these regular expressions.")


def collections_parameter() -> Parameter:
    return Parameter(
        "collection_names", str, "", choices=tuple(COLLECTIONS), many=True, help="Only the tags of these collections."
    )


def matches(tag: str, tensor_regex: str) -> bool:
    return any(re.search(expression, tag) for expression in patterns(tensor_regex))


def tags_named(rec: Recording, tensor_regex: str, collection_names: str = "") -> list[str]:
    """The tags ``tensor_regex`` matches and those of the named collections, together, sorted."""
    prefixes = tuple(prefix for name in collection_names.split(",") if name for prefix in COLLECTIONS[name])
    return sorted(
        tag
        for tag in rec.scalars
        if (tensor_regex and matches(tag, tensor_regex)) or (prefixes and tag.startswith(prefixes))
    )


def needs(rec: Recording, tag: str) -> Series:
    series = rec.series(tag)
    if series is None or series.values.size == 0:
        raise MissingData(f"{tag} was not recorded")
    return series


def first(checks: Any) -> Finding:
    """The earliest step, over (series, condition, what) triples, where a condition holds."""
    best: Finding = None
    for series, condition, what in checks:
        hits = np.flatnonzero(condition(series.values))
        if hits.size:
            step = int(series.steps[hits[0]])
            if best is None or step < best[0]:
                best = (step, f"{what} at step {step}")
    return best


def earliest(findings: list[Finding]) -> Finding:
    found = [finding for finding in findings if finding is not None]
    return min(found, key=lambda finding: finding[0]) if found else None
