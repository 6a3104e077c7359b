"""Capture records and file summaries, on capture lines of real photos and the real classifier's answers."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.capture_records import UnreadableRecord, input_bytes, parse_record
from services.monitoring.capture_summary import FileSummary, summarize_file
from tests.captures import answered, capture_line, real_photos
from tests.channels import DATASETS, required

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def answers():
    required(DATASETS)
    return answered(real_photos(10, negatives=3))


def lines_of(answers, start=START, step_s=37):
    return [
        capture_line(body, kind, answer, start + timedelta(seconds=i * step_s))
        for i, (body, kind, answer) in enumerate(answers)
    ]


def test_a_record_gives_the_request_and_the_models_answer(answers):
    body, kind, answer = answers[0]
    record = parse_record(capture_line(body, kind, answer, START, inference_id="visit-1"))
    assert record.inference_id == "visit-1" and record.time == START
    assert record.content_type == kind and record.input_bytes == len(body)
    assert record.label == answer["predictions"][0]["label"]
    assert record.confidence == pytest.approx(answer["predictions"][0]["score"])
    assert record.is_dog is answer["is_dog"]
    assert input_bytes(capture_line(body, kind, answer, START)) == (body, kind)


@pytest.mark.parametrize(
    "line",
    ["", "{not json", "[1, 2]", json.dumps({"captureData": {}}), json.dumps({"eventMetadata": {"eventId": "x"}})],
)
def test_a_line_that_is_not_a_capture_record_says_so(line):
    with pytest.raises(UnreadableRecord):
        parse_record(line)


def test_a_file_is_counted_with_its_unreadable_lines_left_out(answers):
    lines = lines_of(answers)
    body = "\n".join([lines[0], '{"cut short', *lines[1:], "not json at all"]).encode()
    summary = summarize_file("k.jsonl", body)
    assert (summary.requests, summary.unreadable, summary.answered) == (len(answers), 2, len(answers))
    dogs = [a for _, _, a in answers if a["is_dog"]]
    assert summary.not_dog == len(answers) - len(dogs) and summary.not_dog >= 1  # the negatives are not dogs
    assert sum(sum(h.values()) for h in summary.breeds_per_hour.values()) == len(dogs)
    assert sum(summary.confidence_histogram) == len(answers)
    assert summary.content_types == Counter(kind for _, kind, _ in answers)
    scores = sorted(a["predictions"][0]["score"] for _, _, a in answers)
    assert [c.confidence for c in summary.lowest] == pytest.approx(scores)
    assert all(body.splitlines()[c.line] for c in summary.lowest)  # each candidate points at its own line


def test_low_confidence_counts_follow_the_threshold(answers):
    summary = summarize_file("k.jsonl", "\n".join(lines_of(answers)).encode())
    scores = [a["predictions"][0]["score"] for _, _, a in answers]
    assert summary.low_confidence(0.5) == sum(s < 0.5 for s in scores)
    assert summary.low_confidence(1.0) == len(scores) and summary.low_confidence(0.0) == 0


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=0, max_value=13))
def test_summaries_of_two_files_add_up_to_the_summary_of_both(answers, cut):
    lines = lines_of(answers)
    whole = summarize_file("k.jsonl", "\n".join(lines).encode())
    parts = FileSummary()
    parts.add(summarize_file("k.jsonl", "\n".join(lines[:cut]).encode()))
    parts.add(summarize_file("k.jsonl", "\n".join(lines[cut:]).encode()))
    assert (parts.requests, parts.per_minute, parts.breeds_per_hour, parts.confidence_histogram) == (
        whole.requests,
        whole.per_minute,
        whole.breeds_per_hour,
        whole.confidence_histogram,
    )
    assert FileSummary.from_json(json.loads(json.dumps(parts.to_json()))) == parts


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=12,
)
RECORDISH = st.fixed_dictionaries(
    {"captureData": st.dictionaries(st.sampled_from(["endpointInput", "endpointOutput"]), JSON)},
    optional={"eventMetadata": st.dictionaries(st.sampled_from(["eventId", "inferenceTime", "inferenceId"]), JSON)},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40) | JSON.map(json.dumps) | RECORDISH.map(json.dumps), max_size=6))
def test_any_file_is_counted_line_by_line_and_never_raises(lines):
    body = b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines)
    summary = summarize_file("k.jsonl", body)
    assert summary.requests + summary.unreadable == sum(1 for line in body.splitlines() if line.strip())
    assert sum(summary.confidence_histogram) == summary.answered <= summary.requests
