"""A tuning job's trials as the API (provider.py) and the scheduler (scheduler.py) both read them.

Each trial is an ordinary training job with a small trial record beside it: its index, its tuned
hyperparameters, whether the tuner stopped it early and whether it was retried. Everything Describe reports
(counters, BestTrainingJob, objective statuses) is computed from those records, so it is the same before and
after a restart.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from localcloud.core.interfaces.metric_sink import MetricSeries
from localcloud.core.state import Store
from localcloud.sagemaker.training.runner import METRIC_NAMESPACE
from localcloud.sagemaker.tuning.definition import objective

RUNNING = ("InProgress", "Stopping")
SUMMARY_KEYS = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingStartTime", "TrainingEndTime")
INTERNAL = "_localcloud"  # the record's private part (seed, region), never answered


def retryable(job: dict[str, Any]) -> bool:
    """An internal error (localcloud restarting under the trial) is AWS's RetryableError: the trial is run again."""
    return job["TrainingJobStatus"] == "Failed" and job.get("FailureReason", "").startswith("InternalServerError")


def public(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


class Trials:
    """The tuning jobs' records and their trials' accounting; `lock` guards a job's status changes."""

    def __init__(self, store: Store, metrics: MetricSeries) -> None:
        self.store, self.metrics = store, metrics
        self.lock = threading.RLock()

    def set(self, name: str, **changes: Any) -> None:
        self.store.update("tuning-job", name, LastModifiedTime=time.time(), **changes)

    def trial_records(self, name: str) -> list[dict[str, Any]]:
        return sorted(
            (t for t in self.store.all("tuning-trial") if t["TuningJobName"] == name), key=lambda t: t["Index"]
        )

    def objective_values(self, trial_name: str, metric: str) -> list[float]:
        """The trial's objective after each epoch (each line its metric definition matched on algo-1)."""
        return self.metrics.series(METRIC_NAMESPACE, metric, {"Host": f"{trial_name}/algo-1"})

    def summaries(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """HyperParameterTrainingJobSummary of every trial whose training job exists (plus `_retryable`,
        which `public` removes)."""
        goal = objective(record)
        out = []
        for trial in self.trial_records(record["HyperParameterTuningJobName"]):
            job = self.store.get("training-job", trial["TrainingJobName"])
            if job is None:
                continue
            summary = {k: job[k] for k in SUMMARY_KEYS if k in job}
            summary.update(
                TuningJobName=trial["TuningJobName"],
                TrainingJobStatus=job["TrainingJobStatus"],
                TunedHyperParameters=trial["TunedHyperParameters"],
            )
            if "FailureReason" in job:
                summary["FailureReason"] = job["FailureReason"]
            final = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
            if goal["MetricName"] in final:
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": goal["Type"],
                    "MetricName": goal["MetricName"],
                    "Value": final[goal["MetricName"]],
                }
            if job["TrainingJobStatus"] in RUNNING:
                summary["ObjectiveStatus"] = "Pending"
            elif job["TrainingJobStatus"] in ("Completed", "Stopped") and goal["MetricName"] in final:
                summary["ObjectiveStatus"] = "Succeeded"
            else:
                summary["ObjectiveStatus"] = "Failed"
            summary["_retryable"] = retryable(job)
            out.append(summary)
        return out

    @staticmethod
    def counters(summaries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
        status = dict.fromkeys(("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0)
        objective_status = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
        for s in summaries:
            kind = s["TrainingJobStatus"]
            if kind in RUNNING:
                kind = "InProgress"
            elif kind == "Failed":
                kind = "RetryableError" if s["_retryable"] else "NonRetryableError"
            status[kind] += 1
            objective_status[s["ObjectiveStatus"]] += 1
        return {"TrainingJobStatusCounters": status, "ObjectiveStatusCounters": objective_status}

    @staticmethod
    def best(record: dict[str, Any], summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The trial with the best objective among those whose objective succeeded."""
        scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
        if not scored:
            return None
        sign = 1 if objective(record)["Type"] == "Maximize" else -1
        best = max(scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        return public(best)
