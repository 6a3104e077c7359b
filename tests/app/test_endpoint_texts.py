"""The Endpoints page's explanations in words: why a load test fell short of its rate, and why a variant has not
scaled in, for any figures the services can hand over."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.endpoints.load_test_panel import shortfall_text
from app.endpoints.scale_in_note import scale_in_text
from services.serving.load_test import RateShortfall
from services.serving.scale_in import ScaleInOutlook


def test_a_shortfall_held_back_by_the_cap_in_flight_says_so_with_the_ceiling() -> None:
    text = shortfall_text(RateShortfall(8.0, 3.5, 3.5, 4, 1100.0))
    assert text.startswith("Asked for 8 requests per second; 3.5 were sent and 3.5 answered per second.")
    assert "At most 4 requests are in flight and each took about 1.10 s" in text and "about 3.6 per second" in text
    assert "raise 'In flight at most'" in text


def test_a_shortfall_the_cap_does_not_explain_blames_the_sender() -> None:
    assert "could not send them faster" in shortfall_text(RateShortfall(8.0, 3.5, 3.5, 16, 100.0))


outlooks = st.builds(
    ScaleInOutlook,
    verdict=st.sampled_from(["disabled", "at_minimum", "no_data", "not_low", "counting", "due"]),
    current=st.integers(1, 10),
    minimum=st.integers(1, 10),
    low_in_a_row=st.integers(0, 15),
    needed=st.integers(1, 15),
    latest=st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
    threshold=st.floats(0, 1e6, allow_nan=False),
    metric=st.sampled_from(["InvocationsPerInstance", "CPUUtilization"]),
    cooldown_left_s=st.floats(0, 86_400),
    wait_s=st.one_of(st.none(), st.floats(0, 86_400)),
).filter(lambda o: o.verdict != "not_low" or o.latest is not None)  # judge_scale_in's outlooks: a policy's alarm


@given(outlook=outlooks, period_s=st.sampled_from([1.0, 60.0]))
def test_every_outlook_reads_as_a_sentence(outlook: ScaleInOutlook, period_s: float) -> None:
    text = scale_in_text(outlook, period_s)
    assert text.endswith(".") and "None" not in text
    if outlook.verdict == "no_data":
        assert "INSUFFICIENT_DATA" in text
    if outlook.verdict in ("counting", "due") and outlook.cooldown_left_s >= 1:
        assert "cooldown" in text


def test_the_run_of_low_datapoints_is_in_aws_minutes_and_in_the_cloud_seconds() -> None:
    counting = ScaleInOutlook("counting", 2, 1, 3, 15, 1.0, 900.0, "InvocationsPerInstance", 0.0, 12.0)
    assert "for 15 minutes in a row" in scale_in_text(counting, 60.0)
    assert "for 15 one-minute periods (15 s here) in a row" in scale_in_text(counting, 1.0)
