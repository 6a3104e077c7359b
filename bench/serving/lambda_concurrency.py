"""`./dev bench lambda`: Lambda concurrency's speed targets, measured on a fresh localcloud.

1. The first invocation through an alias with provisioned concurrency (its environment initialised ahead of
   traffic, never called) against a warm invocation and a cold start, in interleaved rounds: each round
   provisions a new environment, waits for READY, times its first call, then a warm call and a cold start.
2. Reserved concurrency N and 4N simultaneous callers whose handlers sleep: the highest number of
   executions seen at once (from the handlers' own start and end times, and from the ConcurrentExecutions
   metric), and how many calls ran and were throttled.
3. What the concurrency bookkeeping costs an invocation, in-process: the ledger's admit and release alone,
   with the environment pool's lease and the metrics' datapoints added, and with the log lines handed to
   CloudWatch Logs too (interleaved rounds, medians).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from bench import keep_results
from localcloud.awslambda.ledger import Ledger
from localcloud.awslambda.metric_publisher import Call, LambdaMetrics, ProvisionedUse
from localcloud.awslambda.pool import VersionPool
from localcloud.cloudwatch.provider import Metrics
from localcloud.core.interfaces.log_sink import BackgroundLogWriter
from localcloud.core.state import Store
from localcloud.logs.provider import Logs
from tests.clouds import running_localcloud
from tests.localcloud.awslambda.lambda_helpers import create_function, metric
from tests.localcloud.conftest import lambda_role

ROLE_NAME = "bench"
HANDLER = """
import time

def lambda_handler(event, context):
    started = time.time()
    time.sleep(event.get("sleep", 0))
    return {"started": started, "ended": time.time()}
"""


def _ms(call: Any) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def first_provisioned_call(client: Any, role_arn: str, rounds: int) -> dict[str, Any]:
    create_function(client, "first", HANDLER, role_arn)
    version = client.publish_version(FunctionName="first")["Version"]
    client.create_alias(FunctionName="first", Name="live", FunctionVersion=version)
    invoke = client.invoke
    invoke(FunctionName="first", Payload=b"{}")  # $LATEST warm from here on
    samples: dict[str, list[float]] = {"provisioned_first": [], "warm": [], "cold": []}
    for i in range(rounds):
        client.put_provisioned_concurrency_config(
            FunctionName="first", Qualifier="live", ProvisionedConcurrentExecutions=1
        )  # a new environment each round
        while client.get_provisioned_concurrency_config(FunctionName="first", Qualifier="live")["Status"] != "READY":
            time.sleep(0.02)
        samples["provisioned_first"].append(_ms(lambda: invoke(FunctionName="first", Qualifier="live", Payload=b"{}")))
        samples["warm"].append(_ms(lambda: invoke(FunctionName="first", Payload=b"{}")))
        client.update_function_configuration(FunctionName="first", Description=f"round {i}")  # retires $LATEST
        samples["cold"].append(_ms(lambda: invoke(FunctionName="first", Payload=b"{}")))
        invoke(FunctionName="first", Payload=b"{}")
    medians = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    return {
        "median_ms": medians,
        "provisioned_first_over_warm": round(medians["provisioned_first"] / medians["warm"], 2),
        "cold_over_provisioned_first": round(medians["cold"] / medians["provisioned_first"], 1),
        "rounds": rounds,
    }


def peak_concurrency(client: Any, cloudwatch: Any, role_arn: str, reserved: int, sleep_s: float) -> dict[str, Any]:
    create_function(client, "cap", HANDLER, role_arn)
    client.put_function_concurrency(FunctionName="cap", ReservedConcurrentExecutions=reserved)
    intervals: list[tuple[float, float]] = []
    throttled: list[str] = []
    lock = threading.Lock()
    event = json.dumps({"sleep": sleep_s}).encode()

    def one() -> None:
        try:
            answer = json.loads(client.invoke(FunctionName="cap", Payload=event)["Payload"].read())
            with lock:
                intervals.append((answer["started"], answer["ended"]))
        except ClientError as error:
            with lock:
                throttled.append(error.response.get("Reason", error.response["Error"]["Code"]))

    threads = [threading.Thread(target=one) for _ in range(4 * reserved)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    most = min(len(intervals), reserved)
    metric_peak = metric(cloudwatch, "ConcurrentExecutions", {"FunctionName": "cap"}, most, "Maximum")
    return {
        "reserved": reserved,
        "callers": 4 * reserved,
        "ran": len(intervals),
        "throttled": len(throttled),
        "throttle_reasons": sorted(set(throttled)),
        "peak_from_handlers": peak,
        "peak_from_metric": metric_peak,
    }


def bookkeeping_cost(calls: int) -> dict[str, float]:
    """Microseconds per invocation for the accounting every call goes through (no process, no HTTP)."""
    ledger = Ledger(1000)
    ledger.set_reserved("other", 100)
    start = time.perf_counter()
    for _ in range(calls):
        shared, _ = ledger.admit("f", False)
        ledger.release("f", shared)
    ledger_us = (time.perf_counter() - start) / calls * 1e6

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        metrics, log_writer = LambdaMetrics(Metrics(store)), BackgroundLogWriter(Logs(store))
        pool = VersionPool()
        # An idle environment as the pool sees one: only its liveness, generation and kind are read.
        pool.idle.append(SimpleNamespace(alive=True, generation=0, initialization_type="on-demand"))
        call = Call("f", "live", alias=True)
        log = "START RequestId: r Version: 1\nEND RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\t\n"

        def invocations(with_logs: bool) -> float:
            start = time.perf_counter()
            for _ in range(calls):
                lease = pool.take()
                shared, concurrent = ledger.admit("f", lease.provisioned)
                pool.give_back(lease)
                ledger.release("f", shared)
                use = ProvisionedUse("live", lease.provisioned, lease.provisioned_busy, 0)
                metrics.invoked(
                    call,
                    "1",
                    error=False,
                    duration_ms=1.0,
                    concurrent=concurrent,
                    account_concurrent=ledger.total_in_flight,
                    provisioned=use,
                )
                if with_logs:  # what an invocation adds to hand its log lines to CloudWatch Logs
                    log_writer.put("/aws/lambda/f", "stream", int(time.time() * 1000), log)
            return (time.perf_counter() - start) / calls * 1e6

        rounds = [(invocations(False), invocations(True)) for _ in range(5)]  # interleaved, side by side
    return {
        "ledger_admit_release_us": round(ledger_us, 2),
        "with_pool_and_metrics_us": round(statistics.median(r[0] for r in rounds), 2),
        "with_pool_metrics_and_logs_us": round(statistics.median(r[1] for r in rounds), 2),
    }


def run(rounds: int, reserved: int, sleep_s: float, calls: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    limit = max(10, 2 * reserved)
    args = ["--no-defaults", "--lambda-concurrency", str(limit)]
    with tempfile.TemporaryDirectory() as tmp, running_localcloud(Path(tmp), args) as cloud:
        config = Config(retries={"max_attempts": 0}, read_timeout=60, max_pool_connections=4 * reserved + 4)
        client = cloud.client("lambda", config=config)
        role_arn = lambda_role(cloud, ROLE_NAME)  # CreateFunction insists, as on AWS, on a role that trusts Lambda
        results["first_call"] = first_provisioned_call(client, role_arn, rounds)
        results["peak"] = peak_concurrency(client, cloud.client("cloudwatch"), role_arn, reserved, sleep_s)
    results["bookkeeping"] = bookkeeping_cost(calls)
    return results


def _print(results: dict[str, Any]) -> None:
    first = results["first_call"]
    m = first["median_ms"]
    print(f"Round trip through boto3, median of {first['rounds']} interleaved rounds:")
    print(f"  first call through a provisioned alias  {m['provisioned_first']:>8.2f} ms")
    print(f"  warm call                               {m['warm']:>8.2f} ms")
    print(f"  cold start                              {m['cold']:>8.2f} ms")
    print(
        f"  provisioned first / warm = {first['provisioned_first_over_warm']}× (target ≤ 1.2×); "
        f"cold / provisioned first = {first['cold_over_provisioned_first']}×"
    )
    p = results["peak"]
    print(
        f"Reserved {p['reserved']}, {p['callers']} simultaneous callers: ran {p['ran']}, throttled {p['throttled']} "
        f"({', '.join(p['throttle_reasons'])}); most at once: {p['peak_from_handlers']} (handlers' clocks), "
        f"{p['peak_from_metric']:.0f} (ConcurrentExecutions Maximum)"
    )
    b = results["bookkeeping"]
    print(
        f"Bookkeeping per invocation: ledger admit+release {b['ledger_admit_release_us']} µs; "
        f"with pool lease and metrics datapoints {b['with_pool_and_metrics_us']} µs; "
        f"with the log lines handed to CloudWatch Logs too {b['with_pool_metrics_and_logs_us']} µs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench lambda", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved first-call rounds")
    parser.add_argument("--reserved", type=int, default=4, help="reserved concurrency N (4N callers)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each handler sleeps in the burst")
    parser.add_argument("--calls", type=int, default=100_000, help="in-process bookkeeping iterations")
    args = parser.parse_args(argv)
    results = run(args.rounds, args.reserved, args.sleep, args.calls)
    _print(results)
    out = keep_results("lambda-concurrency", results)
    print(f"wrote {out}")
