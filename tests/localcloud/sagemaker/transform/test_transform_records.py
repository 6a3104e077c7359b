"""Batch transform's record handling in-process: AWS's JSONPath examples, joins as AWS documents them, and
properties of splitting and mini-batching (no record lost, reordered or sent over the payload limit)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.sagemaker.transform.jsonpath import PathError, parse, select
from localcloud.sagemaker.transform.records import MB, DataProcessing, RecordError, assemble, batches, split

ROW = {"id": 7, "features": [0, 1, 2, 3, 4, 5, 6], "SageMakerOutput": {"label": "x"}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ROW),
        ("$.features", [0, 1, 2, 3, 4, 5, 6]),
        ("$.features[1:]", [1, 2, 3, 4, 5, 6]),
        ("$.features[0,5:]", [0, 5, 6]),
        ("$.features[-1]", 6),
        ("$['id','SageMakerOutput']", {"id": 7, "SageMakerOutput": {"label": "x"}}),
        ("$.SageMakerOutput.label", "x"),
        ("$.features[*]", [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_aws_s_examples_select_what_aws_says(path, expected):
    assert select(ROW, path) == expected


@pytest.mark.parametrize("path", ["features", "$..id", "$[?(@.id)]", "$['a','b'].c", "$.features[1:].x", "$[x]"])
def test_paths_outside_the_subset_are_refused(path):
    with pytest.raises(PathError):
        parse(path)


@pytest.mark.parametrize("path", ["$.missing", "$.features[9]", "$.id[0]", "$.features.x"])
def test_a_path_that_does_not_fit_the_record_is_an_error(path):
    with pytest.raises(PathError):
        select(ROW, path)


@given(st.text(max_size=40))
def test_any_path_is_parsed_or_refused_with_a_reason(path):
    try:
        steps = parse(path)
    except PathError as exc:
        assert str(exc)
    else:
        assert path.strip().startswith("$") and isinstance(steps, tuple)


def test_a_join_puts_the_answer_beside_an_object_or_the_input_beside_anything_else():
    join = DataProcessing.of({"JoinSource": "Input"})
    assert json.loads(join.answers([b'{"id": 1}'], b'{"p": 0.5}')[0]) == {"id": 1, "SageMakerOutput": {"p": 0.5}}
    assert json.loads(join.answers([b"[1, 2]"], b"plain text")[0]) == {
        "SageMakerInput": [1, 2],
        "SageMakerOutput": "plain text",
    }
    filtered = DataProcessing.of({"JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"})
    assert json.loads(filtered.answers([b'{"id": 1, "x": 2}'], b"3")[0]) == {"id": 1, "SageMakerOutput": 3}
    with pytest.raises(RecordError, match="2 lines for a mini-batch of 3 records"):
        join.answers([b"{}", b"{}", b"{}"], b"1\n2\n")


def test_input_filter_sends_the_selected_part_of_each_record():
    keep = DataProcessing.of({"InputFilter": "$['image']"})
    assert keep.request([b'{"label": "a", "image": "x"}', b'{"image": "y"}']) == b'"x"\n"y"'
    with pytest.raises(RecordError, match="not JSON"):
        keep.request([b"not json"])
    with pytest.raises(RecordError, match="ContentType is image/jpeg"):
        keep.check_content("image/jpeg")


records = st.lists(st.binary(min_size=1, max_size=300).filter(lambda b: b"\n" not in b and b.strip()), max_size=30)


@given(records, st.sampled_from(["SingleRecord", "MultiRecord"]))
def test_mini_batches_keep_every_record_in_order_within_the_limit(lines, strategy):
    data = b"\n".join(lines) + b"\n"
    found = split(data, "Line")
    assert found == [line.rstrip(b"\r") for line in lines]
    limit_mb = 1
    groups = batches(found, strategy, "Line", limit_mb)
    assert [record for group in groups for record in group] == found
    assert all(len(b"\n".join(group)) <= limit_mb * MB for group in groups)
    if strategy == "SingleRecord":
        assert all(len(group) == 1 for group in groups)


def test_an_object_over_the_payload_limit_is_refused_and_zero_means_no_limit():
    big = b"x" * (MB + 1)
    with pytest.raises(RecordError, match="too much data for max payload size"):
        batches([big], "SingleRecord", "None", 1)
    assert batches([big], "SingleRecord", "None", 0) == [[big]]


def test_assembly_puts_a_newline_after_each_answer_with_line_only():
    assert assemble([b"a", b"b\n"], "Line") == b"a\nb\n"
    assert assemble([b"a", b"b"], "None") == b"ab"
