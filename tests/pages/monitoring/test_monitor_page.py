"""The Monitor page against a real localcloud (capture files flushed each second, a metric minute of a second): a
model trained on three breeds serves an endpoint; the page turns data capture on, real photos are sent, and the
page shows the traffic, the drift against the training set, its alarm going to ALARM (and on the Overview), a
review of a captured photo, and the reviewed photos becoming a new dataset version that the Train form opens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from localcloud.core.process import LocalCloudProcess
from services.core.access import Caller
from services.monitoring.baseline import label_of
from services.monitoring.capture_setup import CaptureSetupService
from services.monitoring.capture_store import CaptureStore
from services.monitoring.drift_alarm import METRIC, NAMESPACE, DriftAlarmService
from services.monitoring.drift_schedule import DriftSchedule
from tests.channels import DATASET, complete_breeds, required
from tests.clouds import point_boto3_at, running_localcloud
from tests.monitored import (
    CAPTURE_BUCKET,
    captured_records,
    send,
    serve_trained_model,
    turn_capture_on,
    wait_captured,
    wait_in_service,
)
from tests.pages.conftest import dashboard

ENDPOINT = "monitored"
DATA = f"s3://{CAPTURE_BUCKET}/datasets/monitor-base/"
ARGS = ["--capture-flush-seconds", "1", "--metric-period-seconds", "1"]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloudProcess]:
    """A localcloud serving `monitored`: a 1-epoch model of three breeds, trained and deployed without capture."""
    required(DATASET)
    with running_localcloud(tmp_path_factory.mktemp("monitor"), ARGS, endpoint="dog-breed-classifier") as cloud:
        assert serve_trained_model(cloud, ENDPOINT, "monitor-base") == DATA
        yield cloud


@pytest.fixture
def env(cloud, monkeypatch) -> LocalCloudProcess:
    return point_boto3_at(cloud, monkeypatch)


def monitor_page():
    at = dashboard().run()
    at.switch_page("app_pages/monitor.py").run()
    at.selectbox(key="monitor_endpoint").select(ENDPOINT).run()
    assert not at.exception, at.exception
    return at


def test_the_loop_from_capture_to_drift_alarm_review_and_a_new_dataset(env) -> None:
    at = monitor_page()
    assert "has no data capture" in at.info[0].value
    at.button(key="FormSubmitter:monitor_capture_form-Turn data capture on").click().run()
    assert not at.error and "is updating to config" in at.success[0].value, [e.value for e in at.error]
    wait_in_service(env, ENDPOINT)
    capture = env.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["DataCaptureConfig"]
    assert (capture["CaptureStatus"], capture["CurrentSamplingPercentage"]) == ("Started", 100)

    breed = complete_breeds(3)[0]  # every photo of one breed, over and over: far from the three-breed training set
    photos = sorted(p for split in ("train", "valid", "test") for p in (DATASET / split / breed).iterdir())
    sent = (photos * 30)[:30] + sorted((DATASET.parent / "negatives").iterdir())[:2]
    send(env, ENDPOINT, sent)
    wait_captured(env, CAPTURE_BUCKET, f"data-capture/{ENDPOINT}/", len(sent))

    at = monitor_page()
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests captured"] == str(len(sent)) and metrics["Unreadable records"] == "0"
    assert any("Training split of " + DATA in c.value for c in at.caption)
    assert any("Drift per hour" in m.value for m in at.markdown)
    assert any(c.value.startswith("Chance alone: an hour of ") for c in at.caption)  # the noise floor beside it

    at.number_input(key="monitor_threshold").set_value(0.05)  # a form's value is sent with its submit
    at.button(key="FormSubmitter:monitor_alarm_form-Save the alarm").click().run()
    assert "Alarm set: ALARM when an hour scores more than 0.05 above chance." in [s.value for s in at.success]
    deadline = time.monotonic() + 60
    while not any("is **ALARM" in e.value for e in at.error):  # the page published the hour's score
        assert time.monotonic() < deadline, [i.value for i in at.info]
        time.sleep(1)
        at.run()
    overview = dashboard().run()
    assert any(f"Drift alarm: endpoint {ENDPOINT}" in e.value for e in overview.error)

    setup = CaptureSetupService().setup(ENDPOINT)
    dogs = {c.event_id for c in CaptureStore().day(setup, datetime.now(UTC).date()).summary.lowest if c.is_dog}
    queue = [b for b in at.button if str(b.key).endswith("_right") and str(b.key).split("_")[2] in dogs]
    assert len(queue) >= 2, "too few captured dog photos to review"
    queue[0].click().run()  # the model named the breed it was trained on: right
    problems = [e.value for e in at.error if "is **ALARM" not in e.value]
    assert not at.exception and not problems, problems
    assert {m.label: m.value for m in at.metric}["Production accuracy on reviewed photos"] == "100%"
    second = str(queue[1].key).split("_")[2]  # the photo's own breed, picked from the list
    at.selectbox(key=f"monitor_review_{second}_pick").select(label_of(breed)).run()
    at.button(key=f"monitor_review_{second}_save").click().run()
    assert not at.exception
    manifest = env.client("s3").get_object(
        Bucket=CAPTURE_BUCKET, Key=f"monitoring/{ENDPOINT}/reviews/manifests/output/output.manifest"
    )
    lines = [json.loads(line) for line in manifest["Body"].read().splitlines()]
    assert [line["event-id"] for line in lines] == [str(queue[0].key).split("_")[2], second]
    assert lines[1]["breed-metadata"]["class-name"] == label_of(breed)

    at.button(key="monitor_add_dataset").click().run()
    problems = [e.value for e in at.error if "is **ALARM" not in e.value]
    assert not problems, problems
    made = f"s3://{CAPTURE_BUCKET}/datasets/monitor-base-reviewed/"
    assert any(s.value.startswith(made) and "and 2 reviewed ones" in s.value for s in at.success)
    link = next(p for p in at.get("page_link") if p.proto.label == "Train on it")
    assert parse_qs(link.proto.query_string) == {"tab": ["launch"], "dataset": [made]}


def test_a_day_without_captures_and_broken_records_say_so(env) -> None:
    at = monitor_page()
    at.date_input(key="monitor_day").set_value((datetime.now(UTC) - timedelta(days=3)).date()).run()
    assert any("No captures on" in i.value for i in at.info) and not at.exception

    now = datetime.now(UTC)
    key = f"data-capture/{ENDPOINT}/AllTraffic/{now:%Y/%m/%d/%H}/99-99-999-broken.jsonl"
    env.client("s3").put_object(Bucket=CAPTURE_BUCKET, Key=key, Body=b'{"captureData": \nnot json\n')
    at = monitor_page()
    assert any("captured lines are not capture records" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Unreadable records"] == "2"


def test_the_drift_schedule_publishes_and_alarms_without_the_page(env) -> None:
    """Nobody opens the Monitor page: the schedule's run scores the newest hour of every endpoint with a drift alarm,
    publishes it to CloudWatch, and the alarm follows."""
    if not CaptureSetupService().setup(ENDPOINT).enabled:
        turn_capture_on(env, ENDPOINT, "monitor-base-model", f"s3://{CAPTURE_BUCKET}/data-capture")
    prefix = f"data-capture/{ENDPOINT}/"
    before = captured_records(env, CAPTURE_BUCKET, prefix)
    breed = complete_breeds(3)[1]
    photos = sorted(p for split in ("train", "valid", "test") for p in (DATASET / split / breed).iterdir())
    send(env, ENDPOINT, (photos * 30)[:30])
    wait_captured(env, CAPTURE_BUCKET, prefix, before + 30)

    DriftAlarmService().set_threshold(Caller("ana", "operator"), ENDPOINT, 0.05)
    (run,) = [r for r in DriftSchedule().run_once() if r.endpoint == ENDPOINT]
    assert run.problem is None and run.published is not None, run
    assert run.published.answers >= 30 and run.published.beyond_chance > 0.05
    end = datetime.now(UTC) + timedelta(minutes=1)
    points = env.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=METRIC,
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime=end - timedelta(hours=1),
        EndTime=end,
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert points and points[0]["Maximum"] > 0.05
    deadline = time.monotonic() + 60
    while (alarm := DriftAlarmService().alarm(ENDPOINT)).state != "ALARM":
        assert time.monotonic() < deadline, alarm
        time.sleep(0.5)
