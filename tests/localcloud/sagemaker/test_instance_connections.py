"""localcloud keeps connections to an endpoint's instances open: requests in turn share one, and a kept
connection that the model server dropped (it restarted) is replaced without failing the request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from localcloud.sagemaker import fleet as fleet_module
from localcloud.sagemaker.fleet import Fleet
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
