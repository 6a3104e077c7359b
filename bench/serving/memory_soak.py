"""`./dev bench memory-soak`: does localcloud's memory stay put under mixed load?

A fresh localcloud with the default endpoint and function; two callers take turns for `--minutes`: photos
from the test split through InvokeEndpoint and through the Lambda function (base64 events), with a
ListEndpoints and a PutMetricData between them. Every `--every` seconds the proportional set size of the
server and of its whole process tree is read, and its resident set size: PSS (and the unique set size) move
when other programs that map the same libraries start or end (a test run beside the soak), RSS does not, so
RSS's slope is the tree's own growth. Reports the first and last samples, the peak, and the slopes of
least-squares lines through the samples after the first minute (MB per hour; the target is no growth).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench import keep_results
from bench.serving.prediction import ENDPOINT, FUNCTION, memory_report
from tests.channels import DATASET
from tests.clouds import running_localcloud


def _photos(limit: int) -> list[bytes]:
    return [p.read_bytes() for p in sorted((DATASET / "test").glob("*/*"))[:limit]]


def _load(cloud: Any, photos: list[bytes], stop: threading.Event, counts: dict[str, int], lane: int) -> None:
    """One caller: endpoint and Lambda in turn over the photos, with a listing and a metric between."""
    runtime, lambda_ = cloud.client("sagemaker-runtime"), cloud.client("lambda")
    sagemaker, cloudwatch = cloud.client("sagemaker"), cloud.client("cloudwatch")
    for i, photo in enumerate(itertools.cycle(photos[lane::2])):
        if stop.is_set():
            return
        runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/jpeg", Body=photo)["Body"].read()
        event = json.dumps({"image": base64.b64encode(photo).decode()}).encode()
        lambda_.invoke(FunctionName=FUNCTION, Payload=event)["Payload"].read()
        if i % 10 == 0:
            sagemaker.list_endpoints()
            cloudwatch.put_metric_data(Namespace="Bench/Soak", MetricData=[{"MetricName": "Calls", "Value": 1.0}])
        counts[f"lane{lane}"] += 2


def run(minutes: float, every: float, photos: int) -> dict[str, Any]:
    pictures = _photos(photos)
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), endpoint=ENDPOINT) as cloud:
        stop, counts = threading.Event(), {"lane0": 0, "lane1": 0}
        callers = [threading.Thread(target=_load, args=(cloud, pictures, stop, counts, n)) for n in (0, 1)]
        start = time.monotonic()
        for caller in callers:
            caller.start()
        try:
            while time.monotonic() - start < minutes * 60:
                time.sleep(every)
                report = memory_report(cloud.process.pid, cloud.health())
                samples.append(
                    {
                        "minute": round((time.monotonic() - start) / 60, 2),
                        "tree_pss_mb": report["tree_pss_mb"],
                        "server_pss_mb": report["server_pss_mb"],
                        "tree_rss_mb": report["tree_rss_mb"],
                        "server_rss_mb": report["server_rss_mb"],
                        "processes": len(report["processes"]),
                        "calls": sum(counts.values()),
                    }
                )
                print(json.dumps(samples[-1]), flush=True)
        finally:
            stop.set()
            for caller in callers:
                caller.join()
        server_rss = psutil.Process(cloud.process.pid).memory_info().rss / 2**20
    settled = [s for s in samples if s["minute"] >= 1] or samples
    minutes_axis = np.array([s["minute"] for s in settled])

    def slope(key: str) -> float | None:
        if len(settled) < 3:
            return None
        return round(float(np.polyfit(minutes_axis, [s[key] for s in settled], 1)[0]) * 60, 1)

    return {
        "minutes": minutes,
        "calls": sum(counts.values()),
        "first": samples[0] if samples else None,
        "last": samples[-1] if samples else None,
        "peak_tree_pss_mb": max((s["tree_pss_mb"] for s in samples), default=None),
        "tree_slope_mb_per_hour": slope("tree_pss_mb"),
        "server_slope_mb_per_hour": slope("server_pss_mb"),
        "tree_rss_slope_mb_per_hour": slope("tree_rss_mb"),
        "server_rss_slope_mb_per_hour": slope("server_rss_mb"),
        "server_rss_mb_at_end": round(server_rss, 1),
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench memory-soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--every", type=float, default=30, help="seconds between memory samples")
    parser.add_argument("--photos", type=int, default=40, help="test photos the callers cycle through")
    args = parser.parse_args(argv)
    results = run(args.minutes, args.every, args.photos)
    print(
        f"{results['calls']} calls in {args.minutes:g} min; tree PSS {results['first']['tree_pss_mb']} -> "
        f"{results['last']['tree_pss_mb']} MB (peak {results['peak_tree_pss_mb']}), server "
        f"{results['first']['server_pss_mb']} -> {results['last']['server_pss_mb']} MB; slope after the first "
        f"minute: tree {results['tree_slope_mb_per_hour']} MB/h, server {results['server_slope_mb_per_hour']} MB/h; "
        f"resident set size {results['first']['tree_rss_mb']} -> {results['last']['tree_rss_mb']} MB, slope tree "
        f"{results['tree_rss_slope_mb_per_hour']} MB/h, server {results['server_rss_slope_mb_per_hour']} MB/h"
    )
    keep_results("memory-soak", results)


if __name__ == "__main__":
    main()
