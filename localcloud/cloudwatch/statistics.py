"""What CloudWatch's metric API (provider.py) and its alarms (alarms.py) share: the standard statistics, how a
bucket of datapoints yields them, and the error CloudWatch answers bad input with."""

from __future__ import annotations

from localcloud.core.protocol import AwsError

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

Bucket = tuple[float, float, float, float]  # sample count, sum, minimum, maximum


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message, 400)


def statistic(name: str, bucket: Bucket) -> float:
    count, total, minimum, maximum = bucket
    return {
        "SampleCount": count,
        "Sum": total,
        "Minimum": minimum,
        "Maximum": maximum,
        "Average": total / count if count else 0.0,
    }[name]
