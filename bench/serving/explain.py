"""`./dev bench explain`: what a "Why this breed?" heat map costs, against a fresh localcloud.

For a small dataset photo and a phone-sized JPEG, in interleaved rounds: one classification (the reference),
the heat map through the endpoint with the page's pool of 4 and with one call at a time (the pool's gain),
and the heat map through the Lambda function. Prints calls, bytes sent, wall-time medians and ratios side by
side, and writes the numbers to bench/results/.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import keep_results
from bench.serving.bench_model import PHONE_JPEG, SMALL_SOURCE, make_phone_jpeg
from services.core.clients import CloudSettings
from services.serving.explanation import WORKERS, Explanation, ExplanationService
from tests.clouds import running_localcloud

ENDPOINT, FUNCTION = "dog-breed-classifier", "dog-breed-predict"


def run(rounds: int) -> dict[str, Any]:
    small = sorted(SMALL_SOURCE.iterdir())[0]
    photos = {"small": small.read_bytes(), "phone": make_phone_jpeg(small, PHONE_JPEG).read_bytes()}
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), endpoint=ENDPOINT) as cloud:
        settings = CloudSettings(endpoint_url=cloud.endpoint_url, region="us-east-1", profile=None)
        service = ExplanationService(settings=settings, boto3_session=cloud.session())
        endpoint, function = service.identify("endpoint", ENDPOINT), service.identify("lambda", FUNCTION)
        ways: dict[str, Callable[[bytes], Explanation | None]] = {
            "one classification (endpoint)": lambda data: classify(service, data),
            f"heat map, endpoint, {WORKERS} at a time": lambda data: service.explain(
                data, via="endpoint", target=ENDPOINT, model=endpoint
            ),
            "heat map, endpoint, 2 at a time": lambda data: service.explain(
                data, via="endpoint", target=ENDPOINT, model=endpoint, workers=2
            ),
            "heat map, endpoint, 1 at a time": lambda data: service.explain(
                data, via="endpoint", target=ENDPOINT, model=endpoint, workers=1
            ),
            f"heat map, Lambda, {WORKERS} at a time": lambda data: service.explain(
                data, via="lambda", target=FUNCTION, model=function
            ),
            "heat map, Lambda, 1 at a time": lambda data: service.explain(
                data, via="lambda", target=FUNCTION, model=function, workers=1
            ),
        }
        for data in photos.values():  # warm: the Lambda environment, the endpoint's first requests
            for way in ways.values():
                way(data)
        samples: dict[str, dict[str, list[float]]] = {name: {way: [] for way in ways} for name in photos}
        last: dict[str, dict[str, Explanation]] = {name: {} for name in photos}
        for _ in range(rounds):
            for name, data in photos.items():
                for way, call in ways.items():
                    start = time.perf_counter()
                    result = call(data)
                    samples[name][way].append(time.perf_counter() - start)
                    if result is not None:
                        assert result.complete, result.error
                        last[name][way] = result
    return {
        name: {
            way: {
                "median_s": round(statistics.median(times), 3),
                "calls": last[name][way].cost.calls if way in last[name] else 1,
                "sent_kb": round(last[name][way].cost.sent_bytes / 1000, 1) if way in last[name] else None,
                "notional_usd": last[name][way].cost.usd if way in last[name] else None,
                "n": len(times),
            }
            for way, times in ways_times.items()
        }
        for name, ways_times in samples.items()
    }


def classify(service: ExplanationService, data: bytes) -> None:
    """The reference: one call, as the Predict page makes for the breed itself."""
    service.predict_image(data, via="endpoint", target=ENDPOINT)


def _print(results: dict[str, Any]) -> None:
    for name, ways in results.items():
        reference = ways["one classification (endpoint)"]["median_s"]
        print(f"\n{name} photo")
        print(f"  {'':38} {'calls':>5} {'sent':>9} {'median':>8} {'× one call':>10} {'notional':>11}")
        for way, row in ways.items():
            sent = f"{row['sent_kb']:.0f} KB" if row["sent_kb"] is not None else "-"
            usd = f"${row['notional_usd']:.6f}" if row["notional_usd"] is not None else "-"
            ratio = row["median_s"] / reference
            print(f"  {way:38} {row['calls']:>5} {sent:>9} {row['median_s']:>7.2f}s {ratio:>9.1f}× {usd:>11}")
        pooled, serial = (ways[f"heat map, endpoint, {WORKERS} at a time"], ways["heat map, endpoint, 1 at a time"])
        print(f"  pool of {WORKERS} against one at a time: {serial['median_s'] / pooled['median_s']:.2f}× faster")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench explain", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the ways and photos")
    args = parser.parse_args(argv)
    results = run(args.rounds)
    _print(results)
    out = keep_results("explain", results)
    print(f"wrote {out}")
