"""The deploy forms' data capture choice: what SageMaker would refuse is refused before any call, with every
reason, and what it accepts becomes the DataCaptureConfig SageMaker's model expects."""

from __future__ import annotations

import re

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given
from hypothesis import strategies as st

from services.core.errors import ServiceError
from services.serving.data_capture import CaptureChoice, CaptureState, checked

_DATA_CAPTURE = botocore.session.get_session().get_service_model("sagemaker").shape_for("DataCaptureConfig")
_DESTINATION = re.compile(_DATA_CAPTURE.members["DestinationS3Uri"].metadata["pattern"])


@given(
    percentage=st.integers(min_value=0, max_value=100),
    bucket=st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True),
    prefix=st.from_regex(r"[a-z0-9/-]{0,40}", fullmatch=True),
    parts=st.sampled_from([(True, True), (True, False), (False, True)]),
)
def test_a_good_choice_is_a_config_sagemaker_accepts(percentage, bucket, prefix, parts):
    choice = CaptureChoice(percentage, f"s3://{bucket}/{prefix}", *parts)
    assert checked(choice) is choice
    config = choice.config()
    assert not ParamValidator().validate(config, _DATA_CAPTURE).has_errors()
    assert _DESTINATION.fullmatch(config["DestinationS3Uri"])
    modes = [o["CaptureMode"] for o in config["CaptureOptions"]]
    assert modes == [m for m, on in zip(("Input", "Output"), parts, strict=True) if on]
    assert config["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}


@given(
    percentage=st.one_of(st.integers(max_value=-1), st.integers(min_value=101)),
    destination=st.one_of(st.text(max_size=30).filter(lambda d: not d.startswith("s3://")), st.just("s3://")),
)
def test_a_bad_choice_is_refused_with_every_reason(percentage, destination):
    with pytest.raises(ServiceError) as refused:
        checked(CaptureChoice(percentage, destination, capture_input=False, capture_output=False))
    message = refused.value.message
    assert f"Sampling must be 0 to 100 percent, not {percentage}." in message
    assert "is not an S3 location" in message
    assert "Capture the requests, the answers or both." in message


def test_the_state_reads_describe_endpoint():
    assert CaptureState.of({"EndpointName": "e"}) is None
    state = CaptureState.of(
        {
            "DataCaptureConfig": {
                "EnableCapture": False,
                "CaptureStatus": "Stopped",
                "CurrentSamplingPercentage": 20,
                "DestinationS3Uri": "s3://b/p",
            }
        }
    )
    assert state == CaptureState(False, "Stopped", 20, "s3://b/p", None)
    assert state.sentence == "Data capture is stopped (it would write to s3://b/p)."
