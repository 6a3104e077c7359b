"""Shared fixtures: a real localcloud on a free port in a temp dir, and real photos."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.core.process import LocalCloudProcess
from tests.channels import DATASETS, required
from tests.clouds import point_boto3_at, running_localcloud, sagemaker_role

# The suite's dashboards run with sign-in off (every visitor an operator: app/auth.py's `none`), as the
# page and browser tests of operator pages expect; the sign-in tests set their own mode.
os.environ["DASHBOARD_AUTH"] = "none"
# The drift schedule's thread would outlive each test's localcloud; tests run the schedule themselves.
os.environ["DASHBOARD_DRIFT_EVERY_S"] = "0"
os.environ.pop("DASHBOARD_REQUIRE_SIGNIN", None)

DEFAULT_ENDPOINT = "dog-breed-classifier"
DEFAULT_FUNCTION = "dog-breed-predict"


@pytest.fixture(scope="session")
def datasets() -> Path:
    return required(DATASETS)


@pytest.fixture(scope="session")
def dog_photo(datasets: Path) -> Path:
    """A clear photo of a breed ImageNet knows: the model calls it a keeshond (0.98)."""
    return datasets / "dogs-wiki-133" / "test" / "092.Keeshond" / "keeshond_5.jpg"


@pytest.fixture(scope="session")
def localcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """One localcloud for the session, with the default endpoint and function ready."""
    with running_localcloud(tmp_path_factory.mktemp("localcloud"), endpoint=DEFAULT_ENDPOINT) as cloud:
        sagemaker_role(cloud)  # what tests' own training jobs run as (the dashboard's use the bootstrap's role)
        yield cloud


@pytest.fixture
def aws_env(localcloud: LocalCloudProcess, monkeypatch: pytest.MonkeyPatch) -> LocalCloudProcess:
    """Point boto3 (and so the dashboard's services) at the session's localcloud."""
    return point_boto3_at(localcloud, monkeypatch)


@pytest.fixture(scope="session")
def fast_localcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """A localcloud with the default endpoint and function whose one-minute metric period lasts one second
    (alarms, cooldowns and scaling in seconds) and that allows 3 endpoint instances: for autoscaling tests."""
    args = ["--metric-period-seconds", "1", "--endpoint-instances", "3"]
    with running_localcloud(tmp_path_factory.mktemp("fast-localcloud"), args, endpoint=DEFAULT_ENDPOINT) as cloud:
        yield cloud


@pytest.fixture
def fast_env(fast_localcloud: LocalCloudProcess, monkeypatch: pytest.MonkeyPatch) -> LocalCloudProcess:
    """Point boto3 (and so the dashboard's services) at the fast localcloud."""
    return point_boto3_at(fast_localcloud, monkeypatch)
