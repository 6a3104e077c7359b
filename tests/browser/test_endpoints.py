"""The Endpoints page in a real browser: a load test started from the page drives a real scale-out, and the
page's instance counts (the load panel's and the variants') follow it without a reload (localcloud with a
one-second metric period: fixture `fast_localcloud`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import running_dashboard

pytestmark = pytest.mark.browser
MODEL = "dog-breed-efficientnet-lite0"
ENDPOINT = "browser-scaling-ep"


@pytest.fixture
def scaled_endpoint(fast_localcloud) -> Iterator[str]:
    """An endpoint of the default model, autoscaled 1 to 2 on 4 invocations per instance per period."""
    sagemaker = fast_localcloud.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=ENDPOINT,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": MODEL, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    fast_localcloud.wait_endpoint(ENDPOINT)
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling = fast_localcloud.client("application-autoscaling")
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    scaling.put_scaling_policy(
        PolicyName="load",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 4.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": 30,
            "ScaleInCooldown": 30,
        },
        **target,
    )
    yield ENDPOINT
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    sagemaker.delete_endpoint_config(EndpointConfigName=ENDPOINT)


def test_a_load_test_from_the_page_scales_the_endpoint_out(page, fast_localcloud, scaled_endpoint, tmp_path):
    with running_dashboard(fast_localcloud, tmp_path) as url:
        page.goto(f"{url}/endpoints")  # the list's link opens the endpoint, which stays open through reruns
        page.get_by_role("link", name=f"{scaled_endpoint}: scaling, load test, charts").click()
        expect(page.get_by_role("heading", name=scaled_endpoint)).to_be_visible()
        expect(page).to_have_url(re.compile(rf"endpoint={scaled_endpoint}"))
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.get_by_text("localcloud's metric period is 1 s")).to_be_visible()
        page.get_by_label(re.compile(r"^Requests per second")).fill("10")
        page.get_by_label(re.compile(r"^Duration, s")).fill("90")
        page.get_by_label(re.compile(r"^In flight at most")).fill("4")
        page.get_by_role("button", name="Start load test").click()
        instances = page.get_by_test_id("stMetric").filter(has_text="Instances serving").get_by_test_id("stMetricValue")
        expect(instances).to_have_text("1")
        expect(instances).to_have_text("2", timeout=90_000)
        # the variants' count above follows without a reload, as the load panel's does
        now = page.get_by_test_id("stMetric").filter(has_text="Instances now").get_by_test_id("stMetricValue")
        expect(now).to_have_text("2")
        page.get_by_role("button", name="Stop load test").click()
        expect(page.get_by_text(re.compile(r"Finished: \d+ answered, 0 throttled, 0 failed"))).to_be_visible()
        expect(
            page.get_by_text(re.compile(r"suggests a target of [0-9.]+; the policy in force tracks 4\.$"))
        ).to_be_visible()
        target = page.get_by_role("spinbutton", name="Target value")
        expect(target).to_have_value("4.00")  # the suggestion is offered, not swapped in silently
    # the activity table is drawn on a canvas: the activity is read where the page reads it
    activities = fast_localcloud.client("application-autoscaling").describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{scaled_endpoint}/variant/AllTraffic"
    )["ScalingActivities"]
    assert "Setting desired instance count to 2." in [a["Description"] for a in activities]
