"""CloudWatch metrics over both wire protocols botocore may pick for CloudWatch.

The model lists `smithy-rpc-v2-cbor`, `json` and `query`; botocore 1.44 picks by its own
priority (`json`: `X-Amz-Target: GraniteServiceVersion20100801.<Op>`), SDKs that prefer CBOR
send `POST /service/GraniteServiceVersion20100801/operation/<Op>` with a CBOR body. CBOR is
decoded and encoded with botocore's own parser and serializer driven by the CloudWatch model.
Each datum is stored as a statistic set (count, sum, min, max), which is all the standard
statistics need; training jobs publish through `put` into `/aws/sagemaker/TrainingJobs`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

from localcloud import protocol
from localcloud.protocol import AwsError, Request, Response
from localcloud.state import Store

_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(\w+)$")
_CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints
LIST_PAGE = 500  # ListMetrics returns up to 500 metrics a call
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)

Bucket = tuple[float, float, float, float]  # sample count, sum, minimum, maximum


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message, 400)


def _dimensions_key(dimensions: dict[str, str]) -> str:
    """CloudWatch identifies a metric by its exact set of dimensions, in any order."""
    return json.dumps(sorted(dimensions.items()), separators=(",", ":"))


def _epoch(value: dt.datetime | float) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _statistic(name: str, bucket: Bucket) -> float:
    count, total, minimum, maximum = bucket
    return {
        "SampleCount": count,
        "Sum": total,
        "Minimum": minimum,
        "Maximum": maximum,
        "Average": total / count if count else 0.0,
    }[name]


def _check_period(period: int, where: str) -> None:
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        raise invalid(f"The parameter {where} must be 1, 5, 10, 20, 30, or a multiple of 60.")


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise invalid("The parameter NextToken is invalid.") from exc


# ---------------------------------------------------------------- wire protocol


def _is_cbor(request: Request) -> bool:
    return request.header("smithy-protocol") == "rpc-v2-cbor" or request.path.startswith("/service/")


def parse_request(request: Request) -> tuple[OperationModel, dict[str, Any]]:
    model = protocol.service_model("cloudwatch")
    if not _is_cbor(request):
        return protocol.parse_json_request(model, request)
    match = _PATH.match(request.path)
    if request.method != "POST" or not match or match.group(1) not in model.operation_names:
        raise AwsError("UnknownOperationException", f"No CloudWatch operation at {request.method} {request.path}", 404)
    operation = model.operation_model(match.group(1))
    params: Any = {}
    if request.body:
        parser = RpcV2CBORParser()
        try:
            params = parser.parse_data_item(parser.get_peekable_stream_from_bytes(request.body))
        except Exception as exc:  # botocore raises several types for malformed CBOR
            raise AwsError("SerializationException", f"Request body is not valid CBOR: {exc}") from exc
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "Request body must be a CBOR map.")
    if operation.input_shape is not None:
        protocol.validate(operation, params)
    return operation, params


def response(request: Request, operation: OperationModel, output: dict[str, Any]) -> Response:
    if not _is_cbor(request):
        return Response(200, dict(_JSON_HEADERS), protocol.json_bytes(output))
    body = bytearray()
    if operation.output_shape is not None:
        RpcV2CBORSerializer()._serialize_data_item(body, output, operation.output_shape)
    return Response(200, dict(_CBOR_HEADERS), bytes(body))


def error_response(request: Request, error: AwsError) -> Response:
    """`__type` names the model's error shape; x-amzn-query-error carries the query-era code.

    CloudWatch is `awsQueryCompatible`: botocore reports the code from that header
    (`InvalidParameterValue`), the code the CloudWatch API has always answered.
    """
    model = protocol.service_model("cloudwatch")
    code = "InvalidParameterValue" if error.code == "ValidationException" else error.code
    shape_name, status = code, error.status
    for shape in model.error_shapes:
        if shape.metadata.get("error", {}).get("code") == code:
            shape_name, status = shape.name, shape.metadata["error"].get("httpStatusCode", status)
    fault = "Sender" if status < 500 else "Receiver"
    fields = {"__type": f"com.amazonaws.cloudwatch#{shape_name}", "message": error.message}
    if not _is_cbor(request):
        headers = {**_JSON_HEADERS, "x-amzn-query-error": f"{code};{fault}"}
        return Response(status, headers, protocol.json_bytes(fields))
    body = bytearray([0xA0 + len(fields)])  # a CBOR map of that many entries
    serializer = RpcV2CBORSerializer()
    for key, value in fields.items():
        serializer._serialize_type_string(body, key, None, None)
        serializer._serialize_type_string(body, value, None, None)
    return Response(status, {**_CBOR_HEADERS, "x-amzn-query-error": f"{code};{fault}"}, bytes(body))


# ---------------------------------------------------------------- the service


class Metrics:
    """The `monitoring` service; `put` is the way localcloud's own runners publish metrics."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, request: Request) -> Response:
        operation, params = parse_request(request)
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{operation.name}", None)
        if handler is None:
            raise AwsError("UnknownOperationException", f"localcloud does not implement CloudWatch {operation.name}")
        return response(request, operation, handler(params))

    # internal API ---------------------------------------------------------------
    def put(self, namespace: str, name: str, dimensions: dict[str, str], timestamp: float, value: float) -> None:
        self._insert([(namespace, name, _dimensions_key(dimensions), timestamp, "None", 1.0, value, value, value)])

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        with self.store.transaction() as db:
            db.executemany("INSERT INTO metric_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _buckets(
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

    # operations -----------------------------------------------------------------
    def op_PutMetricData(self, p: dict[str, Any]) -> dict[str, Any]:
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

    def op_ListMetrics(self, p: dict[str, Any]) -> dict[str, Any]:
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
        start = _page_start(p.get("NextToken"))
        result: dict[str, Any] = {"Metrics": metrics[start : start + LIST_PAGE]}
        if start + LIST_PAGE < len(metrics):
            result["NextToken"] = base64.urlsafe_b64encode(str(start + LIST_PAGE).encode()).decode()
        return result

    def op_GetMetricData(self, p: dict[str, Any]) -> dict[str, Any]:
        start, end = _epoch(p["StartTime"]), _epoch(p["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        descending = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        budget = p.get("MaxDatapoints", MAX_DATAPOINTS)
        results = []
        for i, query in enumerate(p["MetricDataQueries"], 1):
            if "MetricStat" not in query:
                raise invalid(
                    f"MetricDataQueries.member.{i}: localcloud evaluates MetricStat queries, "
                    "not metric math Expressions."
                )
            stat = query["MetricStat"]
            if stat["Stat"] not in STATISTICS:
                raise invalid(
                    f"The value {stat['Stat']} for parameter MetricDataQueries.member.{i}.MetricStat.Stat "
                    f"is not one of {', '.join(STATISTICS)}."
                )
            _check_period(stat["Period"], f"MetricDataQueries.member.{i}.MetricStat.Period")
            metric = stat["Metric"]
            if "Namespace" not in metric or "MetricName" not in metric:
                raise AwsError(
                    "MissingParameter",
                    f"MetricDataQueries.member.{i}.MetricStat.Metric needs a Namespace and a MetricName.",
                )
            buckets = self._buckets(
                metric["Namespace"],
                metric["MetricName"],
                {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []},
                start,
                end,
                stat["Period"],
                stat.get("Unit"),
            )
            times = sorted(buckets, reverse=descending)
            status = "Complete" if len(times) <= budget else "PartialData"
            times = times[:budget]
            budget -= len(times)
            if query.get("ReturnData", True):
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": query.get("Label", metric["MetricName"]),
                        "Timestamps": [_utc(t) for t in times],
                        "Values": [_statistic(stat["Stat"], buckets[t]) for t in times],
                        "StatusCode": status,
                    }
                )
        return {"MetricDataResults": results, "Messages": []}

    def op_GetMetricStatistics(self, p: dict[str, Any]) -> dict[str, Any]:
        statistics = p.get("Statistics") or []
        if not statistics and not p.get("ExtendedStatistics"):
            raise AwsError("MissingParameter", "Must specify either Statistics or ExtendedStatistics.")
        if p.get("ExtendedStatistics"):
            raise invalid("localcloud computes the standard Statistics, not ExtendedStatistics (percentiles).")
        start, end = _epoch(p["StartTime"]), _epoch(p["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        _check_period(p["Period"], "Period")
        buckets = self._buckets(
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
                **{name: _statistic(name, bucket) for name in statistics},
            }
            for t, bucket in buckets.items()
        ]
        return {"Label": p["MetricName"], "Datapoints": datapoints}
