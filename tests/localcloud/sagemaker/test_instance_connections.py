"""localcloud keeps connections to an endpoint's instances open: requests in turn share one, and a kept
connection that the model server dropped (it restarted) is replaced without failing the request. An instance runs
at most SAGEMAKER_MODEL_SERVER_WORKERS invocations at once (the inference toolkit's setting; by default the cores
the instance holds); the others wait their turn and are answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.sagemaker import fleet as fleet_module
from localcloud.sagemaker.fleet import Fleet
from localcloud.sagemaker.model_server import Turns, model_server_workers
from tests.localcloud.conftest import ECHO_MODEL


def echo_fleet(tmp_path: Path) -> Fleet:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(ECHO_MODEL)
    (model_dir / "greeting.txt").write_text("hello")
    fleet = Fleet("echo", "AllTraffic", model_dir, 1, tmp_path / "logs", {})
    fleet.start()
    return fleet


def length_of(fleet: Fleet, body: bytes) -> int:
    answer = fleet.invoke(body, "text/plain", "application/json")
    assert (answer.status, answer.content_type) == (200, "application/json")
    return json.loads(answer.body)["length"]


def test_requests_in_turn_share_one_connection(tmp_path: Path):
    fleet = echo_fleet(tmp_path)
    try:
        assert [length_of(fleet, b"x" * n) for n in range(6)] == list(range(6))
        (instance,) = fleet._instances
        assert instance.connections_opened == 1
        bad = fleet.invoke(b"bad", "text/plain", "application/json")  # an error answer keeps it open too
        assert (bad.status, bad.body) == (400, b"bad input, says the handler")
        assert length_of(fleet, b"abc") == 3 and instance.connections_opened == 1
    finally:
        fleet.stop()


def test_a_kept_connection_survives_a_model_server_restart(tmp_path: Path):
    fleet = echo_fleet(tmp_path)
    try:
        assert length_of(fleet, b"before") == 6
        (instance,) = fleet._instances
        # The model server restarts in place: same socket, a new process; the kept connection is dead.
        instance.process.kill()
        instance.process.wait()
        Path(instance.socket_path).unlink()
        command = [sys.executable, "-m", "localcloud.sagemaker.model_server", "--model-dir", str(fleet.model_dir)]
        instance.process = subprocess.Popen(
            [*command, "--socket", instance.socket_path],
            stdout=subprocess.PIPE,
            env={"PYTHONPATH": str(fleet_module._PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
            cwd=fleet.model_dir,
        )
        instance.wait_ready()
        assert length_of(fleet, b"after") == 5  # not an error: a fresh connection took the request
        assert instance.connections_opened == 2
        assert length_of(fleet, b"again") == 5 and instance.connections_opened == 2
    finally:
        fleet.stop()


# Each invocation says how many were inside predict_fn at once while it was (it waits a moment to overlap).
COUNTING_MODEL = textwrap.dedent("""
    import json, threading, time
    lock, inside = threading.Lock(), [0]

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        with lock:
            inside[0] += 1
            peak = inside[0]
        time.sleep(0.3)
        with lock:
            peak = max(peak, inside[0])
            inside[0] -= 1
        return {"inside": peak}
""")


def peaks(tmp_path: Path, environment: dict[str, str], calls: int = 4) -> list[int]:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(COUNTING_MODEL)
    fleet = Fleet("counting", "AllTraffic", model_dir, 1, tmp_path / "logs", environment)
    fleet.start()
    try:
        with ThreadPoolExecutor(calls) as pool:
            answers = list(pool.map(lambda _: fleet.invoke(b"x", "text/plain", "application/json"), range(calls)))
    finally:
        fleet.stop()
    assert all(a.status == 200 for a in answers)
    return [json.loads(a.body)["inside"] for a in answers]


def test_one_worker_answers_every_call_one_at_a_time(tmp_path: Path):
    assert peaks(tmp_path, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}) == [1, 1, 1, 1]


def test_four_workers_run_the_calls_together(tmp_path: Path):
    assert max(peaks(tmp_path, {"SAGEMAKER_MODEL_SERVER_WORKERS": "4"})) > 1


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("0", None), ("-2", None), ("two", None), ("", None)])
def test_the_setting_or_the_cores_held(value: str, expected: int | None):
    cores = len(os.sched_getaffinity(0))
    assert model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": value}) == (expected or cores)
    assert model_server_workers({}) == cores


def test_a_freed_place_goes_to_the_longest_waiter_not_to_a_newcomer():
    """One place, three waiters queued in order; its holder leaves and at once asks again, as a caller's next
    request does: it comes after the three (a semaphore would let it take the place straight back)."""
    turns, order = Turns(1), []

    def wait_then_enter(caller: int) -> None:
        with turns:
            order.append(caller)

    turns.__enter__()
    waiters = []
    for caller in range(3):
        waiters.append(threading.Thread(target=wait_then_enter, args=(caller,)))
        waiters[-1].start()
        while len(turns._waiting) < caller + 1:  # queued before the next one starts
            time.sleep(0.001)
    turns.__exit__(None, None, None)
    with turns:
        order.append("again")
    for waiter in waiters:
        waiter.join()
    assert order == [0, 1, 2, "again"]
