"""Lambda through real boto3, for the tests and the benchmarks: a function from a handler's source, and its
AWS/Lambda metrics polled until they show what is expected."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from tests.localcloud.conftest import function_zip


def create_function(client: Any, name: str, source: str, role: str, **settings: Any) -> None:
    """CreateFunction for `source` as lambda_function.py (Python 3.11, 30 s timeout), running as `role`."""
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(source)},
        Timeout=30,
        **settings,
    )


def metric(cloudwatch: Any, name: str, dimensions: dict[str, str], expect: float, statistic: str = "Sum") -> float:
    """The metric's statistic over the last minutes, polled until it shows `expect` (metrics land a moment
    after the call, as on AWS); returns what it shows last."""
    deadline = time.monotonic() + 10
    while True:
        now = dt.datetime.now(dt.UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=1),
            Period=60,
            Statistics=[statistic],
        )["Datapoints"]
        values = [p[statistic] for p in points]
        value = (sum(values) if statistic == "Sum" else max(values)) if values else 0.0
        if value == expect or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
