"""`./dev bench tuning`: the tuning issue's speed targets, on the real classifier and a slice of dogs-wiki-133.

- Scheduler overhead: a tuning job of N trials, P at a time, against ceil(N/P) × its median trial time
  (target: at most 1.15×).
- Hyperband against the same search without it (the same seed draws the same configurations), side by
  side: wall time and best objective (aim: at most 0.6× the time, best objective within 5 %). Photos are
  decoded every epoch here (`cache_features false`), so an epoch costs what it costs on a real dataset.

Hyperband saves epochs, not a trial's start and end (importing torch, building the network, exporting and
uploading the model: about 6.5 s here), so it is measured on every breed of the sample and 6 epochs, where an
epoch (~10 s on one core) outweighs them. On a 20-breed slice (`--classes 20 --epochs 4`) a trial is mostly
start and end, and Hyperband's saving shrinks to what the stopped epochs cost.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import keep_results
from bench.bench_training import DEFAULT_DATA
from localcloud.core.process import LocalCloudProcess
from tests.channels import upload_breeds, upload_sourcedir
from tests.clouds import running_localcloud, sagemaker_role
from tests.localcloud.sagemaker.tuning_helpers import request, trials, wait_tuning

BUCKET = "bench-tuning"
METRIC = "validation:accuracy"
LEARNING_RATE = [{"Name": "learning_rate", "MinValue": "0.0005", "MaxValue": "0.05", "ScalingType": "Logarithmic"}]
BATCH_SIZE = [{"Name": "batch_size", "Values": ['"16"', '"32"']}]


def _upload(cloud: LocalCloudProcess, source: Path, classes: int) -> None:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    upload_breeds(s3, BUCKET, "data", sorted(p.name for p in (source / "train").iterdir())[:classes], source)
    upload_sourcedir(s3, BUCKET)


def _request(name: str, strategy: str, max_jobs: int, parallel: int, static: dict[str, str], **config: Any) -> dict:
    return request(
        name,
        bucket=BUCKET,
        strategy=strategy,
        max_jobs=max_jobs,
        parallel=parallel,
        continuous=LEARNING_RATE,
        categorical=BATCH_SIZE,
        static={"fine_tune": "head", **static},
        metric=METRIC,
        metrics=[{"Name": METRIC, "Regex": r"valid_acc=([0-9\.]+)"}, {"Name": "epoch", "Regex": r"Epoch ([0-9]+)/"}],
        max_runtime=3600,
        RandomSeed=42,
        **config,
    )


def _run(cloud: LocalCloudProcess, body: dict) -> dict[str, Any]:
    """Create, wait (polling as the SDK does, but every 0.2 s), and read back wall time, trials and best."""
    sagemaker = cloud.client("sagemaker")
    name = body["HyperParameterTuningJobName"]
    start = time.perf_counter()
    sagemaker.create_hyper_parameter_tuning_job(**body)
    job = wait_tuning(cloud, name, timeout=math.inf, interval=0.2)
    wall = time.perf_counter() - start
    seconds, epochs = [], []
    for trial in trials(cloud, name):
        described = sagemaker.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        seconds.append((described["TrainingEndTime"] - described["CreationTime"]).total_seconds())
        metrics = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
        epochs.append(int(metrics.get("epoch", 0)))
    return {
        "status": job["HyperParameterTuningJobStatus"],
        "wall_s": round(wall, 2),
        "trial_s": [round(s, 2) for s in sorted(seconds)],
        "median_trial_s": round(statistics.median(seconds), 2),
        "epochs_per_trial": epochs,
        # How full the parallel slots were: trial time over wall time × MaxParallelTrainingJobs.
        "slots_busy": round(
            sum(seconds) / (wall * body["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]),
            3,
        ),
        "counters": job["TrainingJobStatusCounters"],
        "best_objective": job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench tuning", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--classes", type=int, default=133, help="breeds of the dataset to tune on (the first N)")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per trial in the Hyperband comparison")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"classes": args.classes, "trials": args.trials, "parallel": args.parallel}
    with (
        tempfile.TemporaryDirectory(prefix="bench-tuning-") as scratch,
        running_localcloud(Path(scratch), ["--no-defaults"]) as cloud,
    ):
        _upload(cloud, args.data_dir, args.classes)
        sagemaker_role(cloud, "tuning")  # the trials run as the definition's role, which SageMaker must assume
        quick = {"epochs": "1", "cache_features": "true"}
        overhead = _run(cloud, _request("overhead", "Random", args.trials, args.parallel, quick))
        bound = math.ceil(args.trials / args.parallel) * overhead["median_trial_s"]
        overhead["ratio_to_waves_x_median"] = round(overhead["wall_s"] / bound, 3)
        results["overhead"] = overhead
        static = {"epochs": str(args.epochs), "cache_features": "false"}
        plain = _run(cloud, _request("plain", "Random", args.trials, args.parallel, static))
        hyperband = _run(
            cloud,
            _request(
                "hyperband",
                "Hyperband",
                args.trials,
                args.parallel,
                static,
                StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": args.epochs}},
            ),
        )
        results["random"], results["hyperband"] = plain, hyperband
        results["hyperband_time_ratio"] = round(hyperband["wall_s"] / plain["wall_s"], 3)
        results["hyperband_best_ratio"] = round(hyperband["best_objective"] / plain["best_objective"], 3)
    print(json.dumps(results, indent=2))
    keep_results("tuning", results)


if __name__ == "__main__":
    main()
