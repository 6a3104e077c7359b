"""`./dev bench prediction`: the prediction path's speed targets, measured side by side in one run.

Starts a fresh localcloud in a temp dir and, for a phone-sized JPEG (~1.5 MP) and a small
photo, times in interleaved rounds: two bare models in-process (the issue's reference, an independent
pipeline around the same ONNX file; and the product's own `predict_bytes`, the floor no served path can
beat), InvokeEndpoint through boto3, and a warm Lambda Invoke through boto3; ratios against both.
Then Lambda cold starts, endpoint throughput at concurrency 4 against the reference's sequential
throughput, and localcloud's resident memory with one endpoint instance and one warm Lambda environment.
Prints a table and writes the numbers to bench/results/. Last, what SigV4 verification costs a request
(bench/serving/verification.py): the verifier alone, and the endpoint round trip with it on and off; and the
server-side cost of a signed request on its own (signature, authorisation, metrics).

The endpoint instance gets as many cores as the reference uses (`--vcpus-per-core 1`: the ml.m5.large's
2 vCPUs are this machine's 2 cores), so the ratios compare the same model on the same share of the machine;
`--vcpus-per-core 2` gives it one core, as `./dev bench scaling` does.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from botocore.config import Config
from PIL import Image

from bench import keep_results
from bench.serving import verification
from bench.serving.bench_model import DEFAULT_ONNX, PHONE_JPEG, SMALL_SOURCE, IndependentPipeline, make_phone_jpeg
from classifier.serving.model import DogBreedModel
from tests.clouds import running_localcloud

ENDPOINT, FUNCTION = "dog-breed-classifier", "dog-breed-predict"


def _ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 2),
        "p99_ms": round(float(np.percentile(samples, 99)), 2),
        "n": len(samples),
    }


def run(
    rounds: int,
    per_round: int,
    cold_starts: int,
    throughput_requests: int,
    vcpus_per_core: int = 1,
    concurrent_requests: int = 1000,
) -> dict[str, Any]:
    small = sorted(SMALL_SOURCE.iterdir())[0]
    images = {"phone": make_phone_jpeg(small, PHONE_JPEG), "small": small}
    model = DogBreedModel.load(DEFAULT_ONNX)
    independent = IndependentPipeline(DEFAULT_ONNX)
    args = ["--vcpus-per-core", str(vcpus_per_core)]
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), args, endpoint=ENDPOINT) as cloud:
        config = Config(max_pool_connections=8, retries={"mode": "standard", "max_attempts": 1})
        runtime = cloud.client("sagemaker-runtime", config=config)
        lambda_ = cloud.client("lambda", config=config)
        results: dict[str, Any] = {"images": {}}
        for label, path in images.items():
            data = path.read_bytes()
            payload = json.dumps({"image": base64.b64encode(data).decode()}).encode()
            paths: dict[str, Callable[[], Any]] = {
                "independent": lambda data=data: independent.predict_bytes(data),
                "reference": lambda data=data: model.predict_bytes(data),
                "endpoint": lambda data=data: runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, ContentType="image/jpeg", Body=data
                )["Body"].read(),
                "lambda_warm": lambda payload=payload: lambda_.invoke(FunctionName=FUNCTION, Payload=payload)[
                    "Payload"
                ].read(),
            }
            for call in paths.values():  # warm every path before timing
                call()
            samples: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(rounds):
                for name, call in paths.items():
                    samples[name] += [_ms(call) for _ in range(per_round)]
            summary = {name: _summary(values) for name, values in samples.items()}
            for name in ("reference", "endpoint", "lambda_warm"):
                summary[name]["ratio_p50"] = round(summary[name]["p50_ms"] / summary["independent"]["p50_ms"], 2)
            for name in ("endpoint", "lambda_warm"):
                summary[name]["ratio_own_code_p50"] = round(summary[name]["p50_ms"] / summary["reference"]["p50_ms"], 2)
            with Image.open(path) as im:
                summary["size"] = f"{im.width}x{im.height}, {len(data) / 1024:.0f} KB"
            results["images"][label] = summary

        small_data = images["small"].read_bytes()
        small_payload = json.dumps({"image": base64.b64encode(small_data).decode()}).encode()
        cold = []
        for i in range(cold_starts):
            lambda_.update_function_configuration(
                FunctionName=FUNCTION, Environment={"Variables": {"ENDPOINT_NAME": ENDPOINT, "BENCH_ROUND": str(i)}}
            )
            cold.append(_ms(lambda: lambda_.invoke(FunctionName=FUNCTION, Payload=small_payload)))
        results["lambda_cold_start"] = _summary(cold)

        phone_data = images["phone"].read_bytes()
        start = time.perf_counter()
        for _ in range(throughput_requests):
            model.predict_bytes(phone_data)
        sequential = throughput_requests / (time.perf_counter() - start)

        def invoke_phone(_: int) -> None:
            runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/jpeg", Body=phone_data)

        with ThreadPoolExecutor(4) as pool:
            start = time.perf_counter()
            list(pool.map(invoke_phone, range(throughput_requests)))
            concurrent = throughput_requests / (time.perf_counter() - start)
        results["throughput_phone"] = {
            "reference_sequential_rps": round(sequential, 1),
            "endpoint_concurrency4_rps": round(concurrent, 1),
            "ratio": round(concurrent / sequential, 2),
        }
        lambda_.invoke(FunctionName=FUNCTION, Payload=small_payload)  # keep one warm environment
        health = cloud.health()
        results["localcloud_rss_mb"] = health["rss_mb"]
        results["processes"] = {
            "endpoint_instances": health["endpoint_instances"],
            "lambda_environments": health["lambda_environments"],
        }
        results["memory"] = memory_report(cloud.process.pid, health)
        # After the memory: 4 callers at once start 4 Lambda environments.
        phone_payload = json.dumps({"image": base64.b64encode(phone_data).decode()}).encode()
        results["concurrency4_phone"] = {
            "endpoint": at_concurrency(
                lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/jpeg", Body=phone_data)[
                    "Body"
                ].read(),
                4,
                concurrent_requests,
            ),
            "lambda_warm": at_concurrency(
                lambda: lambda_.invoke(FunctionName=FUNCTION, Payload=phone_payload)["Payload"].read(),
                4,
                concurrent_requests,
            ),
        }
    results["verification"] = verification.run(images["phone"].read_bytes(), rounds=rounds, per_round=per_round)
    return results


def at_concurrency(call: Callable[[], Any], callers: int, requests: int) -> dict[str, float]:
    """p50 and p99 of `requests` calls made by `callers` at once, after a warm-up round (for Lambda: one warm
    environment per caller), and p99 / p50 (target: at most 1.5)."""
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(lambda _: call(), range(callers * 2)))
        samples = list(pool.map(lambda _: _ms(call), range(requests)))
    summary = _summary(samples)
    summary["p99_over_p50"] = round(summary["p99_ms"] / summary["p50_ms"], 2)
    return summary


def memory_report(server_pid: int, health: dict[str, Any]) -> dict[str, Any]:
    """Proportional set size (shared pages split between the processes that map them) of localcloud's whole
    process tree, process by process, with what the server imported: the issue's measure of memory. Also the
    resident set size, which counts a process's pages whoever else maps them: PSS and the unique set size both
    move when other programs mapping the same libraries start or end, RSS does not."""
    roles = {server_pid: "server"}
    roles.update(
        {pid: f"endpoint instance ({name})" for name, pids in health["endpoint_instances"].items() for pid in pids}
    )
    roles.update(
        {pid: f"Lambda environment ({name})" for name, pids in health["lambda_environments"].items() for pid in pids}
    )
    server = psutil.Process(server_pid)
    rows = []
    for process in [server, *server.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        role = roles.get(process.pid, " ".join(process.cmdline()[1:3])[:40] or process.name())
        rows.append(
            {
                "pid": process.pid,
                "role": role,
                "pss_mb": round(info.pss / 2**20, 1),
                "rss_mb": round(info.rss / 2**20, 1),
            }
        )
    return {
        "processes": rows,
        "tree_pss_mb": round(sum(r["pss_mb"] for r in rows), 1),
        "tree_rss_mb": round(sum(r["rss_mb"] for r in rows), 1),
        "server_pss_mb": rows[0]["pss_mb"] if rows else None,
        "server_rss_mb": rows[0]["rss_mb"] if rows else None,
        "server_imported": health.get("imported", []),
    }


def _print(results: dict[str, Any]) -> None:
    print("p50 ratios against the independent bare pipeline (targets: endpoint <= 1.0, Lambda <= 1.3) and against")
    print("the product's own predict_bytes in-process ('reference', the floor)")
    print(f"{'image':<7} {'path':<12} {'p50 ms':>8} {'p99 ms':>8} {'×indep':>7} {'×own':>6}")
    for label, summary in results["images"].items():
        print(f"{label:<7} ({summary['size']})")
        for name in ("independent", "reference", "endpoint", "lambda_warm"):
            row = summary[name]
            ratio = f"{row.get('ratio_p50', 1.0):.2f}"
            own = f"{row['ratio_own_code_p50']:.2f}" if "ratio_own_code_p50" in row else ""
            print(f"{'':<7} {name:<12} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {ratio:>7} {own:>6}")
    cold = results["lambda_cold_start"]
    print(f"Lambda cold start (round trip): p50 {cold['p50_ms']:.0f} ms, max-ish p99 {cold['p99_ms']:.0f} ms")
    t = results["throughput_phone"]
    print(
        f"Phone JPEG throughput: reference sequential {t['reference_sequential_rps']} img/s, "
        f"endpoint at concurrency 4 {t['endpoint_concurrency4_rps']} img/s ({t['ratio']}×)"
    )
    for name, row in results["concurrency4_phone"].items():
        print(
            f"Phone JPEG, 4 callers at once, {name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
            f"p99/p50 {row['p99_over_p50']} (target <= 1.5)"
        )
    print(f"localcloud RSS with 1 endpoint instance + 1 warm Lambda environment: {results['localcloud_rss_mb']} MB")
    memory = results["memory"]
    print(
        f"localcloud PSS after the runs (targets: tree < 350 MB, server < 150 MB): tree {memory['tree_pss_mb']} MB, "
        f"server {memory['server_pss_mb']} MB"
    )
    for row in memory["processes"]:
        print(f"  {row['pid']:>7} {row['role']:<44} PSS {row['pss_mb']:>6.1f} MB  RSS {row['rss_mb']:>6.1f} MB")
    print("  the server imported: " + ", ".join(memory["server_imported"]))
    v = results["verification"]
    alone = v["verifier_median_us"]
    print(
        f"SigV4 verification alone (median): InvokeEndpoint, phone JPEG {alone['invoke_endpoint_phone_us']} µs, "
        f"ListEndpoints {alone['list_endpoints_us']} µs"
    )
    evaluation = v["policy_evaluation_median"]
    print(
        f"IAM policy evaluation for a role session (median): least privilege {evaluation['least_privilege_us']} µs, "
        f"the managed policies {evaluation['managed_policies_us']} µs"
    )
    cost = v["server_cost_median_us"]
    print(
        f"Server-side cost of a signed InvokeEndpoint as a role session (median, target < 500 µs): "
        f"{cost['request_path_less_model_us']} µs through the request path less the model "
        f"({cost['request_path_less_model_cpu_us']} µs of CPU); of it: signature "
        f"{cost['signature_us']} µs, authorisation {cost['authorisation_us']} µs, metrics {cost['metrics_us']} µs, "
        f"event history {cost['event_history_us']} µs"
    )
    trip = v["endpoint_phone_p50_ms"]
    print(
        f"Endpoint round trip, phone JPEG, in-process localcloud (p50, n={v['n_each']} each, interleaved): "
        f"verified {trip['verified']} ms, unverified {trip['unverified']} ms, difference {v['difference_us']} µs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench prediction", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds over the three paths")
    parser.add_argument("--per-round", type=int, default=20, help="calls per path per round")
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--throughput-requests", type=int, default=60)
    parser.add_argument(
        "--concurrent-requests",
        type=int,
        default=1000,
        help="calls per path with 4 callers at once: p99 is then the 10th slowest, not the 2nd of 200",
    )
    parser.add_argument(
        "--vcpus-per-core", type=int, default=1, help="localcloud's option: 1 gives the instance the reference's cores"
    )
    args = parser.parse_args(argv)
    results = run(
        args.rounds,
        args.per_round,
        args.cold_starts,
        args.throughput_requests,
        args.vcpus_per_core,
        args.concurrent_requests,
    )
    results["vcpus_per_core"] = args.vcpus_per_core
    _print(results)
    out = keep_results("prediction", results)
    print(f"wrote {out}")
