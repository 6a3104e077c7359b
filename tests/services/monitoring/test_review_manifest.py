"""The review manifest: Ground Truth's image-classification output lines, written and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.review_manifest import (
    LABEL_ATTRIBUTE,
    NOT_A_DOG,
    ManifestError,
    Review,
    from_line,
    read_manifest,
    to_line,
    write_manifest,
)
from services.monitoring.reviews import accuracy_by_day, class_folder

CLASSES = ["Affenpinscher", "Beagle", "Boxer", NOT_A_DOG]


def review(event="e-1", truth="Beagle", label="Beagle", said_dog=True, when="2026-12-07T09:15:00+00:00") -> Review:
    return Review(
        source_ref=f"s3://bucket/monitoring/ep/reviews/photos/{event}.jpg",
        truth=truth,
        event_id=event,
        inference_time=when,
        model_label=label,
        model_confidence=0.41,
        model_said_dog=said_dog,
        capture_ref="s3://bucket/datacapture/ep/AllTraffic/2026/12/07/09/x.jsonl#3",
        reviewer="ana",
        reviewed_at=datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC),
    )


def test_a_line_has_ground_truths_image_classification_shape():
    line = json.loads(to_line(review(truth="Boxer"), CLASSES, "dog-breed-review-ep"))
    assert line["source-ref"] == "s3://bucket/monitoring/ep/reviews/photos/e-1.jpg"
    assert line[LABEL_ATTRIBUTE] == 2  # the class's index in the label list
    assert line[f"{LABEL_ATTRIBUTE}-metadata"] == {
        "class-name": "Boxer",
        "confidence": 1.0,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/dog-breed-review-ep",
        "human-annotated": "yes",
        "creation-date": "2026-12-07T10:00:00.123456",
    }


REVIEWS = st.builds(
    review,
    event=st.text(min_size=1, max_size=20),
    truth=st.sampled_from(CLASSES),
    label=st.sampled_from(CLASSES[:3]) | st.none(),
    said_dog=st.booleans() | st.none(),
)


@settings(deadline=None)  # a loaded machine must not fail a property
@given(st.lists(REVIEWS, max_size=8, unique_by=lambda r: r.event_id))
def test_reviews_survive_the_round_trip(reviews):
    read, unreadable = read_manifest(write_manifest(reviews, CLASSES, "job"))
    assert (read, unreadable) == (reviews, 0)


def test_a_photo_reviewed_twice_keeps_its_newer_answer_and_bad_lines_are_counted():
    body = write_manifest([review(truth="Beagle"), review(truth="Boxer")], CLASSES, "job") + b"{oops\n\n[]\n"
    read, unreadable = read_manifest(body)
    assert [r.truth for r in read] == ["Boxer"] and unreadable == 2


def test_a_class_outside_the_list_is_refused():
    with pytest.raises(ManifestError, match="Poodle"):
        to_line(review(truth="Poodle"), CLASSES, "job")
    with pytest.raises(ManifestError):
        from_line(json.dumps({"source-ref": "s3://b/k"}))


def test_the_model_was_right_when_it_named_the_breed_or_refused_a_non_dog():
    assert review(truth="Beagle", label="Beagle").model_was_right
    assert not review(truth="Boxer", label="Beagle").model_was_right
    assert not review(truth=NOT_A_DOG, label="Beagle", said_dog=True).model_was_right
    assert review(truth=NOT_A_DOG, label="Beagle", said_dog=False).model_was_right
    assert not review(truth="Beagle", label="Beagle", said_dog=False).model_was_right


def test_accuracy_is_counted_per_day_the_photos_were_sent():
    reviews = [
        review("a", when="2026-12-06T23:59:00+00:00"),
        review("b", truth="Boxer", when="2026-12-07T00:01:00+00:00"),
        review("c", when="2026-12-07T08:00:00+00:00"),
    ]
    assert [(d.day, d.right, d.reviewed) for d in accuracy_by_day(reviews)] == [
        ("2026-12-06", 1, 1),
        ("2026-12-07", 1, 2),
    ]


def test_a_reviewed_breed_goes_in_udacitys_class_folder_when_it_is_one():
    assert class_folder("Affenpinscher") == "001.Affenpinscher"
    assert class_folder("Labrador_retriever") == "096.Labrador_retriever"
    assert class_folder("toy_terrier") == "toy_terrier"  # an ImageNet breed Udacity lacks keeps its name
