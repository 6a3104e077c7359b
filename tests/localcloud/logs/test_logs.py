"""CloudWatch Logs through real boto3: a 10,000-line stream paged with AWS's tokens, filters, errors."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.core.state import Store
from localcloud.logs.provider import Logs
from tests.localcloud.conftest import CALL, assert_shape

GROUP = "/aws/sagemaker/TrainingJobs"
LINES = 10_000


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]


@pytest.fixture(scope="module")
def logs(cloud):
    client = cloud.client("logs")
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="big/algo-1-1")
    start = int(time.time() * 1000) - LINES
    events = [{"timestamp": start + i, "message": f"line {i}"} for i in range(LINES)]
    response = client.put_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", logEvents=events)
    assert_shape(client, "PutLogEvents", response)
    return client


def messages(response: dict) -> list[str]:
    return [e["message"] for e in response["events"]]


def test_tail_returns_the_last_events_and_forward_token_follows_new_ones(logs):
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", limit=5)
    assert_shape(logs, "GetLogEvents", tail)
    assert messages(tail) == [f"line {i}" for i in range(LINES - 5, LINES)]
    assert tail["nextForwardToken"].startswith("f/") and tail["nextBackwardToken"].startswith("b/")
    again = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", nextToken=tail["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == tail["nextForwardToken"]
    default = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1")
    assert len(default["events"]) == LINES


def test_forward_paging_from_head_covers_every_line_once_then_repeats_the_token(logs):
    seen: list[str] = []
    response = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", startFromHead=True, limit=3000)
    while response["events"]:
        seen += messages(response)
        token = response["nextForwardToken"]
        response = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", nextToken=token, limit=3000)
    assert seen == [f"line {i}" for i in range(LINES)]
    assert response["nextForwardToken"] == token


def test_backward_paging_from_the_tail_reaches_the_head(logs):
    response = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", limit=4000)
    pages = [messages(response)]
    while True:
        token = response["nextBackwardToken"]
        response = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", nextToken=token, limit=4000)
        if not response["events"]:
            break
        pages.insert(0, messages(response))
    assert [len(p) for p in pages] == [2000, 4000, 4000]
    assert sum(pages, []) == [f"line {i}" for i in range(LINES)]
    assert response["nextBackwardToken"] == token


def test_time_window_and_stream_description(logs):
    head = logs.get_log_events(logGroupName=GROUP, logStreamName="big/algo-1-1", startFromHead=True, limit=1)
    first = head["events"][0]["timestamp"]
    window = logs.get_log_events(
        logGroupName=GROUP, logStreamName="big/algo-1-1", startTime=first + 10, endTime=first + 13, startFromHead=True
    )
    assert messages(window) == ["line 10", "line 11", "line 12"]
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="big/")
    assert_shape(logs, "DescribeLogStreams", streams)
    (stream,) = streams["logStreams"]
    assert stream["firstEventTimestamp"] == first and stream["lastEventTimestamp"] == first + LINES - 1
    assert stream["storedBytes"] > 0


def test_filter_by_term_phrase_and_stream_with_paging(logs):
    logs.create_log_stream(logGroupName=GROUP, logStreamName="other/algo-1-1")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="other/algo-1-1",
        logEvents=[
            {"timestamp": now, "message": "Testing Loss: 0.5 accuracy 0.9"},
            {"timestamp": now + 1, "message": "Loss Testing: 0.4"},
        ],
    )
    phrase = logs.filter_log_events(logGroupName=GROUP, filterPattern='"Testing Loss"')
    assert_shape(logs, "FilterLogEvents", phrase)
    assert messages(phrase) == ["Testing Loss: 0.5 accuracy 0.9"]
    assert phrase["events"][0]["logStreamName"] == "other/algo-1-1"
    terms = logs.filter_log_events(logGroupName=GROUP, filterPattern="Testing Loss", logStreamNames=["other/algo-1-1"])
    assert len(terms["events"]) == 2
    either = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="other/", filterPattern='?"0.4" ?accuracy')
    assert messages(either) == ["Testing Loss: 0.5 accuracy 0.9", "Loss Testing: 0.4"]
    both = logs.filter_log_events(
        logGroupName=GROUP, logStreamNamePrefix="other/", filterPattern='Loss ?"0.5" ?nothing'
    )
    assert messages(both) == ["Testing Loss: 0.5 accuracy 0.9"]
    first = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="big/", filterPattern="999", limit=10)
    assert len(first["events"]) == 10 and "nextToken" in first
    rest = logs.filter_log_events(
        logGroupName=GROUP, logStreamNamePrefix="big/", filterPattern="999", nextToken=first["nextToken"]
    )
    assert "nextToken" not in rest
    everything = messages(first) + messages(rest)
    assert everything == [f"line {i}" for i in range(LINES) if "999" in str(i)]


def test_streams_ordered_by_last_event_time(logs):
    order = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in order["logStreams"]][:2] == ["other/algo-1-1", "big/algo-1-1"]
    page = logs.describe_log_streams(logGroupName=GROUP, limit=1)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["big/algo-1-1"]
    following = logs.describe_log_streams(logGroupName=GROUP, limit=1, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in following["logStreams"]] == ["other/algo-1-1"]
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")
    assert_shape(logs, "DescribeLogGroups", groups)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [GROUP]


def test_errors_are_aws_errors(logs):
    missing = error_of(logs.get_log_events, logGroupName="/nope", logStreamName="x")
    assert missing == {"Code": "ResourceNotFoundException", "Message": "The specified log group does not exist."}
    missing = error_of(logs.get_log_events, logGroupName=GROUP, logStreamName="nope")
    assert missing["Message"] == "The specified log stream does not exist."
    assert error_of(logs.create_log_group, logGroupName=GROUP)["Code"] == "ResourceAlreadyExistsException"
    assert (
        error_of(logs.create_log_stream, logGroupName=GROUP, logStreamName="big/algo-1-1")["Code"]
        == "ResourceAlreadyExistsException"
    )
    bad_token = error_of(logs.get_log_events, logGroupName=GROUP, logStreamName="big/algo-1-1", nextToken="f/xyz")
    assert bad_token["Code"] == "InvalidParameterException"
    now = int(time.time() * 1000)
    unordered = error_of(
        logs.put_log_events,
        logGroupName=GROUP,
        logStreamName="big/algo-1-1",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}],
    )
    assert unordered["Code"] == "InvalidParameterException"
    conflict = error_of(
        logs.describe_log_streams, logGroupName=GROUP, orderBy="LastEventTime", logStreamNamePrefix="big"
    )
    assert conflict["Code"] == "InvalidParameterException"


def test_put_events_is_thread_safe_and_fast(tmp_path):
    logs = Logs(Store(tmp_path))
    start = time.perf_counter()

    def writer(host: int) -> None:
        for batch in range(20):
            events = [(1000 * batch + i, f"{host} {batch} {i}") for i in range(250)]
            logs.put_events(GROUP, f"job/algo-{host}-1", events)

    threads = [threading.Thread(target=writer, args=(h,)) for h in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - start < 5
    tail = logs.op_GetLogEvents({"logGroupName": GROUP, "logStreamName": "job/algo-2-1", "limit": 2}, CALL)
    assert [e["message"] for e in tail["events"]] == ["2 19 248", "2 19 249"]
    streams = logs.op_DescribeLogStreams({"logGroupName": GROUP}, CALL)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["job/algo-1-1", "job/algo-2-1"]
