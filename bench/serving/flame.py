"""`./dev bench flame`: py-spy flame graphs of both prediction hops, kept in bench/results/ as SVG files.

localcloud serves the endpoint (InvokeEndpoint, phone JPEG) and then the Lambda function (Invoke, the same photo
as the original project's base64 event) from one caller, while py-spy samples the server and its children (the
endpoint instance, the Lambda environment): what each hop spends beside the model, to read before trimming it.
Needs py-spy (requirements-dev.txt) and leave to trace the processes this user starts.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config

from bench import RESULTS, keep_results
from bench.serving.bench_model import PHONE_JPEG, SMALL_SOURCE, make_phone_jpeg
from bench.serving.prediction import ENDPOINT, FUNCTION
from tests.clouds import running_localcloud


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        sys.exit("py-spy is not installed: pip install -r requirements-dev.txt")
    return found


def record(pid: int, call: Callable[[], Any], seconds: int, rate: int, out: Path) -> int:
    """Call `call` over and over while py-spy samples `pid` and its children for `seconds`; the calls made."""
    command = [py_spy(), "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    spy = subprocess.Popen([*command, "--duration", str(seconds), "--rate", str(rate), "--output", str(out)])
    calls = 0
    while spy.poll() is None:
        call()
        calls += 1
    if spy.returncode != 0:
        sys.exit(f"py-spy failed (exit {spy.returncode}): it needs leave to trace this user's processes")
    return calls


def run(seconds: int, rate: int) -> dict[str, Any]:
    photo = make_phone_jpeg(sorted(SMALL_SOURCE.iterdir())[0], PHONE_JPEG).read_bytes()
    payload = json.dumps({"image": base64.b64encode(photo).decode()}).encode()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), endpoint=ENDPOINT) as cloud:
        config = Config(retries={"mode": "standard", "max_attempts": 1})
        runtime, lambda_ = cloud.client("sagemaker-runtime", config=config), cloud.client("lambda", config=config)
        hops: dict[str, Callable[[], Any]] = {
            "endpoint": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/jpeg", Body=photo)[
                "Body"
            ].read(),
            "lambda": lambda: lambda_.invoke(FunctionName=FUNCTION, Payload=payload)["Payload"].read(),
        }
        for name, call in hops.items():
            for _ in range(5):  # warm: a cold start is not what this graph is for
                call()
            out = RESULTS / f"flame-{name}-{stamp}.svg"
            calls = record(cloud.process.pid, call, seconds, rate, out)
            results[name] = {"svg": str(out), "calls": calls, "seconds": seconds}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench flame", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="sampling time per hop")
    parser.add_argument("--rate", type=int, default=250, help="samples a second")
    args = parser.parse_args(argv)
    results = run(args.seconds, args.rate)
    for name, found in results.items():
        print(f"{name}: {found['calls']} calls in {found['seconds']} s, flame graph {found['svg']}")
    keep_results("flame", results)
