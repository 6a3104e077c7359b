"""CloudWatch Logs through real boto3: a 10,000-line stream paged with AWS's tokens, filters, errors, and a log
group's retention policy."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.core.clock import Clock
from localcloud.core.state import Store
from localcloud.logs.provider import Logs
from localcloud.logs.retention import RETENTION_DAYS
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


# retention ----------------------------------------------------------------------------
DAY_MS = 24 * 3600 * 1000


def group_of(client, name: str) -> dict:
    (group,) = client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return group


def test_a_retention_policy_expires_old_events_and_refuses_them(logs):
    name, now = "/aws/lambda/retained", int(time.time() * 1000)
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    for timestamp, message in ((now - 3 * DAY_MS, "three days ago"), (now - 3600_000, "an hour ago")):
        logs.put_log_events(
            logGroupName=name, logStreamName="s", logEvents=[{"timestamp": timestamp, "message": message}]
        )
    assert "retentionInDays" not in group_of(logs, name)

    logs.put_retention_policy(logGroupName=name, retentionInDays=1)
    group = group_of(logs, name)
    assert_shape(logs, "DescribeLogGroups", {"logGroups": [group]})
    assert group["retentionInDays"] == 1
    assert group["storedBytes"] == len("an hour ago") + 26  # the expired event is no longer stored
    head = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)
    assert messages(head) == ["an hour ago"]
    assert messages(logs.filter_log_events(logGroupName=name)) == ["an hour ago"]

    late = [
        {"timestamp": now - 25 * 3600_000, "message": "too late"},
        {"timestamp": now - 2 * 3600_000, "message": "2 h"},
    ]
    response = logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=late)
    assert_shape(logs, "PutLogEvents", response)
    assert response["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert messages(logs.filter_log_events(logGroupName=name)) == ["2 h", "an hour ago"]

    logs.delete_retention_policy(logGroupName=name)
    assert "retentionInDays" not in group_of(logs, name)
    again = logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=late[:1])
    assert "rejectedLogEventsInfo" not in again  # without a policy, events never expire


@settings(max_examples=15, deadline=None)
@given(days=st.integers(min_value=-(2**31), max_value=2**31 - 1).filter(lambda d: d not in RETENTION_DAYS))
def test_a_retention_aws_does_not_offer_is_refused_in_its_words(logs, days):
    refused = error_of(logs.put_retention_policy, logGroupName=GROUP, retentionInDays=days)
    assert refused == {
        "Code": "InvalidParameterException",
        "Message": f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
        "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, "
        "1827, 2192, 2557, 2922, 3288, 3653]",
    }


def test_retention_of_a_missing_group_is_not_found(logs):
    for call, kwargs in ((logs.put_retention_policy, {"retentionInDays": 7}), (logs.delete_retention_policy, {})):
        missing = error_of(call, logGroupName="/no/such/group", **kwargs)
        assert missing == {"Code": "ResourceNotFoundException", "Message": "The specified log group does not exist."}


def test_the_sweep_and_every_read_expire_events_on_the_clock(tmp_path):
    """Days are AWS's days on the cloud's clock: with a one-second minute, a day lasts 24 minutes."""
    logs, now = Logs(Store(tmp_path), Clock(period_s=1.0)), int(time.time() * 1000)
    logs.put_events("/g", "s", [(now - 30 * 60_000, "half an hour ago"), (now - 60_000, "a minute ago")])
    logs.op_PutRetentionPolicy({"logGroupName": "/g", "retentionInDays": 1}, CALL)
    tail = logs.op_GetLogEvents({"logGroupName": "/g", "logStreamName": "s"}, CALL)
    assert [e["message"] for e in tail["events"]] == ["a minute ago"]  # 30 clock-hours old: gone

    logs.put_events("/g", "s", [(now - 25 * 60_000, "written late")])  # localcloud's own writers skip the check
    found = logs.op_FilterLogEvents({"logGroupName": "/g"}, CALL)
    assert [e["message"] for e in found["events"]] == ["a minute ago"]  # expired on read

    logs.retention.sweep(now + 25 * 60_000)  # 25 minutes on: a day and an hour on the clock
    (stream,) = logs.op_DescribeLogStreams({"logGroupName": "/g"}, CALL)["logStreams"]
    assert stream["storedBytes"] == 0 and "firstEventTimestamp" not in stream
    assert logs.store.query("SELECT count(*) FROM log_events WHERE grp = '/g'") == [(0,)]
