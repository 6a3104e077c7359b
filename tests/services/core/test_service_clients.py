"""The one client factory: settings from the environment, validation, configuration and caching."""

import boto3
import pytest

from services.core.clients import CloudSettings, make_client
from services.core.errors import ServiceError


def test_settings_from_env_reads_what_boto3_reads() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_PROFILE": "ops"}
    assert CloudSettings.from_env(env) == CloudSettings("http://127.0.0.1:4566", "eu-west-1", "ops")
    assert CloudSettings.from_env({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-1"}).region == (
        "eu-central-1"
    )
    assert CloudSettings.from_env({}) == CloudSettings(None, "us-east-1", None)


@pytest.mark.parametrize(
    ("endpoint_url", "region"),
    [("file:///etc/passwd", "us-east-1"), ("127.0.0.1:4566", "us-east-1"), (None, "US East"), (None, "")],
)
def test_bad_settings_are_refused(endpoint_url: str | None, region: str) -> None:
    with pytest.raises(ServiceError):
        CloudSettings(endpoint_url, region, None)


def test_client_gets_endpoint_region_retries_and_timeouts(boto3_session: boto3.Session) -> None:
    settings = CloudSettings("http://127.0.0.1:4566", "eu-west-1", None)
    client = make_client("sagemaker-runtime", settings, boto3_session=boto3_session)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.read_timeout >= 60
    assert client.meta.config.retries["mode"] == "standard"


def test_empty_endpoint_url_means_aws_even_with_the_variable_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = make_client("lambda", CloudSettings(None, "us-west-2", None))
    assert client.meta.endpoint_url == "https://lambda.us-west-2.amazonaws.com"


def test_clients_are_cached_per_service_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local = CloudSettings("http://127.0.0.1:4566", "us-east-1", None)
    assert make_client("lambda", local) is make_client("lambda", local)
    assert make_client("lambda", local) is not make_client("sts", local)
    assert make_client("lambda", local) is not make_client("lambda", CloudSettings(None, "us-east-1", None))


def test_unknown_profile_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(ServiceError, match="'no-such-profile' is not in"):
        make_client("sts", CloudSettings(None, "us-east-1", "no-such-profile"))
