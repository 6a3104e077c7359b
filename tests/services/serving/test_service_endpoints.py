"""Endpoints and their autoscaling through the services, real boto3 against a localcloud whose metric period
lasts one second and that allows 3 endpoint instances (fixture `fast_env` in tests/conftest.py)."""

from __future__ import annotations

import time

import pytest

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.deploy import DeployService
from services.serving.endpoint_management import EndpointsService
from services.serving.load_test import EndpointTarget, LoadPlan, LoadTest, load_photos
from services.serving.scaling import ScalingPlan, ScalingService, check_plan, suggested_target
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION

MODEL = "dog-breed-efficientnet-lite0"


def wait_in_service(service: EndpointsService, name: str) -> None:
    deadline = time.monotonic() + 120
    while service.describe(name).status != "InService":
        assert time.monotonic() < deadline, f"{name} never came InService"
        time.sleep(0.2)


@pytest.fixture
def settings(fast_env) -> CloudSettings:
    return CloudSettings.from_env()


@pytest.fixture
def deployed(settings, fast_env):
    """A second endpoint serving the default model (the model is reused, not copied)."""
    artifact = fast_env.client("sagemaker").describe_model(ModelName=MODEL)["PrimaryContainer"]["ModelDataUrl"]
    DeployService(settings=settings).deploy_model(artifact, model_name=MODEL, endpoint_name="svc-ep")
    service = EndpointsService(settings)
    wait_in_service(service, "svc-ep")
    yield "svc-ep"
    if "svc-ep" in service.names():
        service.delete("svc-ep", with_models=False)


def test_update_point_the_function_and_delete(settings, deployed) -> None:
    service, scaling = EndpointsService(settings), ScalingService(settings)
    view = service.describe(deployed)
    assert [(v.model_name, v.current_instances, v.desired_instances) for v in view.variants] == [(MODEL, 1, 1)]
    assert view.hourly_usd == pytest.approx(0.115)  # one ml.m5.large

    service.point_function(DEFAULT_FUNCTION, deployed)
    try:
        assert service.functions_calling(deployed) == [DEFAULT_FUNCTION]  # the page warns before deleting
        assert service.functions_calling(DEFAULT_ENDPOINT) == []
    finally:
        service.point_function(DEFAULT_FUNCTION, DEFAULT_ENDPOINT)

    scaling.apply(deployed, "AllTraffic", ScalingPlan(1, 2, 30.0), instance_limit=3)
    with pytest.raises(ServiceError, match="must be deregistered as scalable targets"):
        service.update(deployed, model_name=MODEL, instance_type="ml.c5.large", instance_count=1)
    scaling.remove(deployed, "AllTraffic")
    photos = load_photos("dogs-wiki-133", 5)
    load = LoadTest(EndpointTarget(settings, deployed), LoadPlan(5.0, 120, 2, "dogs-wiki-133"), photos).start()
    try:
        config = service.update(deployed, model_name=MODEL, instance_type="ml.c5.large", instance_count=1)
        wait_in_service(service, deployed)
        time.sleep(1)  # requests reach the new fleet too
    finally:
        load.stop()
        load.wait(30)
    during = load.snapshot()
    assert during.errors == 0 and during.answered > 0, during.last_error  # no downtime
    updated = service.describe(deployed)
    assert updated.config_name == config and updated.variants[0].instance_type == "ml.c5.large"

    deletion = service.delete(deployed)
    assert deletion.config == config and deletion.models == []  # the default endpoint still serves the model
    assert deployed not in service.names()
    assert MODEL in service.models()


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (ScalingPlan(3, 2, 30.0), "Minimum capacity cannot be greater than maximum capacity"),
        (ScalingPlan(1, 4, 30.0), "above the 3 endpoint instances this cloud allows"),
        (ScalingPlan(1, 2, 0.0), "target value must be greater than 0"),
        (ScalingPlan(1, 2, -1.0), "target value must be greater than 0"),
        (ScalingPlan(0, 2, 30.0), "must be at least 1"),
        (ScalingPlan(1, 2, 30.0, scale_in_cooldown_s=-1), "Scale-in cooldown must be between 0 and 86400"),
    ],
)
def test_bad_plans_are_refused_before_any_call(plan: ScalingPlan, message: str) -> None:
    with pytest.raises(ServiceError, match=message):
        check_plan(plan, instance_limit=3)


def test_unknown_endpoint_variant_and_deleted_endpoint_are_refused(settings, deployed) -> None:
    scaling = ScalingService(settings)
    with pytest.raises(ServiceError, match="Could not find endpoint"):
        scaling.apply("no-such-endpoint", "AllTraffic", ScalingPlan(1, 2, 30.0))
    with pytest.raises(ServiceError, match="has no variant 'Other'"):
        scaling.apply(deployed, "Other", ScalingPlan(1, 2, 30.0))
    EndpointsService(settings).delete(deployed, with_models=False)
    with pytest.raises(ServiceError, match="Could not find endpoint|is Deleting"):
        scaling.apply(deployed, "AllTraffic", ScalingPlan(1, 2, 30.0))


def test_a_policy_shows_its_alarms_and_a_scheduled_action(settings, deployed) -> None:
    scaling = ScalingService(settings)
    alarms = scaling.apply(deployed, "AllTraffic", ScalingPlan(1, 2, 12.0, "cpu", 30, 30, False), instance_limit=3)
    scaling.put_scheduled_action(deployed, "AllTraffic", "nightly", "cron(0 2 * * ? *)", 1, 1)
    with pytest.raises(ServiceError, match="is not a schedule"):
        scaling.put_scheduled_action(deployed, "AllTraffic", "bad", "every day", 1, 1)
    state = scaling.state(deployed, "AllTraffic")
    assert state.policy == ScalingPlan(1, 2, 12.0, "cpu", 30, 30, False)
    assert sorted(a.name for a in state.alarms) == sorted(alarms) and len(alarms) == 2
    assert [(s.name, s.schedule) for s in state.scheduled] == [("nightly", "cron(0 2 * * ? *)")]
    scaling.remove(deployed, "AllTraffic")
    assert not scaling.state(deployed, "AllTraffic").registered


def test_suggested_target_follows_aws_rule() -> None:
    assert suggested_target(4.0) == 120.0
