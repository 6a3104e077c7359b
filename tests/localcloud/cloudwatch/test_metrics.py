"""CloudWatch metrics through real boto3 (Smithy RPC v2 CBOR): put, list, GetMetricData, statistics, and the
period AWS requires for old data."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from localcloud.cloudwatch.provider import Metrics
from localcloud.core.state import Store
from tests.localcloud.conftest import CALL, assert_shape

NAMESPACE = "/aws/sagemaker/TrainingJobs"
HOST = [{"Name": "Host", "Value": "job-1/algo-1"}]
# The start of the last full hour: recent enough that CloudWatch still keeps one-second resolution (3 hours).
T0 = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def cloudwatch(cloud):
    client = cloud.client("cloudwatch")
    for minute, loss in enumerate([2.0, 1.5, 1.0, 0.5]):
        for second in (0, 30):
            client.put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": "train:loss",
                        "Dimensions": HOST,
                        "Value": loss + second / 100,
                        "Timestamp": T0 + dt.timedelta(minutes=minute, seconds=second),
                    }
                ],
            )
    client.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "valid:accuracy",
                "Dimensions": HOST,
                "Timestamp": T0,
                "Values": [0.5, 0.7],
                "Counts": [1, 3],
            },
            {
                "MetricName": "train:loss",
                "Dimensions": [{"Name": "Host", "Value": "job-2/algo-1"}],
                "Timestamp": T0,
                "StatisticValues": {"SampleCount": 2, "Sum": 6, "Minimum": 2, "Maximum": 4},
            },
        ],
    )
    return client


def query(stat: str, period: int = 60, **metric) -> dict:
    return {
        "Id": "loss",
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": "train:loss", "Dimensions": HOST, **metric},
            "Period": period,
            "Stat": stat,
        },
    }


def test_get_metric_data_buckets_by_period(cloudwatch):
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[query("Average")],
        StartTime=T0,
        EndTime=T0 + dt.timedelta(hours=1),
        ScanBy="TimestampAscending",
    )
    assert_shape(cloudwatch, "GetMetricData", response)
    (result,) = response["MetricDataResults"]
    assert (result["Id"], result["Label"], result["StatusCode"]) == ("loss", "train:loss", "Complete")
    assert result["Timestamps"] == [T0 + dt.timedelta(minutes=m) for m in range(4)]
    assert result["Values"] == pytest.approx([2.15, 1.65, 1.15, 0.65])
    maximum = cloudwatch.get_metric_data(
        MetricDataQueries=[query("Maximum", period=1)], StartTime=T0, EndTime=T0 + dt.timedelta(minutes=2)
    )["MetricDataResults"][0]
    assert maximum["Values"] == pytest.approx([1.8, 1.5, 2.3, 2.0])  # newest first by default
    whole = cloudwatch.get_metric_data(
        MetricDataQueries=[query("SampleCount", period=3600)], StartTime=T0, EndTime=T0 + dt.timedelta(hours=1)
    )["MetricDataResults"][0]
    assert whole["Values"] == [8.0]


def test_get_metric_data_pages_what_max_datapoints_cuts(cloudwatch):
    """Past MaxDatapoints a result is PartialData with a NextToken; following the tokens gives the whole series,
    and botocore's paginator walks them; a token GetMetricData never returned is InvalidNextToken."""
    ask = {"MetricDataQueries": [query("Average")], "StartTime": T0, "EndTime": T0 + dt.timedelta(hours=1)}
    first = cloudwatch.get_metric_data(**ask, ScanBy="TimestampAscending", MaxDatapoints=3)
    assert first["MetricDataResults"][0]["StatusCode"] == "PartialData" and first["NextToken"]
    rest = cloudwatch.get_metric_data(**ask, ScanBy="TimestampAscending", MaxDatapoints=3, NextToken=first["NextToken"])
    assert rest["MetricDataResults"][0]["StatusCode"] == "Complete" and "NextToken" not in rest
    pages = [first, rest]
    assert [t for page in pages for t in page["MetricDataResults"][0]["Timestamps"]] == [
        T0 + dt.timedelta(minutes=m) for m in range(4)
    ]
    walked = cloudwatch.get_paginator("get_metric_data").paginate(**ask, PaginationConfig={"PageSize": 1})
    assert len([t for page in walked for t in page["MetricDataResults"][0]["Values"]]) == 4
    with pytest.raises(ClientError) as error:
        cloudwatch.get_metric_data(**ask, NextToken="not-a-token")
    assert error.value.response["Error"]["Code"] == "InvalidNextToken"


def test_values_with_counts_and_statistic_sets(cloudwatch):
    accuracy = {
        "Id": "acc",
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": "valid:accuracy", "Dimensions": HOST},
            "Period": 60,
            "Stat": "Average",
        },
    }
    other = {
        "Id": "other",
        "Label": "job 2",
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": "train:loss",
                "Dimensions": [{"Name": "Host", "Value": "job-2/algo-1"}],
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[accuracy, other], StartTime=T0, EndTime=T0 + dt.timedelta(minutes=1)
    )["MetricDataResults"]
    assert results[0]["Values"] == pytest.approx([0.65])
    assert (results[1]["Label"], results[1]["Values"]) == ("job 2", [6.0])


def test_list_metrics_filters_by_name_and_dimension(cloudwatch):
    listing = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="train:loss")
    assert_shape(cloudwatch, "ListMetrics", listing)
    assert sorted(m["Dimensions"][0]["Value"] for m in listing["Metrics"]) == ["job-1/algo-1", "job-2/algo-1"]
    for_host = cloudwatch.list_metrics(Namespace=NAMESPACE, Dimensions=HOST)["Metrics"]
    assert sorted(m["MetricName"] for m in for_host) == ["train:loss", "valid:accuracy"]
    assert cloudwatch.list_metrics(Namespace="Nothing")["Metrics"] == []


def test_get_metric_statistics(cloudwatch):
    response = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="train:loss",
        Dimensions=HOST,
        StartTime=T0,
        EndTime=T0 + dt.timedelta(minutes=2),
        Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )
    assert_shape(cloudwatch, "GetMetricStatistics", response)
    points = sorted(response["Datapoints"], key=lambda p: p["Timestamp"])
    assert [(p["Minimum"], p["Maximum"], p["SampleCount"]) for p in points] == [(2.0, 2.3, 2), (1.5, 1.8, 2)]


def test_errors_carry_cloudwatch_codes(cloudwatch):
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException) as error:
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "x", "Value": 1}])
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as error:
        cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName="train:loss", StartTime=T0, EndTime=T0 + dt.timedelta(minutes=2), Period=60
        )
    assert error.value.response["Error"]["Code"] == "MissingParameter"
    with pytest.raises(ClientError) as error:
        cloudwatch.get_metric_data(
            MetricDataQueries=[query("Average", period=7)], StartTime=T0, EndTime=T0 + dt.timedelta(minutes=1)
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


@pytest.fixture(scope="module")
def cbor_cloudwatch(cloud, tmp_path_factory):
    """A real boto3 CloudWatch client that speaks Smithy RPC v2 CBOR (botocore 1.44 prefers JSON)."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    root = tmp_path_factory.mktemp("models")
    folder = root / "cloudwatch" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(root))
    client = session.create_client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=cloud.endpoint_url,
        aws_access_key_id=cloud.credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cloud.credentials["AWS_SECRET_ACCESS_KEY"],
    )
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


def test_the_cbor_protocol_round_trips(cbor_cloudwatch):
    cbor_cloudwatch.put_metric_data(
        Namespace="Cbor", MetricData=[{"MetricName": "m", "Value": 2.5, "Timestamp": T0 + dt.timedelta(seconds=0.5)}]
    )
    response = cbor_cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "Cbor", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}
        ],
        StartTime=T0,
        EndTime=T0 + dt.timedelta(minutes=1),
    )
    assert_shape(cbor_cloudwatch, "GetMetricData", response)
    result = response["MetricDataResults"][0]
    assert (result["Timestamps"], result["Values"]) == ([T0], [2.5])
    assert cbor_cloudwatch.list_metrics(Namespace="Cbor")["Metrics"] == [
        {"Namespace": "Cbor", "MetricName": "m", "Dimensions": []}
    ]
    with pytest.raises(cbor_cloudwatch.exceptions.InvalidParameterValueException) as error:
        cbor_cloudwatch.put_metric_data(Namespace="AWS/Cbor", MetricData=[{"MetricName": "m", "Value": 1}])
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_internal_put_is_what_get_metric_data_reads(tmp_path):
    metrics = Metrics(Store(tmp_path))
    start = T0.timestamp()
    for epoch in range(3):
        metrics.put(NAMESPACE, "valid:loss", {"Host": "job-3/algo-1"}, start + epoch, 1.0 / (epoch + 1))
    metric = {
        "Namespace": NAMESPACE,
        "MetricName": "valid:loss",
        "Dimensions": [{"Name": "Host", "Value": "job-3/algo-1"}],
    }
    result = metrics.op_GetMetricData(
        {
            "MetricDataQueries": [{"Id": "v", "MetricStat": {"Metric": metric, "Period": 1, "Stat": "Average"}}],
            "StartTime": T0,
            "EndTime": T0 + dt.timedelta(minutes=1),
            "ScanBy": "TimestampAscending",
        },
        CALL,
    )["MetricDataResults"][0]
    assert result["Values"] == pytest.approx([1.0, 0.5, 1 / 3])


def test_percentiles_by_nearest_rank(tmp_path):
    """GetMetricData's pNN statistics (Lambda's Duration p50 and p99): exact over values put one at a time."""
    metrics = Metrics(Store(tmp_path))
    start = T0.timestamp()
    for value in range(1, 101):  # 1..100 ms in the first minute, 500 ms alone in the second
        metrics.put(NAMESPACE, "Duration", {}, start + value / 10, float(value))
    metrics.put(NAMESPACE, "Duration", {}, start + 61, 500.0)
    metric = {"Namespace": NAMESPACE, "MetricName": "Duration"}
    queries = [
        {"Id": f"p{p.replace('.', '_')}", "MetricStat": {"Metric": metric, "Period": 60, "Stat": f"p{p}"}}
        for p in ("50", "99", "99.5", "100")
    ]
    results = metrics.op_GetMetricData(
        {
            "MetricDataQueries": queries,
            "StartTime": T0,
            "EndTime": T0 + dt.timedelta(minutes=2),
            "ScanBy": "TimestampAscending",
        },
        CALL,
    )["MetricDataResults"]
    assert [r["Values"] for r in results] == [[50.0, 500.0], [99.0, 500.0], [100.0, 500.0], [100.0, 500.0]]
    with pytest.raises(Exception, match="percentile"):
        metrics.op_GetMetricData(
            {
                "MetricDataQueries": [{"Id": "x", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "p101"}}],
                "StartTime": T0,
                "EndTime": T0 + dt.timedelta(minutes=1),
            },
            CALL,
        )


def test_data_past_three_hours_is_read_by_the_minute(cloudwatch):
    """As on AWS, a query starting more than 3 hours ago gets data only with a period that is a multiple of 60."""
    minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=4)
    data = [
        {"MetricName": "old", "Value": v, "Timestamp": minute + dt.timedelta(seconds=s)} for v, s in ((1, 0), (2, 30))
    ]
    cloudwatch.put_metric_data(Namespace="Aged", MetricData=data)
    window = {"StartTime": minute - dt.timedelta(minutes=5), "EndTime": minute + dt.timedelta(minutes=5)}

    def statistics(period: int) -> list[tuple]:
        points = cloudwatch.get_metric_statistics(
            Namespace="Aged", MetricName="old", Period=period, Statistics=["Sum", "SampleCount"], **window
        )["Datapoints"]
        return [(p["Timestamp"], p["Sum"], p["SampleCount"]) for p in points]

    def values(period: int) -> list[float]:
        metric = {"Namespace": "Aged", "MetricName": "old"}
        query = {"Id": "old", "MetricStat": {"Metric": metric, "Period": period, "Stat": "Sum"}}
        return cloudwatch.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"][0]["Values"]

    assert statistics(1) == [] and values(1) == [] and values(30) == []
    assert statistics(60) == [(minute, 3.0, 2.0)] and values(120) == [3.0]


def test_a_compressed_put_metric_data_is_read(cloud):
    """botocore gzips PutMetricData bodies over 10 KB (Content-Encoding: gzip); localcloud unpacks them,
    and refuses a body that is not gzip with a 4xx."""
    client = cloud.client("cloudwatch")
    encodings: list[bytes | None] = []
    client.meta.events.register(
        "before-send.cloudwatch.PutMetricData",
        lambda request, **_: encodings.append(request.headers.get("Content-Encoding")),
    )
    data = [
        {"MetricName": "Compressed", "Dimensions": [{"Name": "Batch", "Value": f"b{i}"}], "Value": float(i)}
        for i in range(400)
    ]
    client.put_metric_data(Namespace="Tests/Compression", MetricData=data[:200])
    client.put_metric_data(Namespace="Tests/Compression", MetricData=data[200:])
    assert encodings == [b"gzip", b"gzip"]
    listed = client.get_paginator("list_metrics").paginate(Namespace="Tests/Compression", MetricName="Compressed")
    assert sum(len(page["Metrics"]) for page in listed) == 400
    request = AWSRequest(
        method="POST",
        url=cloud.endpoint_url,
        data=b"not gzip at all",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(cloud.session().get_credentials(), "monitoring", "us-east-1").add_auth(request)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(
            urllib.request.Request(cloud.endpoint_url, data=request.body, headers=dict(request.headers)), timeout=10
        )
    assert 400 <= refused.value.code < 500
