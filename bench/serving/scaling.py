"""`./dev bench scaling`: endpoint autoscaling's speed targets, on a fresh localcloud serving the real model.

1. Throughput at saturation of 2 instances against 1, in interleaved rounds (UpdateEndpointWeightsAndCapacities
   switches between them), `--callers` boto3 callers sending a photo without pause; with the CPU each process
   spent per request (the instances, localcloud's server, this process's boto3 callers), since on a small
   machine the server and the callers share the cores the instances are pinned to, and the ceiling for 2
   instances that this leaves: machine cores / (instance + server + callers CPU per request), against one
   instance alone on its core (1 / its CPU per request).
2. The start time of one instance: from UpdateEndpointWeightsAndCapacities to CurrentInstanceCount 2.
3. Target tracking with a short period (`--metric-period-seconds`): sustained load above target until the
   second instance serves (alarm periods plus instance start), then a light load until the scale-in; p99
   latency in each window against the steady state before it, and every failed request counted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from botocore.config import Config

from bench import keep_results
from bench.serving.bench_model import PHONE_JPEG, SMALL_SOURCE, make_phone_jpeg
from localcloud.core.process import LocalCloudProcess
from tests.clouds import running_localcloud
from tests.localcloud.autoscaling.scaling_helpers import Load, resource, target

ENDPOINT = "dog-breed-classifier"
RESOURCE = resource(ENDPOINT)


def _load(cloud: LocalCloudProcess, photo: bytes, callers: int, pause_s: float) -> Load:
    """`callers` sending the photo to the endpoint, each `pause_s` apart, through one client without retries."""
    config = Config(max_pool_connections=callers + 2, retries={"mode": "standard", "max_attempts": 1})
    return Load(cloud, ENDPOINT, callers, pause_s, body=photo, content_type="image/jpeg", config=config)


def _p(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 1),
        "p99_ms": round(float(np.percentile(samples, 99)), 1),
        "n": len(samples),
    }


def _wait(cloud: LocalCloudProcess, current: int, timeout: float = 300.0) -> None:
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        if d["EndpointStatus"] == "InService" and d["ProductionVariants"][0]["CurrentInstanceCount"] == current:
            return
        time.sleep(0.02)
    raise TimeoutError(f"the endpoint never served with {current} instances")


def _resize(cloud: LocalCloudProcess, count: int) -> float:
    """Seconds from the request to `count` instances serving."""
    start = time.perf_counter()
    cloud.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )
    _wait(cloud, count)
    return time.perf_counter() - start


def _cpu_seconds(cloud: LocalCloudProcess) -> dict[str, float]:
    """CPU seconds (user + system) so far of localcloud's server, its endpoint instances together, and this
    process (the boto3 callers)."""
    assert cloud.process is not None
    pids = {pid for pids in cloud.health()["endpoint_instances"].values() for pid in pids}
    server = psutil.Process(cloud.process.pid)
    out = {"server": 0.0, "instances": 0.0, "callers": 0.0}
    for role, process in [("server", server), ("callers", psutil.Process())] + [
        ("instances", psutil.Process(pid)) for pid in pids
    ]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            out[role] += times.user + times.system
    return out


def throughput(cloud: LocalCloudProcess, photo: bytes, callers: int, rounds: int, seconds: float) -> dict[str, Any]:
    rates: dict[int, list[float]] = {1: [], 2: []}
    cpu_ms: dict[int, dict[str, list[float]]] = {n: {"server": [], "instances": [], "callers": []} for n in (1, 2)}
    starts = []
    for _ in range(rounds):
        for count in (1, 2):
            took = _resize(cloud, count)
            if count == 2:
                starts.append(took)
            load = _load(cloud, photo, callers, 0.0)
            time.sleep(1.0)  # warm: connections open, queues full
            before, begin = _cpu_seconds(cloud), time.time()
            time.sleep(seconds)
            done = len(load.between(begin, time.time()))
            after = _cpu_seconds(cloud)
            load.stop()
            rates[count].append(done / seconds)
            for role in after:
                cpu_ms[count][role].append((after[role] - before[role]) * 1000 / max(done, 1))
    one, two = float(np.median(rates[1])), float(np.median(rates[2]))
    per_request = {n: {role: round(float(np.median(v)), 2) for role, v in roles.items()} for n, roles in cpu_ms.items()}
    cores = len(os.sched_getaffinity(0))
    ceiling = cores * 1000 / sum(per_request[2].values())  # every process shares the machine's cores
    one_core = 1000 / per_request[2]["instances"]  # one instance alone on its core: the model's own rate
    return {
        "rps_1_instance": round(one, 1),
        "rps_2_instances": round(two, 1),
        "ratio": round(two / one, 2),
        "cpu_ms_per_request": {f"{n}_instance{'s' if n > 1 else ''}": v for n, v in per_request.items()},
        "ceiling_rps_2_instances_on_this_machine": round(ceiling, 1),
        # What this machine allows 2 instances against 1 given the CPU each process needs per request, whatever
        # else runs on it (other people's work takes cores from both the instances and this ratio).
        "ceiling_ratio": round(ceiling / one_core, 2),
        "rounds": {str(k): [round(r, 1) for r in v] for k, v in rates.items()},
        "instance_start_s": {"median": round(float(np.median(starts)), 2), "all": [round(s, 2) for s in starts]},
    }


def autoscaling(cloud: LocalCloudProcess, photo: bytes, callers: int, peak_rps: float, period: float) -> dict[str, Any]:
    _resize(cloud, 1)
    time.sleep(20 * period)  # the throughput rounds' datapoints leave the alarms' windows (AlarmLow looks at 15)
    scaling = cloud.client("application-autoscaling")
    scaling.register_scalable_target(**target(ENDPOINT, MinCapacity=1, MaxCapacity=2))
    target_value = peak_rps * 0.5 * period  # AWS's guidance: peak RPS x 0.5 x the period
    scaling.put_scaling_policy(
        PolicyName="bench",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target_value,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
        **target(ENDPOINT),
    )
    sagemaker = cloud.client("sagemaker")
    busy = _load(cloud, photo, callers, 0.0)
    began = time.time()
    _wait(cloud, 2)
    served = time.time()
    time.sleep(5 * period)
    busy.stop()
    activities = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RESOURCE)
    out = activities["ScalingActivities"][0]
    out_start, out_end = out["StartTime"].timestamp(), out["EndTime"].timestamp()

    light = _load(cloud, photo, 1, 0.5)
    quiet_began = time.time()
    _wait(cloud, 1)
    time.sleep(3 * period)
    light.stop()
    scale_in = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RESOURCE)[
        "ScalingActivities"
    ][0]
    in_start, in_end = scale_in["StartTime"].timestamp(), scale_in["EndTime"].timestamp()
    scaling.deregister_scalable_target(**target(ENDPOINT))
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    return {
        "target_value": target_value,
        "load_to_second_instance_serving_s": round(served - began, 2),
        "alarm_fired_after_s": round(out_start - began, 2),
        "instance_start_in_scale_out_s": round(out_end - out_start, 2),
        "steady_1_instance": _p(busy.between(began + period, out_start)),
        "during_scale_out": _p(busy.between(out_start, out_end + period)),
        "steady_2_instances": _p(busy.between(out_end + period, time.time())),
        "light_steady_2_instances": _p(light.between(quiet_began, in_start)),
        "during_scale_in": _p(light.between(in_start, in_end + period)),
        "light_after_scale_in": _p(light.between(in_end + period, time.time())),
        "scale_in_after_quiet_s": round(in_start - quiet_began, 2),
        "activities": [(a["Description"], a["StatusCode"]) for a in (out, scale_in)],
        "failed_requests": len(busy.failures) + len(light.failures),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    small = sorted(SMALL_SOURCE.iterdir())[0]
    photo = (make_phone_jpeg(small, PHONE_JPEG) if args.image == "phone" else small).read_bytes()
    period = ["--metric-period-seconds", str(args.period)]
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), period, endpoint=ENDPOINT) as cloud:
        results = {"period_s": args.period, "callers": args.callers, "image": f"{args.image}, {len(photo)} bytes"}
        results["throughput"] = throughput(cloud, photo, args.callers, args.rounds, args.seconds)
        peak = results["throughput"]["rps_1_instance"]
        results["autoscaling"] = autoscaling(cloud, photo, args.callers, peak, args.period)
        return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--period", type=float, default=1.0, help="localcloud's --metric-period-seconds")
    parser.add_argument("--callers", type=int, default=6, help="concurrent callers at saturation")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved 1-vs-2-instance rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per throughput round")
    parser.add_argument(
        "--image", choices=("small", "phone"), default="small", help="a dataset photo (~5 KB) or a ~1.5 MP phone JPEG"
    )
    results = run(parser.parse_args(argv))
    print(json.dumps(results, indent=2))
    out = keep_results("scaling", results)
    print(f"wrote {out}")
