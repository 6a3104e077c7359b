"""The overview: which cloud, who, what is deployed; each part fails on its own."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import Stubber

from services.core.clients import CloudSettings
from services.overview.connection import EndpointSummary, FunctionSummary, get_overview, probe_health

NOW = datetime(2026, 1, 1)


def serve(answer: dict[str, object]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = json.dumps(answer).encode() if self.path == "/_localcloud/health" else b"{}"
            self.send_response(200 if self.path == "/_localcloud/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def localcloud_like() -> Iterator[str]:
    yield from serve({"service": "localcloud", "status": "ok"})


@pytest.fixture
def other_server() -> Iterator[str]:
    yield from serve({"service": "something-else"})


@pytest.fixture
def stubbed(boto3_session: boto3.Session) -> Iterator[dict[str, Stubber]]:
    clients = {name: boto3_session.client(name) for name in ("sts", "sagemaker", "lambda")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def overview_with(stubbed: dict[str, Stubber], settings: CloudSettings):
    return get_overview(
        settings,
        sts_client=stubbed["sts"].client,
        sagemaker_client=stubbed["sagemaker"].client,
        lambda_client=stubbed["lambda"].client,
    )


def add_everything(stubbed: dict[str, Stubber]) -> None:
    stubbed["sts"].add_response(
        "get_caller_identity",
        {"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root", "UserId": "000000000000"},
    )
    add_deployments(stubbed)


def add_deployments(stubbed: dict[str, Stubber]) -> None:
    arn = "arn:aws:sagemaker:us-east-1:000000000000:endpoint/dog-breed-classifier"
    stubbed["sagemaker"].add_response(
        "list_endpoints",
        {
            "Endpoints": [
                {
                    "EndpointName": "dog-breed-classifier",
                    "EndpointArn": arn,
                    "CreationTime": NOW,
                    "LastModifiedTime": NOW,
                    "EndpointStatus": "InService",
                }
            ]
        },
    )
    stubbed["sagemaker"].add_response(
        "describe_endpoint",
        {
            "EndpointName": "dog-breed-classifier",
            "EndpointArn": arn,
            "EndpointStatus": "InService",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "EndpointConfigName": "dog-breed-classifier-config",
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 2}],
        },
        {"EndpointName": "dog-breed-classifier"},
    )
    stubbed["sagemaker"].add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "dog-breed-classifier-config",
            "EndpointConfigArn": arn + "-config",
            "CreationTime": NOW,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 2,
                }
            ],
        },
        {"EndpointConfigName": "dog-breed-classifier-config"},
    )
    stubbed["lambda"].add_response(
        "list_functions",
        {
            "Functions": [
                {
                    "FunctionName": "dog-breed-predict",
                    "Runtime": "python3.12",
                    "MemorySize": 512,
                    "LastModified": "2026-01-01T00:00:00.000+0000",
                }
            ]
        },
    )


def test_localcloud_overview(stubbed: dict[str, Stubber], localcloud_like: str) -> None:
    add_everything(stubbed)
    overview = overview_with(stubbed, CloudSettings(localcloud_like, "us-east-1", None))
    assert (overview.cloud, overview.health, overview.account) == ("localcloud", "ok", "000000000000")
    assert overview.caller_arn == "arn:aws:iam::000000000000:root"
    assert overview.endpoints == [EndpointSummary("dog-breed-classifier", "InService", 2, NOW, "ml.m5.large")]
    assert overview.functions == [  # Lambda's string time, parsed: one timestamp form on the page
        FunctionSummary("dog-breed-predict", "python3.12", 512, datetime(2026, 1, 1, tzinfo=UTC))
    ]
    assert overview.errors == []


def test_no_endpoint_url_is_aws(stubbed: dict[str, Stubber]) -> None:
    add_everything(stubbed)
    overview = overview_with(stubbed, CloudSettings(None, "eu-west-1", None))
    assert (overview.cloud, overview.health, overview.region) == ("AWS", None, "eu-west-1")


def test_an_endpoint_url_that_is_not_localcloud(stubbed: dict[str, Stubber], other_server: str) -> None:
    add_everything(stubbed)
    overview = overview_with(stubbed, CloudSettings(other_server, "us-east-1", None))
    assert (overview.cloud, overview.health) == ("custom endpoint", None)


def test_each_part_fails_on_its_own(stubbed: dict[str, Stubber], localcloud_like: str) -> None:
    add_deployments(stubbed)
    stubbed["sts"].add_client_error("get_caller_identity", service_error_code="ExpiredToken")
    overview = overview_with(stubbed, CloudSettings(localcloud_like, "us-east-1", None))
    assert overview.account is None
    assert overview.errors == [
        "The AWS credentials have expired. Refresh them (for example `aws sso login`) and reload."
    ]
    assert [e.name for e in overview.endpoints] == ["dog-breed-classifier"]
    assert [f.name for f in overview.functions] == ["dog-breed-predict"]


def test_unreachable_cloud_is_one_message(monkeypatch: pytest.MonkeyPatch, unused_port: int) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    overview = get_overview(CloudSettings(f"http://127.0.0.1:{unused_port}", "us-east-1", None))
    assert overview.cloud == "custom endpoint"
    assert len(overview.errors) == 1
    assert f"unreachable at http://127.0.0.1:{unused_port}" in overview.errors[0]


def test_health_probe_only_for_a_configured_url(localcloud_like: str) -> None:
    assert probe_health(None) is None
    assert probe_health(localcloud_like + "/") == "ok"
