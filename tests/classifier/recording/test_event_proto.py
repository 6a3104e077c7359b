"""The recording reader's own Event decoder reads what protobuf (tensorboardX's `event_pb2`) writes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensorboardX.proto import event_pb2

from classifier.recording.event_proto import parse_event

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
values = st.lists(
    st.one_of(
        st.tuples(st.text(max_size=20), st.floats(allow_nan=False, width=32)),
        st.tuples(st.text(max_size=20), st.lists(finite, max_size=8), st.lists(finite, max_size=8)),
    ),
    max_size=5,
)


@given(step=st.integers(min_value=-(2**63), max_value=2**63 - 1), wall_time=finite, summary=st.none() | values)
def test_decoded_as_protobuf_decodes_it(step, wall_time, summary):
    event = event_pb2.Event(step=step, wall_time=wall_time)
    if summary is not None:
        event.summary.SetInParent()
        for item in summary:
            value = event.summary.value.add(tag=item[0])
            if len(item) == 2:
                value.simple_value = item[1]
            else:
                value.histo.bucket_limit.extend(item[1])
                value.histo.bucket.extend(item[2])
                value.histo.min = 1.5
    decoded = parse_event(event.SerializeToString())
    assert decoded.step == step
    if not event.HasField("summary"):
        assert decoded.summary is None
        return
    assert [v.tag for v in decoded.summary] == [v.tag for v in event.summary.value]
    for mine, theirs in zip(decoded.summary, event.summary.value, strict=True):
        if theirs.WhichOneof("value") == "simple_value":
            assert mine.simple_value == theirs.simple_value or (
                math.isnan(mine.simple_value) and math.isnan(theirs.simple_value)
            )
        else:
            assert mine.histo is not None
            assert (mine.histo.bucket_limit, mine.histo.bucket) == (
                list(theirs.histo.bucket_limit),
                list(theirs.histo.bucket),
            )


@pytest.mark.parametrize(
    "damaged", [b"\x0a\xff", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x2a\x05ab", b"\x0f"]
)
def test_a_damaged_record_is_a_value_error(damaged):
    with pytest.raises(ValueError):
        parse_event(damaged)
