"""`./dev bench capture`: what data capture costs serving, side by side in one run (target: p50 with capture at
100 % at most 1.05× the p50 without).

Starts a fresh localcloud and deploys the default model three times: one endpoint capturing every request and
answer at 100 %, its files put every 0.2 s (300 times as often as SageMaker's default minute, so that the writing
falls inside the timed blocks and is counted: a harsher test than production), and two without capture. For a
phone-sized JPEG and a small photo it times InvokeEndpoint through boto3 in short blocks, the endpoints' order
rotating each round (against the load of a shared machine drifting), with the same pause after every block, long
enough for the writer to put what a block with capture queued, so that a block without capture never pays for
it. The second endpoint without capture against the first (an A/A comparison) is the noise floor the on/off
ratio is read against. It checks that every request sent with capture was captured. On a busy machine those round
trips are noisy, so it also times, in-process and free of that noise, what capture adds to a request
(DataCapture.offer: draw the sample, queue the bodies) and what the writer spends per record (encoding it).
Prints a table and writes the numbers to bench/results/.
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

from bench import keep_results
from bench.serving.bench_model import PHONE_JPEG, SMALL_SOURCE, make_phone_jpeg
from localcloud.auth.keys import root_identity
from localcloud.cloud import LocalCloud
from localcloud.core.bootstrap import MODEL_NAME, default_bucket
from localcloud.core.registry import Call
from localcloud.sagemaker.capture.capture_config import CaptureSettings, capture_record
from tests.clouds import SAGEMAKER_TRUST, running_localcloud

DEFAULT_ENDPOINT, OFF, ON, OFF_TOO = "dog-breed-classifier", "bench-capture-off", "bench-capture-on", "bench-off-too"
FLUSH_S = 0.2
PREFIX = "bench-capture"
# 4 vCPUs: at localcloud's 2 vCPUs a core, each instance runs on both of a 2-core machine's cores, so no
# endpoint is luckier in where it runs (on one core each, the one that shares its core with the client loses).
INSTANCE_TYPE = "ml.m5.xlarge"


def _deploy(cloud: Any, name: str, capture: dict[str, Any] | None) -> None:
    sagemaker = cloud.client("sagemaker")
    variant = {"VariantName": "AllTraffic", "ModelName": MODEL_NAME, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{**variant, "InstanceType": INSTANCE_TYPE}],
        **({"DataCaptureConfig": capture} if capture else {}),
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _captured(cloud: Any, bucket: str) -> int:
    s3, lines = cloud.client("s3"), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/"):
        for item in page.get("Contents", []):
            lines += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().count(b"\n")
    return lines


def _in_process(images: dict[str, Path], capture: dict[str, Any]) -> dict[str, Any]:
    """Median microseconds of DataCapture.offer (the request path's share) and of encoding one record (the
    writer's), per image, in a localcloud built in-process whose writer waits an hour before it writes."""
    settings = CaptureSettings.of({"DataCaptureConfig": capture})
    assert settings is not None
    answer = json.dumps({"predictions": [{"label": "n02085620-Chihuahua", "score": 0.9}] * 5}).encode()
    timings: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(Path(tmp), "http://127.0.0.1:1", capture_flush_s=3600)
        call = Call("us-east-1", root_identity("AKIABENCHCAPTURE0000"))  # the writer puts full files early
        cloud.s3.op_CreateBucket({"Bucket": default_bucket("us-east-1")}, call)
        role = {"RoleName": "bench-capture", "AssumeRolePolicyDocument": json.dumps(SAGEMAKER_TRUST)}
        role_arn = cloud.iam.op_CreateRole(role, call)["Role"]["Arn"]
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
        cloud.iam.op_PutRolePolicy(
            {"RoleName": "bench-capture", "PolicyName": "put", "PolicyDocument": json.dumps(allow)}, call
        )
        model = {"ExecutionRoleArn": role_arn, "ModelArn": "arn:aws:sagemaker:us-east-1:0:model/bench"}
        capturing = cloud.sagemaker.capture
        capturing.configure("bench", settings, {"AllTraffic": model})
        for label, path in images.items():
            data = path.read_bytes()
            offers, encodings = [], []
            for _ in range(250):  # 250 of each photo stay under the queue's 64 MB: none is dropped
                start = time.perf_counter()
                capturing.offer("bench", "AllTraffic", (data, "image/jpeg"), (answer, "application/json"))
                offers.append((time.perf_counter() - start) * 1e6)
                start = time.perf_counter()
                capture_record(settings, time.time(), (data, "image/jpeg"), (answer, "application/json"), None)
                encodings.append((time.perf_counter() - start) * 1e6)
            timings[label] = {
                "offer_us": round(float(np.median(offers)), 1),
                "encode_us": round(float(np.median(encodings)), 1),
            }
        capturing.forget("bench")  # what it holds is never written: the bench ends first
    return timings


def run(rounds: int, per_round: int) -> dict[str, Any]:
    small = sorted(SMALL_SOURCE.iterdir())[0]
    images = {"phone": make_phone_jpeg(small, PHONE_JPEG), "small": small}
    args = ["--capture-flush-seconds", str(FLUSH_S)]
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), args, endpoint=DEFAULT_ENDPOINT) as cloud:
        cloud.client("sagemaker").delete_endpoint(EndpointName=DEFAULT_ENDPOINT)  # only the two compared serve
        bucket = default_bucket("us-east-1")
        capture = {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{bucket}/{PREFIX}",
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
        _deploy(cloud, OFF, None)
        _deploy(cloud, ON, capture)
        _deploy(cloud, OFF_TOO, None)
        order = [OFF, ON, OFF_TOO]
        for name in order:
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

            for endpoint in order:  # warm them all, and the writer
                call(endpoint)
            sent += 1
            samples: dict[str, list[float]] = {name: [] for name in order}
            for i in range(rounds):
                for endpoint in order[i % 3 :] + order[: i % 3]:
                    samples[endpoint] += [call(endpoint) for _ in range(per_round)]
                    time.sleep(FLUSH_S + 0.3)  # the writer puts a block's captures before the next block
                sent += per_round
            off, on, off_too = (float(np.percentile(samples[e], 50)) for e in order)
            results["images"][label] = {
                "bytes": len(data),
                "off_p50_ms": round(off, 2),
                "on_p50_ms": round(on, 2),
                "off_p90_ms": round(float(np.percentile(samples[OFF], 90)), 2),
                "on_p90_ms": round(float(np.percentile(samples[ON], 90)), 2),
                "ratio_p50": round(on / off, 3),
                "aa_ratio_p50": round(off_too / off, 3),
                "n_each": len(samples[OFF]),
            }
        time.sleep(FLUSH_S + 1)
        results["captured"], results["sent_with_capture"] = _captured(cloud, bucket), sent
    results["in_process"] = _in_process(images, capture)
    return results


def _print(results: dict[str, Any]) -> None:
    print(
        f"{'image':<7} {'bytes':>9} {'off p50':>9} {'on p50':>9} {'on/off':>7} {'A/A':>6} {'off p90':>9} "
        f"{'on p90':>9}  n each"
    )
    for label, r in results["images"].items():
        print(
            f"{label:<7} {r['bytes']:>9} {r['off_p50_ms']:>9.2f} {r['on_p50_ms']:>9.2f} {r['ratio_p50']:>7.3f} "
            f"{r['aa_ratio_p50']:>6.3f} "
            f"{r['off_p90_ms']:>9.2f} {r['on_p90_ms']:>9.2f}  {r['n_each']}"
        )
    print(
        f"target: on/off p50 <= 1.05 (A/A: a second endpoint without capture against the first, the noise "
        f"floor); captured {results['captured']} of the {results['sent_with_capture']} requests "
        f"sent with capture at 100 % (files put every {results['flush_s']:g} s)"
    )
    for label, r in results["in_process"].items():
        print(
            f"in-process, {label}: capture adds {r['offer_us']} µs to a request (median); the writer spends "
            f"{r['encode_us']} µs encoding its record, off the request path"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench capture", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of one block per endpoint, in ABBA order")
    parser.add_argument("--per-round", type=int, default=10, help="calls per endpoint per block")
    args = parser.parse_args(argv)
    results = run(args.rounds, args.per_round)
    _print(results)
    out = keep_results("capture", results)
    print(f"wrote {out}")
