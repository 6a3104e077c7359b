"""Costs and tear-down through real boto3 against the fast localcloud (fixture `fast_env`)."""

from __future__ import annotations

import time

import pytest

from services.core.clients import CloudSettings
from services.core.pricing import HOSTING_HOURLY_USD, LAMBDA_PROVISIONED_USD_PER_GB_S
from services.overview.costs import CostService
from services.serving.deploy import DeployService
from services.serving.scaling import ScalingPlan, ScalingService
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION

MODEL = "dog-breed-efficientnet-lite0"


def test_running_endpoints_and_provisioned_concurrency_are_priced_per_hour(fast_env) -> None:
    settings = CloudSettings.from_env()
    lambda_client = fast_env.client("lambda")
    version = lambda_client.publish_version(FunctionName=DEFAULT_FUNCTION)["Version"]
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=DEFAULT_FUNCTION, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    try:
        deadline = time.monotonic() + 60
        while (
            lambda_client.get_provisioned_concurrency_config(FunctionName=DEFAULT_FUNCTION, Qualifier=version)["Status"]
            != "READY"
        ):
            assert time.monotonic() < deadline, "provisioned concurrency never became READY"
            time.sleep(0.2)
        costs = CostService(settings).costs()
    finally:
        lambda_client.delete_provisioned_concurrency_config(FunctionName=DEFAULT_FUNCTION, Qualifier=version)
    assert costs.errors == []
    endpoint_type = fast_env.client("sagemaker").describe_endpoint_config(EndpointConfigName=DEFAULT_ENDPOINT)[
        "ProductionVariants"
    ][0]["InstanceType"]
    lines = {(line.kind, line.what.split(" ")[0]): line for line in costs.running}
    endpoints = lines[("Endpoint instances", endpoint_type)]
    assert endpoints.count >= 1 and endpoints.hourly_usd == pytest.approx(
        HOSTING_HOURLY_USD[endpoint_type] * endpoints.count
    )
    memory = lambda_client.get_function_configuration(FunctionName=DEFAULT_FUNCTION)["MemorySize"]
    provisioned = lines[("Lambda provisioned concurrency", f"{DEFAULT_FUNCTION}:{version}")]
    assert provisioned.count == 1
    assert provisioned.hourly_usd == pytest.approx(memory / 1024 * LAMBDA_PROVISIONED_USD_PER_GB_S["x86_64"] * 3600)
    assert costs.hourly_usd == pytest.approx(sum(line.hourly_usd for line in costs.running))


def test_teardown_removes_what_the_confirmed_plan_lists(fast_env) -> None:
    settings = CloudSettings.from_env()
    artifact = fast_env.client("sagemaker").describe_model(ModelName=MODEL)["PrimaryContainer"]["ModelDataUrl"]
    DeployService(settings=settings).deploy_model(artifact, model_name=MODEL, endpoint_name="td-ep")
    fast_env.wait_endpoint("td-ep")
    ScalingService(settings).apply("td-ep", "AllTraffic", ScalingPlan(1, 2, 30.0), instance_limit=3)
    service = CostService(settings)
    plan = service.teardown_plan()
    assert {item.endpoint for item in plan} >= {"td-ep", DEFAULT_ENDPOINT}
    mine = [item for item in plan if item.endpoint == "td-ep"]  # the session's default endpoint stays
    assert mine[0].scaled_variants == ["AllTraffic"]
    done = service.teardown(mine)
    assert done[0] == "autoscaling of td-ep/AllTraffic" and "endpoint td-ep" in done
    assert "td-ep" not in {item.endpoint for item in service.teardown_plan()}
    assert not ScalingService(settings).state("td-ep", "AllTraffic").registered
