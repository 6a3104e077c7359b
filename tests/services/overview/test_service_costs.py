"""Costs and tear-down through real boto3 against the fast localcloud (fixture `fast_env`)."""

from __future__ import annotations

import time

import pytest

from services.core.clients import CloudSettings
from services.core.pricing import HOSTING_HOURLY_USD, LAMBDA_PROVISIONED_USD_PER_GB_S
from services.overview.costs import CostService, TeardownPlan
from services.serving.deploy import DeployService
from services.serving.scaling import ScalingPlan, ScalingService
from services.training.job_records import parse_job
from tests.clouds import sagemaker_role
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION
from tests.localcloud.sagemaker.training_helpers import training_request, wait_training

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
    assert {item.endpoint for item in plan.endpoints} >= {"td-ep", DEFAULT_ENDPOINT}
    assert plan.stranded_functions == {DEFAULT_FUNCTION: DEFAULT_ENDPOINT}  # said before and after
    mine = [item for item in plan.endpoints if item.endpoint == "td-ep"]  # the session's default endpoint stays
    assert mine[0].scaled_variants == ["AllTraffic"] and mine[0].callers == []
    done = service.teardown(TeardownPlan(mine, [], []))
    assert done[0] == "autoscaling of td-ep/AllTraffic" and "endpoint td-ep" in done
    assert "td-ep" not in {item.endpoint for item in service.teardown_plan().endpoints}
    assert not ScalingService(settings).state("td-ep", "AllTraffic").registered


def test_a_job_that_failed_before_training_cost_nothing_and_is_not_called_unpriced(fast_env) -> None:
    """A job whose data could not be downloaded ends Failed with no BillableTimeInSeconds: it was billed
    nothing, on an instance type the dashboard prices."""
    sagemaker_role(fast_env)
    request = training_request(
        "cost-failed-early", bucket="no-such-bucket", channel="s3://no-such-bucket/d/", metrics=[]
    )
    fast_env.client("sagemaker").create_training_job(**request)
    raw = wait_training(fast_env, "cost-failed-early")
    assert raw["TrainingJobStatus"] == "Failed" and "BillableTimeInSeconds" not in raw, raw.get("FailureReason")
    assert parse_job(raw).cost_usd == 0.0
    costs = CostService(CloudSettings.from_env()).costs()
    assert costs.unpriced_jobs == 0 and costs.training_jobs >= 1, costs


def test_teardown_removes_provisioned_concurrency_and_its_autoscaling(fast_env) -> None:
    """Provisioned concurrency bills by the hour like an endpoint: tearing down removes it, and its scalable
    target first, so that no scaling activity puts it back."""
    lambda_client, scaling = fast_env.client("lambda"), fast_env.client("application-autoscaling")
    version = lambda_client.publish_version(FunctionName=DEFAULT_FUNCTION)["Version"]
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=DEFAULT_FUNCTION, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    target = {
        "ServiceNamespace": "lambda",
        "ResourceId": f"function:{DEFAULT_FUNCTION}:{version}",
        "ScalableDimension": "lambda:function:ProvisionedConcurrency",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    service = CostService(CloudSettings.from_env())
    plan = service.teardown_plan()
    mine = [p for p in plan.provisioned if (p.function, p.qualifier) == (DEFAULT_FUNCTION, version)]
    assert [p.environments for p in mine] == [1] and plan.scaled_provisioned == [target["ResourceId"]]
    assert mine[0].hourly_usd > 0
    done = service.teardown(TeardownPlan([], mine, plan.scaled_provisioned))
    assert done == [
        f"autoscaling of {DEFAULT_FUNCTION}:{version}",
        f"provisioned concurrency of {DEFAULT_FUNCTION}:{version}",
    ]
    configs = lambda_client.list_provisioned_concurrency_configs(FunctionName=DEFAULT_FUNCTION)
    assert configs["ProvisionedConcurrencyConfigs"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="lambda")["ScalableTargets"] == []
    assert not [line for line in service.costs().running if line.kind == "Lambda provisioned concurrency"]
