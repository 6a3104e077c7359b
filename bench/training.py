"""`./dev bench training`: the Train issue's speed targets, measured in one run.

- CreateTrainingJob to the job's first log line on localcloud (target: under 3 s);
- training throughput (images/s) inside a localcloud job against the same loop run bare,
  side by side (target: at least 0.9×);
- the Train page with 1,000 jobs, and a job page with 10,000 log lines, rendered through
  Streamlit's AppTest (target: under 2 s; the job page stays responsive);
- head-mode training wall time with each photo's trunk features kept after the first epoch against
  decoding every photo every epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import keep_results
from bench.bench_training import DEFAULT_DATA
from localcloud.core.process import LocalCloudProcess
from tests.channels import upload_sourcedir
from tests.clouds import running_localcloud
from tests.localcloud.sagemaker.training_helpers import training_request, wait_training

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench-training"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HEAD_MODE_EPOCHS = 5
THROUGHPUT = [{"Name": "train:throughput", "Regex": r"Train throughput: ([0-9\.]+)"}]


def _upload_dataset(s3: Any, source: Path, prefix: str) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(source)}")


def _create_job(sagemaker: Any, name: str, channel: str, **hyper: str) -> None:
    request = training_request(
        name, bucket=BUCKET, channel=channel, metrics=THROUGHPUT, role="bench", max_runtime=3600, **hyper
    )
    sagemaker.create_training_job(**request)


def _first_log_line_seconds(cloud: LocalCloudProcess, name: str, channel: str) -> float:
    sagemaker, logs = cloud.client("sagemaker"), cloud.client("logs")
    start = time.perf_counter()
    _create_job(sagemaker, name, channel, epochs="1", batch_size="32", fine_tune="head")
    while time.perf_counter() - start < 60:
        try:
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:  # the first job has not logged yet
            streams = []
        if (
            streams
            and logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=streams[0]["logStreamName"], limit=1, startFromHead=True
            )["events"]
        ):
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError(f"no log line from {name} within 60 s")


def _wait(cloud: LocalCloudProcess, name: str) -> dict[str, Any]:
    """The job once it has ended, however long that takes."""
    return wait_training(cloud, name, timeout=math.inf, interval=0.5)


def _bare(epochs: int, keep_features: bool) -> dict[str, Any]:
    """The training loop run bare, in a fresh process like a job's: a second run in the same process is
    faster (its first epoch took 12 s instead of 15 s here), which would flatter the reference."""
    args = [sys.executable, "-m", "bench.bench_training", "--epochs", str(epochs), "--batch-size", "32"]
    if not keep_features:
        args.append("--no-cache-features")
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, timeout=1200)
    return json.loads(result.stdout)


def _job_throughput(cloud: LocalCloudProcess, name: str) -> float:
    logs = cloud.client("logs")
    events = logs.filter_log_events(
        logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/", filterPattern='"Train throughput"'
    )["events"]
    return float(re.search(r"Train throughput: ([0-9.]+)", events[-1]["message"]).group(1))


def _render_seconds(env: dict[str, str], page: str, query: dict[str, str] | None = None, runs: int = 3) -> float:
    """Median seconds for Streamlit to run the page script, as a browser visit would."""
    from tests.pages.conftest import dashboard

    os.environ.update(env)
    os.environ["DASHBOARD_AUTH"] = "none"  # as the page tests run it: sign-in is not what is timed
    samples = []
    for _ in range(runs):
        app = dashboard().run()
        if query:
            app.query_params.update(query)
        start = time.perf_counter()
        app.switch_page(page).run()
        samples.append(time.perf_counter() - start)
        if app.exception or app.error:  # a page that only shows an error proves nothing about speed
            problem = app.exception[0].message if app.exception else app.error[0].value
            raise RuntimeError(f"{page} failed: {problem}")
    return statistics.median(samples)


def run(epochs: int, jobs_for_list: int, log_lines: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--no-defaults", "--training-instances", str(jobs_for_list + 10)]
        with running_localcloud(Path(tmp) / "cloud", args) as cloud:
            s3, sagemaker, logs = cloud.client("s3"), cloud.client("sagemaker"), cloud.client("logs")
            s3.create_bucket(Bucket=BUCKET)
            _upload_dataset(s3, DEFAULT_DATA, "datasets/dogs-wiki-133")
            upload_sourcedir(s3, BUCKET)
            channel = f"s3://{BUCKET}/datasets/dogs-wiki-133"

            first_lines = []
            for i in range(3):
                first_lines.append(_first_log_line_seconds(cloud, f"first-line-{i}", channel))
                sagemaker.stop_training_job(TrainingJobName=f"first-line-{i}")
                _wait(cloud, f"first-line-{i}")
            results["create_to_first_log_line_s"] = {
                "median": round(statistics.median(first_lines), 2),
                "samples": [round(s, 2) for s in first_lines],
            }

            # Job against bare, both ways of feeding the head: decoding every photo every epoch (most of the
            # time in the network, the steadiest measure of what the job adds) and with kept features.
            for label, keep in (("decoded_every_epoch", False), ("kept_features", True)):
                name = f"throughput-{'kept' if keep else 'decoded'}"
                hyper = {"epochs": str(epochs), "batch_size": "32", "fine_tune": "head", "cache_features": str(keep)}
                _create_job(sagemaker, name, channel, **hyper)
                job = _wait(cloud, name)
                if job["TrainingJobStatus"] != "Completed":
                    raise RuntimeError(f"{name} job ended {job['TrainingJobStatus']}: {job.get('FailureReason')}")
                in_job = _job_throughput(cloud, name)
                bare = _bare(epochs, keep)["images_per_s"]
                results.setdefault("training_images_per_s", {})[label] = {
                    "localcloud_job": in_job,
                    "bare": bare,
                    "ratio": round(in_job / bare, 2),
                }

            # Head mode keeps each photo's trunk features after the first epoch: the same loop both ways.
            kept = _bare(HEAD_MODE_EPOCHS, True)
            decoded = _bare(HEAD_MODE_EPOCHS, False)
            results["head_mode_wall_s"] = {
                "epochs": HEAD_MODE_EPOCHS,
                "kept_features": kept["wall_seconds"],
                "decoded_every_epoch": decoded["wall_seconds"],
                "speedup": round(decoded["wall_seconds"] / kept["wall_seconds"], 2),
                "epoch_seconds": {"kept_features": kept["epoch_seconds"], "decoded": decoded["epoch_seconds"]},
                "test_accuracy": {"kept_features": kept["test_accuracy"], "decoded": decoded["test_accuracy"]},
            }

            # Jobs whose channel is empty fail at once: real jobs, no training processes.
            for i in range(jobs_for_list):
                _create_job(sagemaker, f"listed-{i:04d}", f"s3://{BUCKET}/empty/", epochs="1")
            stream = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="throughput-kept/")[
                "logStreams"
            ][0]["logStreamName"]
            now = int(time.time() * 1000)
            for start in range(0, log_lines, 5000):
                batch = [
                    {"timestamp": now + i, "message": f"bench line {i}: " + "x" * 60}
                    for i in range(start, min(start + 5000, log_lines))
                ]
                logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=batch)
            env = cloud.env()
            results["train_page_with_jobs_s"] = {
                "jobs": jobs_for_list + 4,
                "median": round(_render_seconds(env, "app_pages/train.py"), 2),
            }
            results["job_page_with_log_lines_s"] = {
                "lines": log_lines + 100,
                "median": round(_render_seconds(env, "app_pages/job.py", {"job": "throughput-kept"}), 2),
            }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench training", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the list for the Train page timing")
    parser.add_argument("--log-lines", type=int, default=10000)
    args = parser.parse_args(argv)
    results = run(args.epochs, args.jobs, args.log_lines)
    print(json.dumps(results, indent=2))
    out = keep_results("training", results)
    print(f"wrote {out}")
