"""Everything billed by the hour, on the Overview and torn down from the Endpoints page, under AppTest against a
localcloud of this module's own (the teardown removes the default endpoint that other modules use)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from localcloud.core.process import LocalCloudProcess
from tests.clouds import point_boto3_at, running_localcloud
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION
from tests.pages.conftest import dashboard


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with running_localcloud(tmp_path_factory.mktemp("teardown-localcloud"), endpoint=DEFAULT_ENDPOINT) as cloud:
        yield cloud


@pytest.fixture
def cloud(own_cloud: LocalCloudProcess, monkeypatch: pytest.MonkeyPatch) -> LocalCloudProcess:
    return point_boto3_at(own_cloud, monkeypatch)


def provision(cloud: LocalCloudProcess) -> str:
    """One provisioned environment on a new version of the default function, once READY; the version."""
    lambda_client = cloud.client("lambda")
    version = lambda_client.publish_version(FunctionName=DEFAULT_FUNCTION)["Version"]
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=DEFAULT_FUNCTION, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    deadline = time.monotonic() + 120
    while (
        lambda_client.get_provisioned_concurrency_config(FunctionName=DEFAULT_FUNCTION, Qualifier=version)["Status"]
        != "READY"
    ):
        assert time.monotonic() < deadline, "provisioned concurrency never became READY"
        time.sleep(0.2)
    return version


def hourly(label: str) -> float:
    return float(re.search(r"\$([0-9.,]+)/h", label).group(1).replace(",", ""))


def test_the_overview_counts_provisioned_concurrency_in_what_runs_now(cloud: LocalCloudProcess) -> None:
    version = provision(cloud)
    at = dashboard().run()
    assert not at.exception and not at.warning
    lines = [(link.proto.page, link.proto.label) for link in at.get("page_link") if "/h" in link.proto.label]
    provisioned = [label for page, label in lines if page == "lambda"]
    assert len(provisioned) == 1 and provisioned[0].startswith(
        f"Provisioned concurrency {DEFAULT_FUNCTION}:{version} · READY · 1 environment(s) kept warm · $"
    )
    assert hourly(provisioned[0]) > 0
    total = {m.label: m.value for m in at.metric}["By the hour now"]
    assert hourly(total) == pytest.approx(sum(hourly(label) for _, label in lines), abs=0.001)


def test_tear_down_everything_removes_provisioned_concurrency_and_says_which_function_is_left(
    cloud: LocalCloudProcess,
) -> None:
    lambda_client, sagemaker = cloud.client("lambda"), cloud.client("sagemaker")
    configs = lambda_client.list_provisioned_concurrency_configs(FunctionName=DEFAULT_FUNCTION)
    version = (
        configs["ProvisionedConcurrencyConfigs"][0]["FunctionArn"].rsplit(":", 1)[-1]
        if configs["ProvisionedConcurrencyConfigs"]
        else provision(cloud)
    )
    at = dashboard()
    at.switch_page("app_pages/endpoints.py").run()
    assert DEFAULT_ENDPOINT in list(at.dataframe[0].value["endpoint"])
    next(b for b in at.button if b.label.startswith("Tear down everything")).click().run()
    warnings = " ".join(w.value for w in at.warning)
    assert f"endpoint `{DEFAULT_ENDPOINT}`" in warnings
    assert f"provisioned concurrency of `{DEFAULT_FUNCTION}:{version}` (1 environment(s)" in warnings
    assert f"{DEFAULT_FUNCTION} calls {DEFAULT_ENDPOINT}" in warnings  # before: the function will be left calling it

    next(b for b in at.button if b.label == "Yes, tear all of it down").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = " ".join(s.value for s in at.success)
    assert f"provisioned concurrency of {DEFAULT_FUNCTION}:{version}" in done and f"endpoint {DEFAULT_ENDPOINT}" in done
    after = " ".join(w.value for w in at.warning)
    assert f"{DEFAULT_FUNCTION} calls {DEFAULT_ENDPOINT}" in after and "Lambda page" in after  # and after
    assert any(i.value == "No endpoints yet: deploy one below." for i in at.info)  # read again, not stale
    assert {m.label: m.value for m in at.metric}["Running now, per hour"] == "$0.0000"
    assert (
        lambda_client.list_provisioned_concurrency_configs(FunctionName=DEFAULT_FUNCTION)[
            "ProvisionedConcurrencyConfigs"
        ]
        == []
    )
    assert sagemaker.list_endpoints()["Endpoints"] == []
