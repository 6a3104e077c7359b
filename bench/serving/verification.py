"""What verifying SigV4 costs each request, measured two ways in one run.

1. The verifier alone, on requests botocore signed as the SDK does: InvokeEndpoint carrying
   the phone photo (the body is hashed) and a bodiless ListEndpoints; median microseconds.
2. The endpoint round trip through boto3 against an in-process localcloud, in interleaved
   rounds with its verifier on and swapped for a pass-through between rounds: same server,
   same endpoint instance, same client, so the difference is verification's share.
3. The server-side cost of a signed request, on its own: InvokeEndpoint signed by the Lambda
   function's role session (the Lambda hop's second call, so authorisation is decided), through
   the whole request path (`LocalCloud.handle`) less the time the endpoint instance took; and its
   parts: the signature, the authorisation, the metrics and the event history.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench.serving.bench_model import DEFAULT_ONNX
from localcloud.auth import policy
from localcloud.auth.keys import AccessKey
from localcloud.auth.refusal import Signed
from localcloud.auth.sigv4 import Verifier
from localcloud.cloud import LocalCloud
from localcloud.core.bootstrap import ENDPOINT_NAME, LAMBDA_ROLE, seed_defaults
from localcloud.core.interfaces.trail import Activity
from localcloud.core.protocol import Request
from localcloud.core.registry import Call
from localcloud.core.server import CloudServer
from localcloud.iam.managed import MANAGED
from tests.localcloud.auth.sigv4_helpers import signed


class _PassThrough:
    """Accepts every request as the root key's: the 'without verification' side of the comparison."""

    def __init__(self, key: AccessKey) -> None:
        self.key = key

    def verify(self, request: Request) -> Signed:
        return Signed(self.key, "us-east-1", "sagemaker")


def verifier_alone(verifier: Verifier, key: AccessKey, photo: bytes, repeats: int) -> dict[str, float]:
    requests = {
        "invoke_endpoint_phone_us": signed(
            key, path=f"/endpoints/{ENDPOINT_NAME}/invocations", body=photo, headers={"Content-Type": "image/jpeg"}
        ),
        "list_endpoints_us": signed(
            key, headers={"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"}
        ),
    }
    result = {}
    for name, request in requests.items():
        verifier.verify(request)
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            verifier.verify(request)
            samples.append((time.perf_counter() - start) * 1e6)
        result[name] = round(statistics.median(samples), 1)
    return result


def round_trip_with_and_without(photo: bytes, rounds: int, per_round: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = CloudServer(0)
        cloud = LocalCloud(Path(tmp), server.endpoint_url)
        server.cloud = cloud
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            key = cloud.keys.root()
            seed_defaults(server.endpoint_url, "us-east-1", DEFAULT_ONNX, key)
            session = boto3.Session(
                aws_access_key_id=key.access_key_id,
                aws_secret_access_key=key.secret_access_key,
                region_name="us-east-1",
            )
            config = Config(retries={"mode": "standard", "max_attempts": 1})
            sagemaker = session.client("sagemaker", endpoint_url=server.endpoint_url, config=config)
            sagemaker.get_waiter("endpoint_in_service").wait(
                EndpointName=ENDPOINT_NAME, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
            )
            runtime = session.client("sagemaker-runtime", endpoint_url=server.endpoint_url, config=config)
            verifiers = {"verified": cloud.verifier, "unverified": _PassThrough(key)}

            def invoke() -> float:
                start = time.perf_counter()
                runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="image/jpeg", Body=photo)["Body"].read()
                return (time.perf_counter() - start) * 1000

            for _ in range(10):
                invoke()
            samples: dict[str, list[float]] = {name: [] for name in verifiers}
            for _ in range(rounds):
                for name, verifier in verifiers.items():
                    cloud.verifier = verifier  # type: ignore[assignment]
                    samples[name] += [invoke() for _ in range(per_round)]
            cloud.verifier = verifiers["verified"]  # type: ignore[assignment]
            cost = server_cost(cloud, photo, rounds * per_round * 2)
        finally:
            server.shutdown()
            cloud.shutdown()
    medians = {name: round(statistics.median(values), 3) for name, values in samples.items()}
    return {
        "server_cost_median_us": cost,
        "endpoint_phone_p50_ms": medians,
        "difference_us": round((medians["verified"] - medians["unverified"]) * 1000, 1),
        "n_each": len(samples["verified"]),
    }


def _median_us(call: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e6)
    return round(statistics.median(samples), 1)


def server_cost(cloud: LocalCloud, photo: bytes, repeats: int) -> dict[str, float]:
    """Median microseconds localcloud spends on a signed InvokeEndpoint besides the model (see the module's
    docstring), and its parts."""
    key = cloud.sts.assume(LAMBDA_ROLE, "bench", ("Service", "lambda.amazonaws.com"), "lambda.amazonaws.com")
    request = signed(
        key,
        token=key.session_token,
        path=f"/endpoints/{ENDPOINT_NAME}/invocations",
        body=photo,
        headers={"Content-Type": "image/jpeg"},
    )
    fleet = cloud.sagemaker.fleets_of(ENDPOINT_NAME)[0]
    invoke, model = fleet.invoke, []

    def timed_invoke(*args: Any, **kwargs: Any) -> Any:  # the instance's share, to take away
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            return invoke(*args, **kwargs)
        finally:
            model.append((time.perf_counter() - start, time.thread_time() - start_cpu))

    fleet.invoke = timed_invoke  # type: ignore[method-assign]
    totals = []
    try:
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.thread_time()
            response = cloud.handle(copy.copy(request))
            totals.append((time.perf_counter() - start, time.thread_time() - start_cpu))
            assert response.status == 200, response.body[:200]
    finally:
        fleet.invoke = invoke  # type: ignore[method-assign]
    runtime = cloud.registry.resolve("sagemaker", request)
    signature = cloud.verifier.verify(request)
    call = Call(signature.region, signature.key.identity)
    params = {"EndpointName": ENDPOINT_NAME, "Body": photo, "ContentType": "image/jpeg"}
    resources = runtime.resource_arns("InvokeEndpoint", params, call)
    activity = Activity("sagemaker.amazonaws.com", "InvokeEndpoint", "us-east-1", call.identity.arn, "", ())
    metrics = cloud.sagemaker.endpoint_metrics
    besides_model = [(t - m, t_cpu - m_cpu) for (t, t_cpu), (m, m_cpu) in zip(totals, model, strict=True)]
    return {
        "request_path_less_model_us": round(statistics.median(wall for wall, _ in besides_model) * 1e6, 1),
        # the same in this thread's CPU time: what the request costs the machine, whatever else runs on it
        "request_path_less_model_cpu_us": round(statistics.median(cpu for _, cpu in besides_model) * 1e6, 1),
        "signature_us": _median_us(lambda: cloud.verifier.verify(request), repeats),
        "authorisation_us": _median_us(
            lambda: cloud.authorizer.check(runtime, "InvokeEndpoint", params, call, resources), repeats
        ),
        "metrics_us": _median_us(
            lambda: metrics.invoked(ENDPOINT_NAME, "AllTraffic", instances=1, status=200, model_s=0.01, total_s=0.011),
            repeats,
        ),
        "event_history_us": _median_us(lambda: cloud.trail.record(activity), repeats),
    }


def policy_evaluation(repeats: int) -> dict[str, float]:
    """Median microseconds to decide InvokeEndpoint for a role session: least privilege and full access."""
    endpoint = f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{ENDPOINT_NAME}"
    least = policy.parse(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint}],
        }
    )
    full = [policy.parse(entry["Document"], source_id=name) for name, entry in MANAGED.items()]
    context = {"aws:RequestedRegion": ["us-east-1"], "aws:SourceIp": ["127.0.0.1"]}
    result = {}
    for name, policies in {"least_privilege_us": [least], "managed_policies_us": full}.items():
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            policy.evaluate(policies, "sagemaker:InvokeEndpoint", endpoint, context)
            samples.append((time.perf_counter() - start) * 1e6)
        result[name] = round(statistics.median(samples), 1)
    return result


def run(photo: bytes, *, rounds: int, per_round: int, repeats: int = 2000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cloud_keys = LocalCloud(Path(tmp), "http://127.0.0.1:4566").keys
        key = cloud_keys.root()
        alone = verifier_alone(Verifier(cloud_keys), key, photo, repeats)
    return {
        "verifier_median_us": alone,
        "policy_evaluation_median": policy_evaluation(repeats),
        **round_trip_with_and_without(photo, rounds, per_round),
    }
