"""The load-test engine against real targets on a localcloud whose metric period lasts one second: a load
drives a scale-out to 2 instances and a quiet one the scale-in, with no failed request (fixture `fast_env`)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.deploy import DeployService
from services.serving.endpoint_management import EndpointsService
from services.serving.load_test import (
    EndpointTarget,
    FunctionTarget,
    LoadLimits,
    LoadPlan,
    LoadSnapshot,
    LoadTest,
    check_plan,
    load_photos,
    photo_sets,
)
from services.serving.scaling import ScalingPlan, ScalingService, suggested_target
from tests.conftest import DEFAULT_FUNCTION

MODEL = "dog-breed-efficientnet-lite0"


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (LoadPlan(21.0, 10, 2, "negatives"), "Requests per second must be above 0 and at most 20"),
        (LoadPlan(0.0, 10, 2, "negatives"), "Requests per second must be above 0"),
        (LoadPlan(5.0, 601, 2, "negatives"), "Duration must be 1 to 600 s"),
        (LoadPlan(5.0, 10, 17, "negatives"), "Concurrency must be 1 to 16"),
        (LoadPlan(5.0, 10, 2, "negatives", photos=201), "Photos must be 1 to 200"),
    ],
)
def test_a_load_above_the_page_limits_is_refused(plan: LoadPlan, message: str) -> None:
    with pytest.raises(ServiceError, match=message):
        check_plan(plan, LoadLimits())


def test_photo_sets_come_from_the_shared_datasets(datasets) -> None:
    assert {"dogs-wiki-133", "negatives"} <= set(photo_sets())
    photos = load_photos("dogs-wiki-133", 5)
    assert len(photos) == 5 and all(kind in {"image/jpeg", "image/png"} for _, kind in photos)
    with pytest.raises(ServiceError, match="is not one of the photo sets"):
        load_photos("../../etc", 5)


def test_calls_beyond_reserved_concurrency_count_as_throttled_not_failed(fast_env, datasets) -> None:
    """Reserved concurrency 1 and 8 calls in flight: Lambda refuses the extra ones with 429, which the test counts
    as throttles (not retried away, not failures) while the others are answered."""
    settings = CloudSettings.from_env()
    lambda_ = fast_env.client("lambda")
    lambda_.put_function_concurrency(FunctionName=DEFAULT_FUNCTION, ReservedConcurrentExecutions=1)
    try:
        plan = LoadPlan(20.0, 3, 8, "dogs-wiki-133", photos=3)
        test = LoadTest(FunctionTarget(settings, DEFAULT_FUNCTION), plan, load_photos("dogs-wiki-133", 3))
        test.start().wait(60)
    finally:
        lambda_.delete_function_concurrency(FunctionName=DEFAULT_FUNCTION)
    snapshot = test.snapshot()
    assert snapshot.throttled > 0 and snapshot.answered > 0 and snapshot.errors == 0, snapshot.last_error
    assert snapshot.answered + snapshot.throttled == snapshot.sent
    assert sum(s.throttled for s in snapshot.seconds) == snapshot.throttled
    assert "throttled" in (snapshot.last_throttle or "") and snapshot.last_error is None  # a throttle is no failure
    assert {s.instances for s in snapshot.seconds} == {None} and not FunctionTarget.counts_instances


def test_the_function_as_target_with_its_qualifier(fast_env, datasets) -> None:
    settings = CloudSettings.from_env()
    plan = LoadPlan(4.0, 2, 2, "dogs-wiki-133", photos=3)
    done = LoadTest(FunctionTarget(settings, DEFAULT_FUNCTION, "$LATEST"), plan, load_photos("dogs-wiki-133", 3))
    done.start().wait(60)
    snapshot = done.snapshot()
    assert not snapshot.running and snapshot.errors == 0 and snapshot.answered >= 4, snapshot.last_error
    missing = LoadTest(FunctionTarget(settings, "no-such-function"), plan, load_photos("negatives", 1))
    missing.start().wait(60)
    assert missing.snapshot().answered == 0 and "no-such-function" in (missing.snapshot().last_error or "")


def test_load_scales_out_to_two_and_quiet_scales_in_without_a_failure(fast_env, datasets) -> None:
    settings = CloudSettings.from_env()
    sagemaker = fast_env.client("sagemaker")
    artifact = sagemaker.describe_model(ModelName=MODEL)["PrimaryContainer"]["ModelDataUrl"]
    DeployService(settings=settings).deploy_model(artifact, model_name=MODEL, endpoint_name="load-ep")
    endpoints = EndpointsService(settings)
    try:
        fast_env.wait_endpoint("load-ep")
        # target 4 invocations per instance per (one-second) period; cooldowns of 30 "seconds" last half a second
        ScalingService(settings).apply(
            "load-ep", "AllTraffic", ScalingPlan(1, 2, 4.0, "invocations", 30, 30), instance_limit=3
        )
        photos = load_photos("dogs-wiki-133", 10)
        busy = LoadTest(EndpointTarget(settings, "load-ep"), LoadPlan(10.0, 60, 4, "dogs-wiki-133"), photos).start()
        deadline = time.monotonic() + 60
        while endpoints.describe("load-ep").variants[0].current_instances != 2:
            assert time.monotonic() < deadline and busy.running(), "no scale-out to 2 instances"
            time.sleep(0.2)
        time.sleep(2.5)  # the test's own instance count, read each second, sees the second instance too
        busy.stop()
        busy.wait(30)
        loaded = busy.snapshot()
        assert loaded.errors == 0 and loaded.answered > 0, loaded.last_error
        assert not loaded.running and loaded.elapsed_s < 60  # stopped early: its clock stopped with it
        assert [s.instances for s in loaded.seconds][:1] == [1] and 2 in {s.instances for s in loaded.seconds}
        assert loaded.peak_rps_per_instance and suggested_target(loaded.peak_rps_per_instance) > 0

        quiet = LoadTest(EndpointTarget(settings, "load-ep"), LoadPlan(1.0, 120, 1, "dogs-wiki-133"), photos).start()
        deadline = time.monotonic() + 90
        while endpoints.describe("load-ep").variants[0].current_instances != 1:
            assert time.monotonic() < deadline, "no scale-in to 1 instance"
            time.sleep(0.2)
        quiet.stop()
        quiet.wait(30)
        assert quiet.snapshot().errors == 0, quiet.snapshot().last_error
        activities = ScalingService(settings).state("load-ep", "AllTraffic").activities
        assert [a.description for a in activities[:2]] == [
            "Setting desired instance count to 1.",
            "Setting desired instance count to 2.",
        ]
        assert "AlarmHigh" in activities[1].cause and activities[1].status == "Successful"
    finally:
        endpoints.delete("load-ep", with_models=False)


@given(
    requested=st.floats(0.5, 20),
    sent=st.integers(0, 2000),
    elapsed=st.floats(2, 600),
    concurrency=st.integers(1, 16),
    latency_ms=st.one_of(st.none(), st.floats(1, 5000)),
)
def test_the_rate_reached_is_compared_with_the_rate_asked_and_the_cap_in_flight_named_when_it_binds(
    requested, sent, elapsed, concurrency, latency_ms
) -> None:
    snapshot = LoadSnapshot(
        False,
        elapsed,
        sent,
        sent,
        0,
        0,
        None,
        requested_rps=requested,
        concurrency=concurrency,
        mean_latency_ms=latency_ms,
    )
    shortfall = snapshot.shortfall
    if sent / elapsed >= 0.9 * requested:
        assert shortfall is None
        return
    assert shortfall is not None and shortfall.sent_rps == pytest.approx(sent / elapsed)
    if latency_ms is None:
        assert shortfall.ceiling_rps is None and not shortfall.concurrency_bound
    else:
        assert shortfall.ceiling_rps == pytest.approx(concurrency * 1000 / latency_ms)
        assert shortfall.concurrency_bound == (concurrency * 1000 / latency_ms < 0.9 * requested)


def test_the_first_seconds_say_nothing_about_the_rate() -> None:
    assert LoadSnapshot(True, 1.5, 1, 1, 0, 0, None, requested_rps=8.0, concurrency=4).shortfall is None
