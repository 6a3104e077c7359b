"""An endpoint instance runs at most SAGEMAKER_MODEL_SERVER_WORKERS invocations at once (the inference toolkit's
setting; by default the cores the instance holds); the others wait their turn and are answered."""

from __future__ import annotations

import json
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.sagemaker.fleet import Fleet
from localcloud.sagemaker.model_server import model_server_workers

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
