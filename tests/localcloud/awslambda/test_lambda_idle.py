"""Idle execution environments are reclaimed (localcloud/awslambda/pool.py), as AWS reclaims them after a while:
a burst's extra environments do not keep their memory for as long as localcloud runs, and the steady load's
environment, taken first because it is the newest, stays warm."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from localcloud.awslambda.pool import Lease, VersionPool
from tests.clouds import running_localcloud
from tests.localcloud.awslambda.lambda_helpers import create_function
from tests.localcloud.conftest import lambda_role

SLOW = """
import time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "ok"
"""


class FakeEnvironment:
    """What the pool asks of an environment: whether it runs, its generation, and stopping it."""

    def __init__(self) -> None:
        self.alive, self.generation, self.initialization_type, self.stopped = True, 0, "on-demand", False

    def stop(self) -> None:
        self.alive, self.stopped = False, True


def test_the_oldest_idle_environments_are_stopped_and_the_newest_kept() -> None:
    pool = VersionPool()
    older, newer = FakeEnvironment(), FakeEnvironment()
    for env in (older, newer):
        pool.give_back(Lease(env, False, 0, 0))  # idle since now, in this order
        time.sleep(0.01)
    pool.reap(newer.idle_since)  # idle since before the newer one finished
    assert older.stopped and not newer.stopped
    assert pool.take().env is newer


def test_a_burst_s_environments_go_after_the_idle_limit(tmp_path) -> None:
    with running_localcloud(tmp_path, ["--no-defaults", "--lambda-idle-seconds", "1.5"]) as cloud:
        client = cloud.client("lambda")
        create_function(client, "idle", SLOW, lambda_role(cloud))
        start = threading.Barrier(3)

        def call(_: int) -> None:
            start.wait()
            client.invoke(FunctionName="idle", Payload=b'{"sleep": 0.5}')

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(call, range(3)))  # three at once: three environments
        assert len(cloud.health()["lambda_environments"]["idle"]) == 3
        deadline = time.monotonic() + 10
        while cloud.health()["lambda_environments"].get("idle") and time.monotonic() < deadline:
            client.invoke(FunctionName="idle", Payload=b"{}")  # a steady caller keeps one warm for a while
            if len(cloud.health()["lambda_environments"]["idle"]) == 1:
                break
            time.sleep(0.2)
        assert len(cloud.health()["lambda_environments"]["idle"]) == 1  # the two the steady load did not use
        time.sleep(3)  # no calls at all
        assert cloud.health()["lambda_environments"].get("idle", []) == []
