"""Why an autoscaled variant has not scaled in: the verdict and the countdown from AlarmLow's datapoints, for any
datapoints (Hypothesis), and read from a real localcloud whose one-minute period lasts one second."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.clients import CloudSettings
from services.serving.scale_in import LowAlarm, ScaleInService, judge_scale_in
from services.serving.scaling import ScalingPlan, ScalingService
from tests.conftest import DEFAULT_ENDPOINT

ALARM = LowAlarm("TargetTracking-x-AlarmLow-1", "InvocationsPerInstance", 27.0, 15)
PLAN = ScalingPlan(1, 3, 30.0, scale_in_cooldown_s=300)
datapoints = st.lists(st.one_of(st.none(), st.floats(0, 100, allow_nan=False)), min_size=15, max_size=15)
periods = st.sampled_from([1.0, 5.0, 60.0])


def trailing_low(values: list[float | None]) -> int:
    count = 0
    for value in reversed(values):
        if value is None or value >= ALARM.threshold:
            break
        count += 1
    return count


@given(values=datapoints, period_s=periods)
def test_no_datapoint_in_the_last_period_means_no_scale_in_and_no_countdown(values, period_s) -> None:
    outlook = judge_scale_in(PLAN, 2, ALARM, [*values[1:], None], period_s, None)
    assert (outlook.verdict, outlook.wait_s) == ("no_data", None)


@given(values=datapoints, period_s=periods)
def test_the_countdown_is_the_low_datapoints_still_missing(values, period_s) -> None:
    outlook = judge_scale_in(PLAN, 2, ALARM, values, period_s, None)
    run = trailing_low(values)
    if values[-1] is None:
        assert outlook.verdict == "no_data"
    elif values[-1] >= ALARM.threshold:
        assert (outlook.verdict, outlook.wait_s) == ("not_low", None)
    elif run == 15:
        assert (outlook.verdict, outlook.wait_s) == ("due", 0.0)
    else:
        assert outlook.verdict == "counting" and outlook.low_in_a_row == run
        assert outlook.wait_s == pytest.approx((15 - run) * period_s)
        one_more = judge_scale_in(PLAN, 2, ALARM, [*values[1:], ALARM.threshold / 2], period_s, None)
        assert one_more.wait_s == pytest.approx(outlook.wait_s - period_s)  # it counts down, a period at a time


@given(since=st.floats(0, 400), period_s=periods)
def test_a_recent_scale_in_holds_the_next_one_for_its_cooldown(since, period_s) -> None:
    low = [ALARM.threshold / 2] * 15
    outlook = judge_scale_in(PLAN, 2, ALARM, low, period_s, since)
    cooldown = 300 * period_s / 60  # AWS's seconds, on the cloud's clock
    assert outlook.cooldown_left_s == pytest.approx(max(0.0, cooldown - since))
    assert outlook.verdict == "due" and outlook.wait_s == pytest.approx(outlook.cooldown_left_s)


@given(values=datapoints)
def test_at_the_minimum_or_with_scale_in_disabled_nothing_is_counted(values) -> None:
    assert judge_scale_in(PLAN, 1, ALARM, values, 60.0, None).verdict == "at_minimum"
    disabled = ScalingPlan(1, 3, 30.0, disable_scale_in=True)
    assert judge_scale_in(disabled, 3, None, values, 60.0, None).verdict == "disabled"


def outlook_when(settings: CloudSettings, wanted, what: str):
    """Poll the outlook (over one-second periods) until `wanted(outlook)`; fail, saying what, after a minute."""
    scaling, explainer = ScalingService(settings), ScaleInService(settings)
    deadline = time.monotonic() + 60
    while True:
        outlook = explainer.outlook(DEFAULT_ENDPOINT, "AllTraffic", scaling.state(DEFAULT_ENDPOINT, "AllTraffic"), 1.0)
        if outlook is not None and wanted(outlook):
            return outlook
        assert time.monotonic() < deadline, f"never {what}: {outlook}"
        time.sleep(0.2)


def test_an_idle_endpoint_above_its_minimum_is_explained_and_light_traffic_counts_down(fast_env, dog_photo) -> None:
    """Two instances, a target of 1000 invocations per instance: with no request there is no datapoint (no
    scale-in ever); a trickle of requests makes low datapoints, and the outlook counts them."""
    settings = CloudSettings.from_env()
    sagemaker, scaling = fast_env.client("sagemaker"), ScalingService(settings)
    scaling.apply(DEFAULT_ENDPOINT, "AllTraffic", ScalingPlan(1, 2, 1000.0, scale_in_cooldown_s=0), instance_limit=3)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=DEFAULT_ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    runtime, photo = fast_env.client("sagemaker-runtime"), dog_photo.read_bytes()
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            runtime.invoke_endpoint(EndpointName=DEFAULT_ENDPOINT, Body=photo, ContentType="image/jpeg")["Body"].read()
            stop.wait(0.2)

    caller = threading.Thread(target=trickle)
    try:
        fast_env.wait_endpoint(DEFAULT_ENDPOINT)
        idle = outlook_when(settings, lambda o: o.current == 2 and o.verdict == "no_data", "idle at 2 instances")
        assert (idle.needed, idle.metric, idle.wait_s) == (15, "InvocationsPerInstance", None)
        assert idle.threshold == pytest.approx(900.0)  # 10 % under the target

        caller.start()
        busy = outlook_when(settings, lambda o: o.verdict == "counting" and o.low_in_a_row >= 2, "counting down")
        assert busy.current == 2 and busy.wait_s == pytest.approx(15 - busy.low_in_a_row)
    finally:
        stop.set()
        if caller.is_alive():
            caller.join()
        scaling.remove(DEFAULT_ENDPOINT, "AllTraffic")
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=DEFAULT_ENDPOINT,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        fast_env.wait_endpoint(DEFAULT_ENDPOINT)
