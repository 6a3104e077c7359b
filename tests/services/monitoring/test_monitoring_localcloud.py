"""The monitoring services against a real localcloud (its metric minute lasting a second): capture summaries cached
in S3 beside the captures, the drift alarm going to ALARM, reviews in S3 and the reviewed dataset version."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from services.core.access import Caller, NotAllowed
from services.core.clients import CloudSettings
from services.data.datasets import DatasetService
from services.monitoring.capture_setup import CaptureSetup
from services.monitoring.capture_store import SUMMARY_SUFFIX, CaptureStore
from services.monitoring.drift_alarm import DriftAlarmService
from services.monitoring.review_manifest import NOT_A_DOG
from services.monitoring.reviewed_dataset import ReviewedDatasetService
from services.monitoring.reviews import ReviewStore
from tests.captures import answered, capture_key, capture_line, real_photos
from tests.channels import complete_breeds, upload_breeds

BUCKET = "monitor-tests"
OPERATOR, VIEWER = Caller("ana", "operator"), Caller("vic", "viewer")
DAY = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.fixture
def settings(fast_env) -> CloudSettings:
    return CloudSettings.from_env()


@pytest.fixture(scope="module")
def captured(fast_localcloud, datasets):
    """Three hours of captures of endpoint `mon` (two files an hour) of real photos, with the classifier's answers."""
    s3 = fast_localcloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    answers = answered(real_photos(12, negatives=2))
    keys = []
    for hour in range(3):
        for part in range(2):
            when = DAY + timedelta(hours=9 + hour, minutes=20 * part)
            lines = [capture_line(*a, when + timedelta(seconds=i)) for i, a in enumerate(answers)]
            key = capture_key("datacapture", "mon", "AllTraffic", when)
            s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())
            keys.append(key)
    setup = CaptureSetup("mon", "InService", ["AllTraffic"], True, "Started", 100, f"s3://{BUCKET}/datacapture")
    return setup, answers, keys


def test_a_day_is_summarised_once_and_then_read_from_its_summaries(settings, captured, fast_localcloud):
    setup, answers, _ = captured
    store = CaptureStore(settings)
    first = store.day(setup, DAY.date())
    assert (first.files, first.summarised_now, first.summary.requests) == (6, 6, 6 * len(answers))
    listed = fast_localcloud.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="datacapture/mon/")["Contents"]
    assert sorted(o["Key"] for o in listed if o["Key"].endswith(SUMMARY_SUFFIX)) == [
        f"datacapture/mon/AllTraffic/2026/12/05/{h}{SUMMARY_SUFFIX}" for h in ("09", "10", "11")
    ]
    again = store.day(setup, DAY.date())
    assert again.summarised_now == 0 and again.summary == first.summary
    assert store.day(setup, (DAY + timedelta(days=1)).date()).files == 0


def test_a_new_or_broken_capture_file_is_counted_and_the_rest_comes_from_the_summaries(
    settings, captured, fast_localcloud
):
    setup, answers, _ = captured
    key = capture_key("datacapture", "mon", "AllTraffic", DAY + timedelta(hours=10, minutes=50))
    line = capture_line(*answers[0], DAY + timedelta(hours=10, minutes=50))
    fast_localcloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=f"{line}\n{{cut sho".encode())
    try:
        day = CaptureStore(settings).day(setup, DAY.date())
        assert (day.files, day.summarised_now) == (7, 1)
        assert (day.summary.requests, day.summary.unreadable) == (6 * len(answers) + 1, 1)
    finally:
        fast_localcloud.client("s3").delete_object(Bucket=BUCKET, Key=key)
    assert CaptureStore(settings).day(setup, DAY.date()).summary.requests == 6 * len(answers)


def test_the_drift_alarm_goes_to_alarm_when_a_score_passes_the_threshold(settings):
    service = DriftAlarmService(settings)
    with pytest.raises(NotAllowed):
        service.set_threshold(VIEWER, "drifting", 0.3)
    service.set_threshold(OPERATOR, "drifting", 0.3)
    assert service.alarm("drifting").state == "INSUFFICIENT_DATA"
    assert service.publish("drifting", "2026-12-07T09", 40, 0.68)
    assert not service.publish("drifting", "2026-12-07T09", 40, 0.68)  # the same score is sent once
    deadline = time.monotonic() + 30
    while (alarm := service.alarm("drifting")).state != "ALARM":
        assert time.monotonic() < deadline, alarm
        time.sleep(0.5)
    assert "0.68" in alarm.reason and alarm.threshold == 0.3
    assert [a.endpoint for a in service.firing()] == ["drifting"]
    service.set_threshold(OPERATOR, "drifting", 0.5)
    assert service.publish("drifting", "2026-12-07T09", 40, 0.68)  # a changed alarm is sent the current score


def test_reviews_are_stored_and_become_a_new_dataset_version(settings, captured, fast_localcloud):
    setup, _, _ = captured
    store, photos = ReviewStore(settings), CaptureStore(settings)
    queue = CaptureStore(settings).day(setup, DAY.date()).summary.lowest
    assert [c.confidence for c in queue] == sorted(c.confidence for c in queue)
    dog = next(c for c in queue if c.is_dog)
    other = next(c for c in queue if c.is_dog is False)
    classes = ["Affenpinscher", "Afghan_hound", dog.label]
    with pytest.raises(NotAllowed):
        store.record(VIEWER, setup, dog, photos.photo(BUCKET, dog), dog.label, classes)
    store.record(OPERATOR, setup, dog, photos.photo(BUCKET, dog), "Afghan_hound", classes)
    store.record(OPERATOR, setup, dog, photos.photo(BUCKET, dog), "Affenpinscher", classes)  # changed its mind
    store.record(OPERATOR, setup, other, photos.photo(BUCKET, other), NOT_A_DOG, classes)
    reviews = store.reviews(setup)
    assert sorted(r.truth for r in reviews.reviews) == ["Affenpinscher", NOT_A_DOG]
    s3 = fast_localcloud.client("s3")
    folders = s3.list_objects_v2(Bucket=BUCKET, Prefix="monitoring/mon/reviewed-photos/")["Contents"]
    assert [o["Key"].split("/")[3] for o in folders] == ["001.Affenpinscher"]  # moved from Afghan hound
    photo = s3.get_object(Bucket=BUCKET, Key=folders[0]["Key"])["Body"].read()
    assert photo == photos.photo(BUCKET, dog)[0]

    upload_breeds(s3, BUCKET, "datasets/base", complete_breeds(2))
    base = DatasetService(settings=settings).summarize_dataset(BUCKET, "datasets/base/")
    made = ReviewedDatasetService(settings).create(OPERATOR, reviews.reviews, base.uri, BUCKET, "base-reviewed")
    assert made.uri == f"s3://{BUCKET}/datasets/base-reviewed/" and (made.added, made.left_out) == (1, 1)
    new = DatasetService(settings=settings).summarize_dataset(BUCKET, "datasets/base-reviewed/")
    assert new.split_totals["train"] == base.split_totals["train"] + 1
    assert DatasetService(settings=settings).summarize_dataset(BUCKET, "datasets/base/") == base  # old one kept
    again = ReviewedDatasetService(settings).create(OPERATOR, reviews.reviews, base.uri, BUCKET, "base-reviewed")
    assert again.uri.endswith("/base-reviewed-2/")


def test_operators_reviewing_at_once_lose_no_review(settings, captured):
    """Each review rewrites one manifest: written conditionally (the ETag read), a review that lands in between
    makes the other read and write again, so six reviews at once leave six lines."""
    setup, _, _ = captured
    race = dataclasses.replace(setup, endpoint="mon-race")  # a manifest of its own, the same captured photos
    photos = CaptureStore(settings)
    dogs = [c for c in photos.day(setup, DAY.date()).summary.lowest if c.is_dog][:6]
    assert len({c.event_id for c in dogs}) == 6
    classes = sorted({c.label for c in dogs})
    store = ReviewStore(settings)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda c: store.record(OPERATOR, race, c, photos.photo(BUCKET, c), c.label, classes), dogs))
    assert sorted(r.event_id for r in store.reviews(race).reviews) == sorted(c.event_id for c in dogs)
