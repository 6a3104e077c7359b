"""`./dev bench tuning-page`: how long the tuning job page takes to paint a tuning job of 500 trials (aim: under
2 s), measured as Streamlit's own test runner runs the page's parts (best trial, warnings, trials table, every
plot, serialised as they are sent to the browser).

The trials are built as ListTrainingJobsForHyperParameterTuningJob answers them: a log-uniform learning rate
and a categorical batch size, an objective that depends on both with noise, ten trials at a time over three
hours, some early-stopped, some failed without an objective, and per-epoch objectives for the 40 trials the
page reads curves for.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from bench import keep_results

BATCHES = (32, 64, 128, 256, 512)


def described(trials: int) -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob answer for a finished Bayesian job of `trials` trials."""
    return {
        "HyperParameterTuningJobName": "bench-500",
        "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/bench-500",
        "HyperParameterTuningJobStatus": "Completed",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 10},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
                ],
                "IntegerParameterRanges": [],
                "CategoricalParameterRanges": [{"Name": "batch_size", "Values": [f'"{b}"' for b in BATCHES]}],
            },
            "TrainingJobEarlyStoppingType": "Auto",
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "validation:loss", "Regex": r"valid_loss=([0-9\.]+)"}],
            },
            "InputDataConfig": [
                {"ChannelName": "training", "DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/dogs/"}}}
            ],
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        },
        "CreationTime": datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        "HyperParameterTuningEndTime": datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
        "TrainingJobStatusCounters": {"Completed": 0, "InProgress": 0, "Stopped": 0, "NonRetryableError": 0},
        "ObjectiveStatusCounters": {"Succeeded": trials, "Pending": 0, "Failed": 0},
    }


def summaries(trials: int, seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """HyperParameterTrainingJobSummary per trial, and per-epoch objectives for 40 of them."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    out, curves = [], {}
    for i in range(trials):
        lr, batch = 10 ** rng.uniform(-3, -1), rng.choice(BATCHES)
        loss = 0.6 + 2 * abs(math.log10(lr) + 2) + 0.0005 * batch + rng.gauss(0, 0.05)
        began = start + timedelta(seconds=(i // 10) * 21 + rng.uniform(0, 3))
        status = rng.choices(["Completed", "Stopped", "Failed"], [0.8, 0.15, 0.05])[0]
        name = f"bench-500-{i + 1:03d}-{rng.getrandbits(32):08x}"
        summary: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
            "CreationTime": began - timedelta(seconds=2),
            "TrainingStartTime": began,
            "TrainingEndTime": began + timedelta(seconds=rng.uniform(12, 20)),
            "TrainingJobStatus": status,
            "TunedHyperParameters": {"learning_rate": f"{lr:.6f}", "batch_size": f'"{batch}"'},
            "ObjectiveStatus": "Failed" if status == "Failed" else "Succeeded",
        }
        if status == "Failed":
            summary["FailureReason"] = "AlgorithmError: ExecuteUserScriptError: exit code 1"
        else:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": "Minimize",
                "MetricName": "validation:loss",
                "Value": loss,
            }
            if i % 12 == 0:
                epochs = 2 if status == "Stopped" else 5
                curves[name] = [loss + 0.3 * (epochs - e) for e in range(1, epochs + 1)]
        out.append(summary)
    return out, curves


APP = """
import streamlit as st

from app.tuning.tuning_view import best_trial, plots, trials_table, warnings
from bench import keep_results
from bench.pages.tuning_page import described, summaries
from services.tuning.analysis import findings
from services.tuning.tuning_records import parse_trial, parse_tuning_job


def tuning_job() -> None:
    raw, curves = summaries({trials})
    read = [parse_trial(s) for s in raw]
    scored = [s for s in raw if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    best = min(scored, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    job = parse_tuning_job({{**described({trials}), "BestTrainingJob": best}})
    best_trial(job)
    warnings(findings(job, read, classes=133))
    trials_table(job, read, "bench")
    plots(job, read, curves, "bench")


job_page = st.Page("app_pages/job.py", title="Job")
st.navigation([st.Page(tuning_job, title="Tuning job", default=True), job_page]).run()
"""
"""The tuning job page's parts as pages/tuning_job.py draws them once the trials are read, in an app whose
navigation has the Job page the trials link to."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench tuning-page", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    seconds = []
    with tempfile.TemporaryDirectory(prefix="bench-tuning-page-") as scratch:
        root = Path(scratch)
        (root / "pages").mkdir()
        (root / "pages" / "job.py").write_text("")
        (root / "page.py").write_text(APP.format(trials=args.trials))  # not app.py: that would shadow app/
        for _ in range(args.runs + 1):  # the first run imports plotly, optuna and pandas: left out
            app = AppTest.from_file(str(root / "page.py"), default_timeout=60)
            start = time.perf_counter()
            app.run()
            seconds.append(time.perf_counter() - start)
            if app.exception:
                raise SystemExit(f"the page raised: {app.exception[0].value}")
    timed = seconds[1:]
    results = {
        "trials": args.trials,
        "runs": args.runs,
        "median_s": round(statistics.median(timed), 3),
        "min_s": round(min(timed), 3),
        "max_s": round(max(timed), 3),
        "first_run_s": round(seconds[0], 3),
        "target_s": 2.0,
    }
    print(json.dumps(results, indent=2))
    keep_results("tuning-page", results)


if __name__ == "__main__":
    main()
