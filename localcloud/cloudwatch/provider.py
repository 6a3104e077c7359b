"""CloudWatch metrics, over whichever of its protocols a client speaks (CBOR, JSON, query).

Each datum is stored as a statistic set (count, sum, min, max), which is all the standard
statistics need; training jobs publish through `put` into `/aws/sagemaker/TrainingJobs`, Lambda
through `put_many` into `AWS/Lambda`. Old data is aggregated and dropped as AWS retains it (retention.py).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from typing import Any

from localcloud.cloudwatch.alarms import Alarms
from localcloud.cloudwatch.retention import MetricRetention
from localcloud.cloudwatch.statistics import STATISTICS, Bucket, invalid, statistic
from localcloud.core.clock import Clock
from localcloud.core.interfaces.metric_sink import Datapoint
from localcloud.core.paginator import Paginator, opaque, unopaque
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Operation, Service
from localcloud.core.state import Store

PERCENTILE = re.compile(r"p(100|[0-9]{1,2}(\.[0-9]{1,10})?)")  # GetMetricData's pNN.NN statistics
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints
LIST_PAGE = 500  # ListMetrics returns up to 500 metrics a call
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


def _dimensions_key(dimensions: dict[str, str]) -> str:
    """CloudWatch identifies a metric by its exact set of dimensions, in any order."""
    return json.dumps(sorted(dimensions.items()), separators=(",", ":"))


def _epoch(value: dt.datetime | float) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _check_period(period: int, where: str) -> None:
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        raise invalid(f"The parameter {where} must be 1, 5, 10, 20, 30, or a multiple of 60.")


def _page_start(token: str) -> int:
    try:
        return int(unopaque(token))
    except ValueError as exc:
        raise invalid("The parameter NextToken is invalid.") from exc


# ListMetrics pages by NextToken alone, LIST_PAGE metrics a call.
def _data_offsets(token: str | None) -> dict[str, int]:
    """How far each query of a GetMetricData call has been answered, from the NextToken the last page gave."""
    if not token:
        return {}
    try:
        offsets = json.loads(unopaque(token))
        if isinstance(offsets, dict) and all(isinstance(v, int) and v >= 0 for v in offsets.values()):
            return offsets
    except (ValueError, UnicodeError):
        pass
    raise AwsError("InvalidNextToken", "The NextToken was not returned by GetMetricData.")


LIST_PAGES = Paginator(size=None, default_size=LIST_PAGE, read=_page_start, write=lambda offset: opaque(str(offset)))


# ---------------------------------------------------------------- the service


class Metrics(Service):
    """The `monitoring` service; `put` is the way localcloud's own runners publish metrics."""

    model_name = "cloudwatch"
    iam_prefix = "cloudwatch"  # signed as `monitoring`, authorized as `cloudwatch:`
    # CloudWatch is `awsQueryCompatible`: it answers bad input with its query-era code.
    validation_code = "InvalidParameterValue"

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        clock = clock or Clock()  # AWS's by default
        # CloudWatch's alarms, judged on this service's metrics once a period of `clock`
        self.alarms = Alarms(store, self, clock)
        self.retention = MetricRetention(store, clock)  # AWS's retention, its ages and periods on `clock`
        self.retention.start()

    def operation(self, name: str) -> Operation | None:
        """Alarm operations are CloudWatch's too; their evaluator lives in alarms.py."""
        return super().operation(name) or getattr(self.alarms, f"op_{name}", None)

    # internal API ---------------------------------------------------------------
    def put(self, namespace: str, name: str, dimensions: dict[str, str], timestamp: float, value: float) -> None:
        self._insert([(namespace, name, _dimensions_key(dimensions), timestamp, "None", 1.0, value, value, value)])

    def put_many(self, namespace: str, data: list[Datapoint]) -> None:
        """Datapoints `(name, dimensions, timestamp, value, unit)` in one transaction, for runners that publish
        several metrics per event (a Lambda invocation publishes a dozen)."""
        self._insert([(namespace, n, _dimensions_key(d), t, unit, 1.0, v, v, v) for n, d, t, v, unit in data])

    def series(self, namespace: str, name: str, dimensions: dict[str, str]) -> list[float]:
        """Every value of one metric in the order it was put: a training job's per-epoch objective."""
        rows = self.store.query(
            "SELECT total FROM metric_data WHERE namespace = ? AND name = ? AND dimensions = ? "
            "ORDER BY timestamp, rowid",
            (namespace, name, _dimensions_key(dimensions)),
        )
        return [float(total) for (total,) in rows]

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.store.transaction() as db:
            db.executemany("INSERT INTO metric_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.retention.noted(min(row[3] for row in rows))

    def buckets(
        self,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        start: float,
        end: float,
        period: int,
        unit: str | None,
    ) -> dict[float, Bucket]:
        """Aggregate [start, end) into period-aligned buckets, in SQL."""
        sql = (
            "SELECT CAST(timestamp / ? AS INTEGER) * ?, sum(sample_count), sum(total), min(minimum), "
            "max(maximum) FROM metric_data WHERE namespace = ? AND name = ? AND dimensions = ? "
            "AND timestamp >= ? AND timestamp < ?"
        )
        args: list[Any] = [period, period, namespace, name, _dimensions_key(dimensions), start, end]
        if unit is not None:
            sql, args = sql + " AND unit = ?", [*args, unit]
        rows = self.store.query(sql + " GROUP BY 1 ORDER BY 1", args)
        return {float(t): (count, total, low, high) for t, count, total, low, high in rows}

    def percentiles(
        self,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        start: float,
        end: float,
        period: int,
        unit: str | None,
        percent: float,
    ) -> dict[float, float]:
        """The `percent`th percentile of each period-aligned bucket (nearest rank). Datapoints put one value at a
        time (all of localcloud's own) are exact; a statistic set counts as SampleCount values at its average,
        as CloudWatch only approximates percentiles of sets too."""
        sql = (
            "SELECT CAST(timestamp / ? AS INTEGER) * ?, sample_count, total FROM metric_data WHERE namespace = ? "
            "AND name = ? AND dimensions = ? AND timestamp >= ? AND timestamp < ?"
        )
        args: list[Any] = [period, period, namespace, name, _dimensions_key(dimensions), start, end]
        if unit is not None:
            sql, args = sql + " AND unit = ?", [*args, unit]
        samples: dict[float, list[tuple[float, float]]] = {}
        for t, count, total in self.store.query(sql, args):
            if count > 0:
                samples.setdefault(float(t), []).append((total / count, count))
        result = {}
        for t, values in samples.items():
            values.sort()
            rank, seen = max(1.0, math.ceil(percent / 100 * sum(c for _, c in values))), 0.0
            for value, count in values:
                seen += count
                if seen >= rank:
                    result[t] = value
                    break
        return result

    # operations -----------------------------------------------------------------
    def op_PutMetricData(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        namespace = p["Namespace"]
        if namespace.startswith("AWS/"):
            raise invalid("The value AWS/ for parameter Namespace is invalid.")
        rows = []
        for i, datum in enumerate(p.get("MetricData") or [], 1):
            dims = _dimensions_key({d["Name"]: d["Value"] for d in datum.get("Dimensions") or []})
            when = _epoch(datum.get("Timestamp") or dt.datetime.now(dt.UTC))
            unit = datum.get("Unit", "None")
            given = [k for k in ("Value", "StatisticValues", "Values") if k in datum]
            if len(given) > 1:
                raise AwsError(
                    "InvalidParameterCombination",
                    f"The parameters MetricData.member.{i}.{given[0]} and MetricData.member.{i}."
                    f"{given[1]} are mutually exclusive and you have specified both.",
                )
            if "StatisticValues" in datum:
                s = datum["StatisticValues"]
                sets = [(s["SampleCount"], s["Sum"], s["Minimum"], s["Maximum"])]
            elif "Values" in datum:
                counts = datum.get("Counts") or [1.0] * len(datum["Values"])
                if len(counts) != len(datum["Values"]):
                    raise invalid(
                        f"The parameters MetricData.member.{i}.Values and MetricData.member.{i}.Counts "
                        "must be of the same size."
                    )
                sets = [(c, v * c, v, v) for v, c in zip(datum["Values"], counts, strict=True)]
            elif "Value" in datum:
                sets = [(1.0, datum["Value"], datum["Value"], datum["Value"])]
            else:
                raise AwsError("MissingParameter", f"The parameter MetricData.member.{i}.Value is required.")
            if any(math.isnan(x) or math.isinf(x) for values in sets for x in values):
                raise invalid(f"The value for parameter MetricData.member.{i}.Value must be a finite number.")
            rows += [(namespace, datum["MetricName"], dims, when, unit, *values) for values in sets]
        self._insert(rows)
        return {}

    def op_ListMetrics(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        sql, args = "SELECT DISTINCT namespace, name, dimensions FROM metric_data WHERE 1", []
        for column, key in (("namespace", "Namespace"), ("name", "MetricName")):
            if key in p:
                sql, args = sql + f" AND {column} = ?", [*args, p[key]]
        if p.get("RecentlyActive") == "PT3H":
            sql, args = sql + " AND timestamp >= ?", [*args, dt.datetime.now(dt.UTC).timestamp() - 3 * 3600]
        rows = self.store.query(sql + " ORDER BY namespace, name, dimensions", args)
        wanted = p.get("Dimensions") or []
        metrics = []
        for namespace, name, dims in rows:
            dimensions = dict(json.loads(dims))
            if all(
                f["Name"] in dimensions and f.get("Value", dimensions[f["Name"]]) == dimensions[f["Name"]]
                for f in wanted
            ):
                metrics.append(
                    {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    }
                )
        return LIST_PAGES.answer(metrics, p, "Metrics")

    def op_GetMetricData(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        start, end = _epoch(p["StartTime"]), _epoch(p["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        descending = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        now = time.time()
        budget = p.get("MaxDatapoints", MAX_DATAPOINTS)
        skip = _data_offsets(p.get("NextToken"))
        results, left = [], {}
        for i, query in enumerate(p["MetricDataQueries"], 1):
            if "MetricStat" not in query:
                raise invalid(
                    f"MetricDataQueries.member.{i}: localcloud evaluates MetricStat queries, "
                    "not metric math Expressions."
                )
            stat = query["MetricStat"]
            percentile = PERCENTILE.fullmatch(stat["Stat"])
            if stat["Stat"] not in STATISTICS and not percentile:
                raise invalid(
                    f"The value {stat['Stat']} for parameter MetricDataQueries.member.{i}.MetricStat.Stat "
                    f"is not one of {', '.join(STATISTICS)} or a percentile pNN.NN."
                )
            _check_period(stat["Period"], f"MetricDataQueries.member.{i}.MetricStat.Period")
            metric = stat["Metric"]
            if "Namespace" not in metric or "MetricName" not in metric:
                raise AwsError(
                    "MissingParameter",
                    f"MetricDataQueries.member.{i}.MetricStat.Metric needs a Namespace and a MetricName.",
                )
            where = (
                metric["Namespace"],
                metric["MetricName"],
                {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []},
                start,
                end,
                stat["Period"],
                stat.get("Unit"),
            )
            if not self.retention.readable(start, stat["Period"], now):
                values = {}  # data this old is kept only at a coarser period
            elif percentile:
                values = self.percentiles(*where, float(percentile.group(1)))
            else:
                values = {t: statistic(stat["Stat"], bucket) for t, bucket in self.buckets(*where).items()}
            times = sorted(values, reverse=descending)[skip.get(query["Id"], 0) :]
            status = "Complete" if len(times) <= budget else "PartialData"
            if status == "PartialData":  # the next call, with NextToken, goes on from here
                left[query["Id"]] = skip.get(query["Id"], 0) + budget
            times = times[:budget]
            budget -= len(times)
            if query.get("ReturnData", True):
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": query.get("Label", metric["MetricName"]),
                        "Timestamps": [_utc(t) for t in times],
                        "Values": [values[t] for t in times],
                        "StatusCode": status,
                    }
                )
        answer: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
        if left:
            answer["NextToken"] = opaque(json.dumps(left))
        return answer

    def op_GetMetricStatistics(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        statistics = p.get("Statistics") or []
        if not statistics and not p.get("ExtendedStatistics"):
            raise AwsError("MissingParameter", "Must specify either Statistics or ExtendedStatistics.")
        if p.get("ExtendedStatistics"):
            raise invalid("localcloud computes the standard Statistics, not ExtendedStatistics (percentiles).")
        start, end = _epoch(p["StartTime"]), _epoch(p["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        _check_period(p["Period"], "Period")
        if not self.retention.readable(start, p["Period"], time.time()):
            return {"Label": p["MetricName"], "Datapoints": []}  # data this old is kept only at a coarser period
        buckets = self.buckets(
            p["Namespace"],
            p["MetricName"],
            {d["Name"]: d["Value"] for d in p.get("Dimensions") or []},
            start,
            end,
            p["Period"],
            p.get("Unit"),
        )
        datapoints = [
            {
                "Timestamp": _utc(t),
                "Unit": p.get("Unit", "None"),
                **{name: statistic(name, bucket) for name in statistics},
            }
            for t, bucket in buckets.items()
        ]
        return {"Label": p["MetricName"], "Datapoints": datapoints}
