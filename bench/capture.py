"""`./dev bench capture`: what data capture costs serving, side by side in one run (target: p50 with capture at
100 % at most 1.05× the p50 without).

Starts a fresh localcloud whose captures are written every second and deploys the default model twice: one
endpoint without capture, one capturing every request and answer at 100 %. For a phone-sized JPEG and a small
photo it times InvokeEndpoint through boto3 in interleaved rounds, off then on; after each round with capture on
it waits until the writer has put that round's captures in S3, so that the round without capture never pays for
them. Last it checks that every request of the rounds with capture was captured. Prints a table and writes the
numbers to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from botocore.config import Config

from bench.bench_model import PHONE_JPEG, SMALL_SOURCE, make_phone_jpeg
from localcloud.core.bootstrap import MODEL_NAME, default_bucket
from tests.clouds import running_localcloud

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_ENDPOINT, OFF, ON = "dog-breed-classifier", "bench-capture-off", "bench-capture-on"
FLUSH_S = 1.0
PREFIX = "bench-capture"


def _deploy(cloud: Any, name: str, capture: dict[str, Any] | None) -> None:
    sagemaker = cloud.client("sagemaker")
    variant = {"VariantName": "AllTraffic", "ModelName": MODEL_NAME, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}],
        **({"DataCaptureConfig": capture} if capture else {}),
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _captured(cloud: Any, bucket: str) -> int:
    s3, lines = cloud.client("s3"), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/"):
        for item in page.get("Contents", []):
            lines += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().count(b"\n")
    return lines


def run(rounds: int, per_round: int) -> dict[str, Any]:
    small = sorted(SMALL_SOURCE.iterdir())[0]
    images = {"phone": make_phone_jpeg(small, PHONE_JPEG), "small": small}
    args = ["--capture-flush-seconds", str(FLUSH_S)]
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), args, endpoint=DEFAULT_ENDPOINT) as cloud:
        cloud.client("sagemaker").delete_endpoint(EndpointName=DEFAULT_ENDPOINT)  # two instances, one core each
        bucket = default_bucket("us-east-1")
        capture = {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{bucket}/{PREFIX}",
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
        _deploy(cloud, OFF, None)
        _deploy(cloud, ON, capture)
        for name in (OFF, ON):
            assert cloud.wait_endpoint(name)["EndpointStatus"] == "InService", name
        runtime = cloud.client("sagemaker-runtime", config=Config(retries={"mode": "standard", "max_attempts": 1}))
        results: dict[str, Any] = {"images": {}, "flush_s": FLUSH_S}
        sent = 0
        for label, path in images.items():
            data = path.read_bytes()

            def call(endpoint: str, data: bytes = data) -> float:
                start = time.perf_counter()
                runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/jpeg", Body=data)["Body"].read()
                return (time.perf_counter() - start) * 1000

            for endpoint in (OFF, ON):  # warm both, and the writer
                call(endpoint)
            sent += 1
            samples: dict[str, list[float]] = {OFF: [], ON: []}
            for _ in range(rounds):
                for endpoint in (OFF, ON):
                    samples[endpoint] += [call(endpoint) for _ in range(per_round)]
                sent += per_round
                time.sleep(FLUSH_S + 0.5)  # the writer puts this round's captures before the next round
            off, on = (float(np.percentile(samples[e], 50)) for e in (OFF, ON))
            results["images"][label] = {
                "bytes": len(data),
                "off_p50_ms": round(off, 2),
                "on_p50_ms": round(on, 2),
                "off_p90_ms": round(float(np.percentile(samples[OFF], 90)), 2),
                "on_p90_ms": round(float(np.percentile(samples[ON], 90)), 2),
                "ratio_p50": round(on / off, 3),
                "n_each": len(samples[OFF]),
            }
        time.sleep(FLUSH_S + 1)
        results["captured"], results["sent_with_capture"] = _captured(cloud, bucket), sent
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"{'image':<7} {'bytes':>9} {'off p50':>9} {'on p50':>9} {'on/off':>7} {'off p90':>9} {'on p90':>9}  n each")
    for label, r in results["images"].items():
        print(
            f"{label:<7} {r['bytes']:>9} {r['off_p50_ms']:>9.2f} {r['on_p50_ms']:>9.2f} {r['ratio_p50']:>7.3f} "
            f"{r['off_p90_ms']:>9.2f} {r['on_p90_ms']:>9.2f}  {r['n_each']}"
        )
    print(
        f"target: on/off p50 <= 1.05; captured {results['captured']} of the {results['sent_with_capture']} requests "
        f"sent with capture at 100 % (flushed every {results['flush_s']:g} s)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench capture", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds, off then on")
    parser.add_argument("--per-round", type=int, default=20, help="calls per endpoint per round")
    args = parser.parse_args(argv)
    results = run(args.rounds, args.per_round)
    _print(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"capture-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
