"""CloudWatch's fixed metric retention keeps the store bounded: past 3 hours, 15 days and 63 days data is aggregated
to 1-, 5- and 60-minute statistic sets, and past 455 days dropped, on the cloud's clock. With a one-second minute
(as `--metric-period-seconds 1` gives), those ages are 3 minutes, 6 hours, 25.2 hours and 7.6 days, and the
resolutions 1, 5 and 60 seconds, so data put with past timestamps reaches every tier at once."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.cloudwatch.provider import Metrics
from localcloud.core.clock import Clock
from localcloud.core.state import Store
from tests.localcloud.conftest import CALL

HOUR = 3600


@pytest.fixture(scope="module")
def metrics(tmp_path_factory) -> Metrics:
    return Metrics(Store(tmp_path_factory.mktemp("metric-retention")), Clock(period_s=1.0))


def rows(metrics: Metrics, namespace: str) -> int:
    return metrics.store.query("SELECT count(*) FROM metric_data WHERE namespace = ?", (namespace,))[0][0]


def hourly(metrics: Metrics, namespace: str, start: float, end: float) -> dict:
    answer = metrics.op_GetMetricStatistics(
        {
            "Namespace": namespace,
            "MetricName": "m",
            "StartTime": dt.datetime.fromtimestamp(start, dt.UTC),
            "EndTime": dt.datetime.fromtimestamp(end, dt.UTC),
            "Period": HOUR,
            "Statistics": ["SampleCount", "Sum", "Minimum", "Maximum"],
        },
        CALL,
    )
    return {
        p["Timestamp"].timestamp(): (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"])
        for p in answer["Datapoints"]
    }


def test_each_tier_keeps_its_resolution_and_expired_data_goes(metrics):
    namespace, now = f"tiers-{uuid.uuid4().hex}", time.time()
    minute = math.floor(now / 60) * 60

    def put(base: float, count: int, step: float) -> None:
        for i in range(count):
            metrics.put(namespace, "m", {}, base + i * step, float(i))

    put(minute - 50, 10, 5.0)  # the last minute: kept as put
    put(minute - 1020, 10, 0.1)  # 17 clock-hours old: one set for their second
    put(minute - 30_000, 20, 1.0)  # 20.8 clock-days: one set for each 5 seconds
    put(math.floor((now - 100_000) / HOUR) * HOUR, 120, 1.0)  # 69 clock-days: one set for each minute
    put(minute - 700_000, 5, 1.0)  # 486 clock-days: dropped
    assert rows(metrics, namespace) == 165
    metrics.retention.sweep(now)
    assert rows(metrics, namespace) == 10 + 1 + 4 + 2
    metrics.retention.sweep(now)  # a sweep of aggregated data changes nothing
    assert rows(metrics, namespace) == 17

    five_seconds = metrics.op_GetMetricStatistics(
        {
            "Namespace": namespace,
            "MetricName": "m",
            "StartTime": dt.datetime.fromtimestamp(minute - 30_000, dt.UTC),
            "EndTime": dt.datetime.fromtimestamp(minute - 29_980, dt.UTC),
            "Period": 5,
            "Statistics": ["SampleCount", "Sum", "Minimum", "Maximum"],
        },
        CALL,
    )["Datapoints"]
    by_time = sorted((p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) for p in five_seconds)
    assert by_time == [(5.0, 10.0, 0.0, 4.0), (5.0, 35.0, 5.0, 9.0), (5.0, 60.0, 10.0, 14.0), (5.0, 85.0, 15.0, 19.0)]
    assert hourly(metrics, namespace, minute - 700_100, minute - 699_900) == {}


@settings(max_examples=25, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.floats(min_value=0, max_value=600_000), st.floats(min_value=-1e6, max_value=1e6)),
        min_size=1,
        max_size=40,
    )
)
def test_aggregation_keeps_every_hour_statistics(metrics, points):
    """Whatever is put, however old (short of expiry), its hourly statistics survive the sweeps unchanged, and no
    more rows stay than the buckets each tier keeps."""
    namespace, now = f"hours-{uuid.uuid4().hex}", time.time()
    expected: dict[float, list[float]] = {}
    for age, value in points:
        metrics.put(namespace, "m", {}, now - age, value)
        expected.setdefault(math.floor((now - age) / HOUR) * HOUR, []).append(value)
    metrics.retention.sweep(now)
    got = hourly(metrics, namespace, now - 700_000, now + HOUR)
    assert set(got) == set(expected)
    for hour, values in expected.items():
        count, total, low, high = got[hour]
        assert (count, low, high) == (len(values), min(values), max(values))
        assert total == pytest.approx(sum(values), abs=1e-6 * max(1.0, *map(abs, values)) * len(values))
    as_put = sum(1 for age, _ in points if not _resolution(age))
    sets = {(r, math.floor((now - age) / r)) for age, _ in points if (r := _resolution(age))}
    assert rows(metrics, namespace) <= as_put + len(sets)


def _resolution(age: float) -> float:
    """The resolution (real seconds, on the one-second clock) kept for data of this age; 0 while kept as put."""
    return 60.0 if age > 90_720 else 5.0 if age > 21_600 else 1.0 if age > 180 else 0.0
