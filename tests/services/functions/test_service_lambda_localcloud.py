"""The Lambda services through real boto3 against a bare localcloud: configuration and endpoint change,
versions and weighted aliases (shares over many calls), concurrency rules and AWS's refusals, provisioned
READY and a warm first call, a burst beyond reserved concurrency seen as throttles in the metrics.

Overlapping calls wait on a gate file, so who runs and who is throttled does not depend on timing. The bare
localcloud's account limit is 10, of which 1 stays unreserved.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from services.core.access import Caller
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.functions.concurrency_settings import ConcurrencyService
from services.functions.invocation_metrics import LambdaMetricsService
from services.functions.lambda_functions import LambdaFunctionService
from services.functions.test_events import LambdaTestService
from tests.localcloud.conftest import deploy_echo, function_zip, lambda_role

OPERATOR = Caller("ops", "operator")
VIEWER = Caller(None, "viewer")
HANDLER = """
import os, time
INIT = os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]

def lambda_handler(event, context):
    print("event keys", sorted(event))
    if event.get("arrived"):
        open(os.path.join(event["arrived"], context.aws_request_id), "w").close()
    gate, deadline = event.get("gate"), time.time() + 20
    while gate and not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.01)
    return {"statusCode": 200, "body": {"init": INIT, "version": context.function_version,
            "endpoint": os.environ.get("ENDPOINT_NAME")}}
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(tmp_path_factory.mktemp("lambda-services"), ["--no-defaults"]).start()
    role = lambda_role(process)
    process.client("lambda").create_function(
        FunctionName="classify",
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"ENDPOINT_NAME": "dog-breed-classifier", "KEEP": "me"}},
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def services(cloud):
    session = cloud.session()
    settings = CloudSettings(endpoint_url=cloud.endpoint_url, region="us-east-1", profile=None)
    clients = {"boto3_session": session}
    return (
        LambdaFunctionService(settings, **clients),
        ConcurrencyService(settings, **clients),
        LambdaMetricsService(settings, **clients),
        LambdaTestService(settings, **clients),
    )


def refused(call) -> str:
    with pytest.raises(ServiceError) as error:
        call()
    return error.value.message


def test_overview_and_changing_the_endpoint(cloud, services):
    functions, *_ = services
    (info,) = [f for f in functions.functions() if f.name == "classify"]
    assert (info.runtime, info.memory_mb, info.timeout_s, info.endpoint_name) == (
        "python3.12",
        256,
        30,
        "dog-breed-classifier",
    )
    assert info.role_arn.endswith(":role/test") and info.code_size_bytes > 0 and info.last_modified is not None
    assert "no endpoint 'nowhere'" in refused(lambda: functions.set_endpoint(OPERATOR, "classify", "nowhere"))
    assert "not a SageMaker endpoint name" in refused(lambda: functions.set_endpoint(OPERATOR, "classify", "a b"))
    assert "Only an operator" in refused(lambda: functions.set_endpoint(VIEWER, "classify", "echo"))
    deploy_echo(cloud, "echo")
    changed = functions.set_endpoint(OPERATOR, "classify", "echo")
    assert changed.environment == {"ENDPOINT_NAME": "echo", "KEEP": "me"}


def test_versions_aliases_and_routing_shares(cloud, services):
    functions, _, _, tester = services
    first = functions.publish_version(OPERATOR, "classify", "first")
    cloud.client("lambda").update_function_configuration(
        FunctionName="classify", Environment={"Variables": {"ENDPOINT_NAME": "echo", "KEEP": "two"}}
    )
    second = functions.publish_version(OPERATOR, "classify", "second")
    assert [v.version for v in functions.versions("classify")] == ["$LATEST", first.version, second.version]

    assert "reserves for version numbers" in refused(
        lambda: functions.save_alias(OPERATOR, "classify", "123", first.version)
    )
    assert "outside 0-1" in refused(
        lambda: functions.save_alias(OPERATOR, "classify", "live", second.version, extra_version="1", extra_weight=1.5)
    )
    assert "has no version 9" in refused(lambda: functions.save_alias(OPERATOR, "classify", "live", "9"))
    functions.save_alias(OPERATOR, "classify", "live", first.version)
    moved = functions.save_alias(
        OPERATOR, "classify", "live", second.version, extra_version=first.version, extra_weight=0.3
    )
    assert (moved.version, moved.extra_version, moved.extra_weight) == (second.version, first.version, 0.3)
    message = refused(lambda: functions.delete_version(OPERATOR, "classify", first.version))
    assert "alias live still sends calls to it" in message

    # 300 calls through the alias: the first version gets about 30% (binomial sd 8 calls; bounds at ±5 sd).
    executed = Counter(tester.invoke("classify", "{}", "live").executed_version for _ in range(300))
    assert set(executed) == {first.version, second.version}
    assert 50 <= executed[first.version] <= 130

    functions.save_alias(OPERATOR, "classify", "live", second.version)  # routing removed
    assert functions.aliases("classify")[0].extra_version is None
    functions.delete_version(OPERATOR, "classify", first.version)
    assert [v.version for v in functions.versions("classify")] == ["$LATEST", second.version]


def test_concurrency_rules_provisioned_ready_and_warm_first_call(services):
    functions, concurrency, _, tester = services
    account = concurrency.account()
    assert (account.limit, account.minimum_unreserved) == (10, 1)
    message = refused(lambda: concurrency.set_reserved(OPERATOR, "classify", 10))
    assert "below its minimum value of [1]" in message and "at most 9" in message
    assert concurrency.set_reserved(OPERATOR, "classify", 3).reserved == 3
    assert concurrency.account().unreserved == 7

    assert "cannot be applied to unpublished function versions" in refused(
        lambda: concurrency.set_provisioned(OPERATOR, "classify", "$LATEST", 1)
    )
    assert "should not be greater than the reservedConcurrentExecution" in refused(
        lambda: concurrency.set_provisioned(OPERATOR, "classify", "live", 4)
    )
    assert "has no version or alias 'canary'" in refused(
        lambda: concurrency.set_provisioned(OPERATOR, "classify", "canary", 1)
    )
    config = concurrency.set_provisioned(OPERATOR, "classify", "live", 2)
    assert config.requested == 2 and config.hourly_usd == pytest.approx(2 * 0.25 * 3600 * 0.0000041667)
    assert "below the function's provisioned concurrency (2 in all)" in refused(
        lambda: concurrency.set_reserved(OPERATOR, "classify", 1)
    )
    statuses = {config.status}
    deadline = time.monotonic() + 60
    while not config.settled and time.monotonic() < deadline:
        time.sleep(0.1)
        config = concurrency.provisioned("classify", "live")
        statuses.add(config.status)
    assert config.status == "READY" and config.allocated == 2
    assert statuses <= {"IN_PROGRESS", "READY"}

    first = tester.invoke("classify", "{}", "live")
    assert json.loads(first.payload)["body"]["init"] == "provisioned-concurrency"
    assert first.report is not None and first.report.init_ms is None  # no cold start
    assert first.report.memory_mb == 256 and "event keys" in first.log_tail

    assert "has no version or alias 'nope'" in refused(lambda: tester.invoke("classify", "{}", "nope"))
    concurrency.remove_provisioned(OPERATOR, "classify", "live")
    assert concurrency.provisioned("classify", "live") is None
    assert concurrency.set_reserved(OPERATOR, "classify", None).reserved is None


def burst(cloud, name: str, callers: int, running: int, tmp: Path) -> list:
    """`callers` simultaneous calls (no retries: the load), held in their handlers until `running` are in and
    the others have been refused."""
    client = cloud.client(
        "lambda", config=Config(retries={"max_attempts": 0}, read_timeout=30, max_pool_connections=32)
    )
    gate, arrived = tmp / "gate", tmp / "arrived"
    arrived.mkdir()
    results: list = []
    lock = threading.Lock()

    def one() -> None:
        try:
            event = json.dumps({"gate": str(gate), "arrived": str(arrived)}).encode()
            outcome: object = client.invoke(FunctionName=name, Payload=event)["StatusCode"]
        except ClientError as error:
            outcome = error.response.get("Reason")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(callers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(results) >= callers - running and len(list(arrived.iterdir())) >= running:
                break
        time.sleep(0.01)
    gate.touch()
    for t in threads:
        t.join()
    return results


def test_a_burst_beyond_reserved_concurrency_shows_as_throttles(cloud, services, tmp_path):
    _, concurrency, metrics, tester = services
    concurrency.set_reserved(OPERATOR, "classify", 2)
    results = burst(cloud, "classify", callers=6, running=2, tmp=tmp_path)
    assert Counter(results) == {200: 2, "ReservedFunctionConcurrentInvocationLimitExceeded": 4}
    deadline = time.monotonic() + 10
    while True:  # metrics and logs land a moment after the calls, as on AWS
        seen = metrics.metrics("classify", minutes=15)
        landed = seen.total("throttles") >= 4 and seen.total("invocations") >= 2 and seen.cold_starts
        if landed and (seen.series["concurrent"].peak() or 0) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert seen.total("throttles") == 4
    assert seen.series["concurrent"].peak() == 2
    assert seen.total("invocations") >= 2 and seen.series["duration_p99"].values
    assert seen.cold_starts and all(c.init_ms > 0 for c in seen.cold_starts) and seen.cold_start_note is None

    concurrency.set_reserved(OPERATOR, "classify", 0)
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in refused(lambda: tester.invoke("classify", "{}"))
    concurrency.set_reserved(OPERATOR, "classify", None)
