"""The event history keeps its records on disk, not in the server's memory: LookupEvents pages through them newest
first, the oldest beyond the bound go, a restart keeps them, and an older data dir's JSON lines are taken in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.cloudtrail.events import lookup_record
from localcloud.cloudtrail.history import EventHistory
from localcloud.cloudtrail.provider import CloudTrail
from localcloud.core.interfaces.trail import Activity
from localcloud.core.protocol import AwsError

ROLE = "arn:aws:sts::000000000000:assumed-role/reader/session"


def activity(n: int, name: str = "GetObject") -> Activity:
    return Activity(
        "s3.amazonaws.com",
        name,
        "us-east-1",
        ROLE,
        "ASIAEXAMPLE",
        resources=(f"arn:aws:s3:::bucket/key-{n}",),
        time=1_800_000_000.0 + n,
    )


def lookup_all(trail: CloudTrail, **asked) -> list[dict]:
    events, token = [], None
    while True:
        page = trail.op_LookupEvents({**asked, **({"NextToken": token} if token else {})}, None)
        events += page["Events"]
        token = page.get("NextToken")
        if not token:
            return events


@pytest.fixture(autouse=True)
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock a day after the activities, so none is past the 90 days."""
    monkeypatch.setattr("localcloud.cloudtrail.history.time.time", lambda: 1_800_086_400.0)


def test_pages_run_newest_first_without_repeats_and_filters_apply_before_paging(tmp_path: Path) -> None:
    history = EventHistory(tmp_path)
    for n in range(1200):  # more than one batch read back
        history.record(activity(n, "PutObject" if n % 3 == 0 else "GetObject"))
    trail = CloudTrail(history)
    first = trail.op_LookupEvents({"MaxResults": 50}, None)
    assert len(first["Events"]) == 50 and first["NextToken"]
    every = lookup_all(trail)
    assert [e["EventTime"] for e in every] == [1_800_000_000.0 + n for n in reversed(range(1200))]
    puts = lookup_all(trail, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutObject"}])
    assert len(puts) == 400 and {e["EventName"] for e in puts} == {"PutObject"}
    ranged = lookup_all(trail, StartTime=1_800_000_100.0, EndTime=1_800_000_149.0)
    assert [e["EventTime"] for e in ranged] == [1_800_000_000.0 + n for n in reversed(range(100, 150))]
    named = lookup_all(
        trail, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "arn:aws:s3:::bucket/key-7"}]
    )
    assert [json.loads(e["CloudTrailEvent"])["eventName"] for e in named] == ["GetObject"]


def test_a_token_from_another_lookup_is_refused(tmp_path: Path) -> None:
    history = EventHistory(tmp_path)
    for n in range(60):
        history.record(activity(n))
    trail = CloudTrail(history)
    token = trail.op_LookupEvents({}, None)["NextToken"]
    other = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "GetObject"}], "NextToken": token}
    with pytest.raises(AwsError) as refused:
        trail.op_LookupEvents(other, None)
    assert refused.value.code == "InvalidNextTokenException"


def test_the_oldest_beyond_the_bound_go_and_a_restart_keeps_the_rest(tmp_path: Path) -> None:
    history = EventHistory(tmp_path, max_events=100)
    for n in range(250):
        history.record(activity(n))
    assert [e["EventTime"] for e in history.events()] == [1_800_000_000.0 + n for n in reversed(range(150, 250))]
    again = EventHistory(tmp_path, max_events=100)
    assert len(list(again.events())) == 100


def test_an_older_data_dirs_json_lines_are_taken_in_once(tmp_path: Path) -> None:
    lines = tmp_path / "cloudtrail" / "events.jsonl"
    lines.parent.mkdir()
    records = [lookup_record(f"id-{n}", activity(n)) for n in range(5)]
    lines.write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n")
    history = EventHistory(tmp_path)
    assert [e["EventId"] for e in history.events()] == [f"id-{n}" for n in reversed(range(5))]
    assert not lines.exists()
    assert len(list(EventHistory(tmp_path).events())) == 5
