"""The Endpoints page learns from localcloud whether its endpoint instances share cores (oversubscribed)."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from services.core.clients import CloudSettings
from services.serving.endpoint_metrics import CloudTiming, cloud_timing
from tests.clouds import running_localcloud
from tests.localcloud.conftest import deploy_echo


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    # One vCPU a core: an ml.m5.large's instance wants 2 cores, so two of them want 4.
    args = ["--no-defaults", "--vcpus-per-core", "1"]
    with running_localcloud(tmp_path_factory.mktemp("oversubscribed"), args) as process:
        yield process


def test_instances_wanting_more_cores_than_the_machine_has_are_oversubscribed(cloud):
    settings = CloudSettings(endpoint_url=cloud.endpoint_url, region="us-east-1", profile=None)
    assert cloud_timing(settings).oversubscribed is False
    deploy_echo(cloud, "crowded", instances=2)
    cloud.wait_endpoint("crowded")
    timing = cloud_timing(settings)
    machine = len(os.sched_getaffinity(0))
    assert timing.cores == (min(2, machine) * 2, machine)
    assert timing.oversubscribed is (machine < 4)
    assert cloud_timing(CloudSettings(endpoint_url=None, region="us-east-1", profile=None)).cores is None


def test_the_page_says_so():
    def page() -> None:
        from app.endpoints.endpoint_view import timing_note
        from services.serving.endpoint_metrics import CloudTiming

        timing_note(CloudTiming(60.0, False, 4, (4, 2)))

    at = AppTest.from_function(page).run()
    assert "Oversubscribed: the endpoint instances want 4 cores and this machine has 2" in at.warning[0].value
    assert not CloudTiming(60.0, False, 4, (2, 2)).oversubscribed
