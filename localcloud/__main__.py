"""`python -m localcloud`: serve the AWS APIs the dashboard uses on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from localcloud.awslambda.pool import IDLE_LIMIT_S
from localcloud.cloud import LocalCloud
from localcloud.core.log import log
from localcloud.core.memory import limit_malloc_arenas
from localcloud.core.profile import write_profile
from localcloud.core.server import MAX_CONNECTIONS, CloudServer

_ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--port", type=int, default=4566, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument(
        "--data-dir", type=Path, default=_ROOT / ".localcloud", help="where state lives; it survives restarts"
    )
    parser.add_argument("--region", default="us-east-1", help="region of the resources created at first start")
    parser.add_argument(
        "--model-onnx",
        type=Path,
        default=_ROOT / "build" / "efficientnet_lite0.onnx",
        help="ONNX weights for the default model (exported on first use if missing)",
    )
    parser.add_argument(
        "--lambda-concurrency",
        type=int,
        default=10,
        help="the account's limit on simultaneous Lambda executions (each one a Python process of 20-40 MB); "
        "a tenth of it, at least 1, stays unreserved, as AWS keeps 100 of 1,000",
    )
    parser.add_argument(
        "--lambda-idle-seconds",
        type=float,
        default=IDLE_LIMIT_S,
        help="how long an idle Lambda execution environment is kept warm before it is stopped, as AWS "
        "reclaims idle environments after a while",
    )
    parser.add_argument(
        "--training-instances",
        type=int,
        default=4,
        help="account-wide limit on concurrent training instances (ResourceLimitExceeded beyond)",
    )
    parser.add_argument(
        "--endpoint-instances",
        type=int,
        default=4,
        help="limit on endpoint instances, all endpoints together (scaling beyond: ResourceLimitExceeded)",
    )
    parser.add_argument(
        "--metric-period-seconds",
        type=float,
        default=60.0,
        help="how long AWS's one-minute period lasts: alarm periods and scaling cooldowns scale with it "
        "(shorten it for demos and tests; 60 is AWS's timing)",
    )
    parser.add_argument(
        "--capture-flush-seconds",
        type=float,
        default=60.0,
        help="how long an endpoint's data capture holds captured requests before it writes them to S3 (60: "
        "within a minute; shorten it for demos and tests)",
    )
    parser.add_argument("--ec2-instances", type=int, default=4, help="limit on running EC2 instances")
    parser.add_argument(
        "--vcpus-per-core",
        type=int,
        default=2,
        help="instance vCPUs one of this machine's cores stands for: an endpoint instance runs on its type's "
        "vCPUs / this many cores of its own (2: an ml.m5.large gets one core)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=20.0,
        help="seconds a client has to send a request's headers (and its body, plus 1 s per MB)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help="connections served at once; past them, clients are told to slow down in their service's words",
    )
    parser.add_argument("--no-defaults", action="store_true", help="do not create the default model and function")
    return parser


def _bootstrap(cloud: LocalCloud, args: argparse.Namespace) -> None:
    """Create the defaults beside the server, in a process of their own (core/bootstrap.py says why); a failure
    is reported, never fatal."""
    cloud.defaults = {"state": "creating"}
    key = cloud.keys.root()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key)
    command = [sys.executable, "-m", "localcloud.core.bootstrap", cloud.endpoint_url, args.region, str(args.model_onnx)]
    try:
        seeding = subprocess.run(command, env=env, cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        said, failed = [f"{type(exc).__name__}: {exc}"], True
    else:
        said = seeding.stderr.decode(errors="replace").strip().splitlines()
        failed = seeding.returncode != 0
        if failed and not said:
            said = [f"the seeding process exited with {seeding.returncode}"]
    for line in said[:-1] if failed else said:
        log(line)
    if failed:
        cloud.defaults = {"state": "failed", "error": said[-1]}
        log(f"could not create the default resources ({said[-1]}); the next start tries again")
        return
    cloud.store.put("localcloud", "defaults", {"region": args.region})
    cloud.defaults = {"state": "ready"}
    log("default model, endpoint dog-breed-classifier and function dog-breed-predict are ready")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    limit_malloc_arenas()
    server = CloudServer(args.port, read_timeout=args.read_timeout, max_connections=args.max_connections)
    data_dir = args.data_dir.resolve()
    cloud = LocalCloud(
        data_dir,
        server.endpoint_url,
        lambda_concurrency=args.lambda_concurrency,
        lambda_idle_s=args.lambda_idle_seconds,
        ec2_instances=args.ec2_instances,
        training_instances=args.training_instances,
        endpoint_instances=args.endpoint_instances,
        metric_period_s=args.metric_period_seconds,
        capture_flush_s=args.capture_flush_seconds,
        vcpus_per_core=args.vcpus_per_core,
    )
    credentials, config = write_profile(data_dir, cloud.keys.root(), server.endpoint_url, args.region)
    server.cloud = cloud
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"listening on {server.endpoint_url}, data in {data_dir}")
    log(f"credentials: AWS_SHARED_CREDENTIALS_FILE={credentials} AWS_CONFIG_FILE={config} AWS_PROFILE=localcloud")

    cloud.sagemaker.resume()
    cloud.training.resume()
    cloud.sagemaker.transform.resume()
    cloud.lambda_.resume()
    cloud.tuning.resume()  # after training's: the trials it marked interrupted are retried
    if args.no_defaults:
        cloud.defaults = {"state": "skipped"}
    elif cloud.store.get("localcloud", "defaults") is not None:
        cloud.defaults = {"state": "ready"}
    else:
        threading.Thread(target=_bootstrap, args=(cloud, args), name="localcloud-bootstrap", daemon=True).start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log("stopping")
    server.shutdown()
    cloud.shutdown()


if __name__ == "__main__":
    main()
