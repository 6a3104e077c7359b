"""Lambda concurrency through real boto3: reserved and provisioned concurrency, their rules and AWS's errors,
throttling (exact counts), provisioned environments (kept warm when their count changes), and the AWS/Lambda
metrics.

Calls that must overlap wait on a gate file the test creates, so who runs and who is throttled does not
depend on timing. The bare localcloud has an account limit of 10, of which 1 stays unreserved.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.localcloud.awslambda.lambda_helpers import create_function, metric
from tests.localcloud.conftest import assert_shape

ROLE = "arn:aws:iam::000000000000:role/test"
GATED = """
import os, time
INIT = os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]  # read at init, as a handler's module code would

def lambda_handler(event, context):
    if event.get("arrived"):
        open(os.path.join(event["arrived"], context.aws_request_id), "w").close()
    gate = event.get("gate")
    deadline = time.time() + 20
    while gate and not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.01)
    return {"init": INIT, "version": context.function_version, "arn": context.invoked_function_arn,
            "pid": os.getpid(), "greeting": os.environ.get("GREETING")}
"""


@pytest.fixture(scope="module")
def client(cloud):
    return cloud.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=30, max_pool_connections=32))


@pytest.fixture(scope="module")
def cloudwatch(cloud):
    return cloud.client("cloudwatch")


def create(client, name: str, greeting: str = "v1") -> None:
    create_function(client, name, GATED, ROLE, Environment={"Variables": {"GREETING": greeting}})


def error_of(call) -> dict:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response


def invoke(client, name: str, qualifier: str | None = None, **event) -> tuple[dict, dict, str]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **kwargs)
    return response, json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"]).decode()


def burst(client, name: str, callers: int, running: int, tmp: Path, qualifier: str | None = None) -> list:
    """`callers` simultaneous calls, held in their handlers until `running` of them are in and the others
    have been refused: what runs and what is throttled does not depend on timing."""
    results: list = []
    lock = threading.Lock()
    gate, arrived = tmp / "gate", tmp / "arrived"
    arrived.mkdir()

    def one() -> None:
        try:
            answer = invoke(client, name, qualifier, gate=str(gate), arrived=str(arrived))
            outcome: object = answer
        except ClientError as error:
            outcome = error.response
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


def test_reserved_concurrency_and_account_settings(client):
    create(client, "reserve")
    settings = client.get_account_settings()
    assert_shape(client, "GetAccountSettings", settings)
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 10
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
    assert client.get_function_concurrency(FunctionName="reserve").get("ReservedConcurrentExecutions") is None

    too_many = error_of(
        lambda: client.put_function_concurrency(FunctionName="reserve", ReservedConcurrentExecutions=10)
    )
    assert too_many["Error"]["Code"] == "InvalidParameterValueException"
    assert too_many["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [1]."
    )
    put = client.put_function_concurrency(FunctionName="reserve", ReservedConcurrentExecutions=9)
    assert_shape(client, "PutFunctionConcurrency", put)
    assert put["ReservedConcurrentExecutions"] == 9
    got = client.get_function_concurrency(FunctionName="reserve")
    assert_shape(client, "GetFunctionConcurrency", got)
    assert got["ReservedConcurrentExecutions"] == 9
    assert client.get_function(FunctionName="reserve")["Concurrency"] == {"ReservedConcurrentExecutions": 9}
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1

    create(client, "reserve-other")
    other = error_of(
        lambda: client.put_function_concurrency(FunctionName="reserve-other", ReservedConcurrentExecutions=1)
    )
    assert "below its minimum value of [1]" in other["Error"]["Message"]
    client.delete_function_concurrency(FunctionName="reserve")
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
    client.delete_function(FunctionName="reserve")
    client.delete_function(FunctionName="reserve-other")


def test_burst_beyond_reserved_runs_exactly_the_reservation(client, cloudwatch, tmp_path):
    create(client, "burst")
    client.put_function_concurrency(FunctionName="burst", ReservedConcurrentExecutions=3)
    results = burst(client, "burst", callers=12, running=3, tmp=tmp_path)
    ran = [r for r in results if isinstance(r, tuple)]
    throttled = [r for r in results if isinstance(r, dict)]
    assert len(ran) == 3 and len(throttled) == 9
    for refusal in throttled:
        assert refusal["Error"]["Code"] == "TooManyRequestsException"
        assert refusal["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert refusal["Error"]["Message"] == "Rate Exceeded."
        assert refusal["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert metric(cloudwatch, "Throttles", {"FunctionName": "burst"}, 9) == 9
    assert metric(cloudwatch, "Invocations", {"FunctionName": "burst"}, 3) == 3
    assert metric(cloudwatch, "ConcurrentExecutions", {"FunctionName": "burst"}, 3, "Maximum") == 3

    client.put_function_concurrency(FunctionName="burst", ReservedConcurrentExecutions=0)
    refusal = error_of(lambda: invoke(client, "burst"))
    assert refusal["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    client.delete_function(FunctionName="burst")


def test_the_shared_pool_throttles_unreserved_functions(client, tmp_path):
    create(client, "hog")
    create(client, "free")
    client.put_function_concurrency(FunctionName="hog", ReservedConcurrentExecutions=7)
    pool = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert pool == 3
    results = burst(client, "free", callers=pool + 2, running=pool, tmp=tmp_path)
    throttled = [r for r in results if isinstance(r, dict)]
    assert len(results) - len(throttled) == pool and len(throttled) == 2
    assert {r["Reason"] for r in throttled} == {"ConcurrentInvocationLimitExceeded"}
    assert invoke(client, "hog")[1]["greeting"] == "v1"  # its reservation is its own
    client.delete_function(FunctionName="hog")
    client.delete_function(FunctionName="free")


def test_provisioned_concurrency_rules(client):
    create(client, "rules")
    version = client.publish_version(FunctionName="rules")["Version"]
    client.create_alias(FunctionName="rules", Name="latest", FunctionVersion="$LATEST")
    client.create_alias(FunctionName="rules", Name="live", FunctionVersion=version)

    def refused(qualifier: str, count: int = 1) -> dict:
        return error_of(
            lambda: client.put_provisioned_concurrency_config(
                FunctionName="rules", Qualifier=qualifier, ProvisionedConcurrentExecutions=count
            )
        )["Error"]

    unpublished = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    assert refused("$LATEST") == {"Code": "InvalidParameterValueException", "Message": unpublished}
    assert refused("latest")["Message"] == unpublished
    assert refused("9")["Code"] == "ResourceNotFoundException"
    assert refused("nope")["Message"].startswith("Cannot find alias arn: arn:aws:lambda:us-east-1:")
    assert refused("live", 10)["Message"].endswith("below its minimum value of [1].")

    client.put_function_concurrency(FunctionName="rules", ReservedConcurrentExecutions=2)
    assert refused("live", 3) == {
        "Code": "InvalidParameterValueException",
        "Message": "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
        "for function",
    }
    put = client.put_provisioned_concurrency_config(
        FunctionName="rules", Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert_shape(client, "PutProvisionedConcurrencyConfig", put)
    assert put["Status"] == "IN_PROGRESS" and put["RequestedProvisionedConcurrentExecutions"] == 2
    below = error_of(lambda: client.put_function_concurrency(FunctionName="rules", ReservedConcurrentExecutions=1))
    assert below["Error"]["Code"] == "InvalidParameterValueException"
    assert "less than the function's total provisioned concurrency (2)" in below["Error"]["Message"]
    assert refused(version) == {
        "Code": "ResourceConflictException",
        "Message": "Version is pointed by a Provisioned Concurrency alias",
    }

    missing = error_of(lambda: client.get_provisioned_concurrency_config(FunctionName="rules", Qualifier=version))
    assert missing["Error"] == {
        "Code": "ProvisionedConcurrencyConfigNotFoundException",
        "Message": "No Provisioned Concurrency Config found for this function",
    }
    listing = client.list_provisioned_concurrency_configs(FunctionName="rules")
    assert_shape(client, "ListProvisionedConcurrencyConfigs", listing)
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listing["ProvisionedConcurrencyConfigs"]] == ["live"]
    client.delete_provisioned_concurrency_config(FunctionName="rules", Qualifier="live")
    assert client.list_provisioned_concurrency_configs(FunctionName="rules")["ProvisionedConcurrencyConfigs"] == []
    gone = error_of(lambda: client.delete_provisioned_concurrency_config(FunctionName="rules", Qualifier="live"))
    assert gone["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "No Provisioned Concurrency Config found for this function",
    }
    client.delete_function(FunctionName="rules")


def test_provisioned_environments_are_ready_and_warm(cloud, client, cloudwatch, tmp_path):
    create(client, "warm")
    version = client.publish_version(FunctionName="warm")["Version"]
    client.create_alias(FunctionName="warm", Name="live", FunctionVersion=version)
    client.put_provisioned_concurrency_config(FunctionName="warm", Qualifier="live", ProvisionedConcurrentExecutions=1)
    deadline = time.monotonic() + 60
    config = client.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    while config["Status"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
        config = client.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    assert_shape(client, "GetProvisionedConcurrencyConfig", config)
    assert config["Status"] == "READY"
    assert config["AllocatedProvisionedConcurrentExecutions"] == config["AvailableProvisionedConcurrentExecutions"] == 1
    ready_pids = cloud.health()["lambda_environments"]["warm"]
    assert len(ready_pids) == 1  # initialised before any call

    response, first, log = invoke(client, "warm", "live")
    assert response["ExecutedVersion"] == version
    assert first["init"] == "provisioned-concurrency" and first["pid"] == ready_pids[0]
    assert first["arn"].endswith(":function:warm:live") and first["version"] == version
    assert "Init Duration" not in log  # the first call is warm

    # Two at once: one on the provisioned environment, one spilling over to an on-demand cold start.
    results = burst(client, "warm", callers=2, running=2, tmp=tmp_path, qualifier="live")
    assert sorted(r[1]["init"] for r in results) == ["on-demand", "provisioned-concurrency"]
    live = {"FunctionName": "warm", "Resource": "warm:live"}
    assert metric(cloudwatch, "ProvisionedConcurrencyInvocations", live, 2) == 2
    assert metric(cloudwatch, "ProvisionedConcurrencySpilloverInvocations", live, 1) == 1
    assert metric(cloudwatch, "ProvisionedConcurrentExecutions", live, 1, "Maximum") == 1
    assert metric(cloudwatch, "ProvisionedConcurrencyUtilization", live, 1.0, "Maximum") == 1.0
    executed = {**live, "ExecutedVersion": version}
    assert metric(cloudwatch, "Invocations", executed, 3) == 3
    client.delete_function(FunctionName="warm")
    assert "warm" not in cloud.health()["lambda_environments"]


# changing provisioned concurrency ----------------------------------------------------------
# Changing the count keeps the environments already warm, as AWS does: a larger count starts only the difference
# (IN_PROGRESS until it has run its init, then READY), a smaller one stops the surplus, idle environments first
# and busy ones only after their invocation. Who is busy and who is starting never depends on timing: calls wait in
# the handler for a gate file, and a new environment's init waits for another (INIT_GATE), both made by the test.
RESIZED_NAME = "resize"
RESIZED = """
import os, time

def _wait(path):
    deadline = time.time() + 20
    while path and not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.01)

_wait(os.environ["INIT_GATE"])  # the init of a new environment waits until the test lets it finish
INIT = os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]

def lambda_handler(event, context):
    open(os.path.join(event["arrived"], str(os.getpid())), "w").close()
    _wait(event["gate"])
    return {"init": INIT, "pid": os.getpid()}
"""


class Held:
    """An invocation held in its handler until `release`; `pid` is the environment it runs in."""

    def __init__(self, client, folder: Path) -> None:
        self.gate, arrived = folder / "gate", folder / "arrived"
        arrived.mkdir(parents=True)
        event = json.dumps({"gate": str(self.gate), "arrived": str(arrived)}).encode()
        self.answer: dict = {}

        def call() -> None:
            self.answer = client.invoke(FunctionName=RESIZED_NAME, Qualifier="live", Payload=event, LogType="Tail")

        self.thread = threading.Thread(target=call)
        self.thread.start()
        self.pid = int(until(lambda: next(arrived.iterdir(), None), "the invocation in its handler").name)

    def release(self) -> dict:
        self.gate.touch()
        self.thread.join()
        return json.loads(self.answer["Payload"].read())


def until(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    pytest.fail(f"never happened: {what}")


def resize_config(client) -> dict:
    return client.get_provisioned_concurrency_config(FunctionName=RESIZED_NAME, Qualifier="live")


def ready(client, count: int) -> None:
    def done() -> bool:
        status = resize_config(client)
        return status["Status"] == "READY" and status["AllocatedProvisionedConcurrentExecutions"] == count

    until(done, f"{count} environments READY")


def resize_to(client, count: int) -> dict:
    return client.put_provisioned_concurrency_config(
        FunctionName=RESIZED_NAME, Qualifier="live", ProvisionedConcurrentExecutions=count
    )


def warm_pids(cloud) -> set[int]:
    """The function's idle environments (a busy one is not listed)."""
    return set(cloud.health()["lambda_environments"].get(RESIZED_NAME, []))


def test_changing_the_count_keeps_the_warm_environments(cloud, client, tmp_path):
    init_gate = tmp_path / "init-gate"
    init_gate.touch()
    create_function(client, RESIZED_NAME, RESIZED, ROLE, Environment={"Variables": {"INIT_GATE": str(init_gate)}})
    version = client.publish_version(FunctionName=RESIZED_NAME)["Version"]
    client.create_alias(FunctionName=RESIZED_NAME, Name="live", FunctionVersion=version)
    resize_to(client, 2)
    ready(client, 2)
    before = warm_pids(cloud)
    assert len(before) == 2

    # Up to 3 while a call runs: the two stay, the third starts (its init held), and calls stay warm meanwhile.
    init_gate.unlink()
    first = Held(client, tmp_path / "first")
    growing = resize_to(client, 3)
    assert growing["Status"] == "IN_PROGRESS" and growing["RequestedProvisionedConcurrentExecutions"] == 3
    assert resize_config(client)["AllocatedProvisionedConcurrentExecutions"] == 2  # the new one has not run its init
    during = Held(client, tmp_path / "during")
    assert {first.pid, during.pid} == before
    assert during.release() == {"init": "provisioned-concurrency", "pid": during.pid}
    assert "Init Duration" not in base64.b64decode(during.answer["LogResult"]).decode()  # not a cold start
    init_gate.touch()
    ready(client, 3)
    assert first.release()["pid"] == first.pid
    after = warm_pids(cloud)
    assert len(after) == 3 and before < after

    # Down to 1 while two calls run: the idle one stops at once; of the busy ones, one stops when its call ends.
    busy = [Held(client, tmp_path / "busy-1"), Held(client, tmp_path / "busy-2")]
    idle = after - {b.pid for b in busy}
    shrinking = resize_to(client, 1)
    assert shrinking["Status"] == "IN_PROGRESS" and shrinking["AllocatedProvisionedConcurrentExecutions"] == 2
    assert warm_pids(cloud).isdisjoint(idle)
    assert [b.release()["pid"] for b in busy] == [b.pid for b in busy]  # neither was stopped mid-call
    ready(client, 1)
    (kept,) = warm_pids(cloud)
    assert kept in {b.pid for b in busy}
    client.delete_function(FunctionName=RESIZED_NAME)
