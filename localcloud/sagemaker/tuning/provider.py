"""SageMaker hyperparameter tuning jobs: the six operations, and the trials' accounting.

A tuning job is stored as its request plus status; each trial is an ordinary training job (it carries the
tuning job's ARN and shows in ListTrainingJobs) with a small trial record beside it: its index, its tuned
hyperparameters, whether the tuner stopped it early and whether it was retried. Everything Describe
reports (counters, BestTrainingJob, objective statuses) is computed from those records, so it is the same
before and after a restart. The scheduler (tuning_scheduler.py) launches, judges and ends the trials.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

from localcloud.cloudwatch.provider import Metrics
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.sagemaker.training.provider import METRIC_NAMESPACE, Training
from localcloud.sagemaker.tuning.definition import check_definition, check_warm_start, objective, plan

RUNNING = ("InProgress", "Stopping")
SUMMARY_KEYS = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingStartTime", "TrainingEndTime")
INTERNAL = "_localcloud"  # the record's private part (seed, region), never answered


def retryable(job: dict[str, Any]) -> bool:
    """An internal error (localcloud restarting under the trial) is AWS's RetryableError: the trial is run again."""
    return job["TrainingJobStatus"] == "Failed" and job.get("FailureReason", "").startswith("InternalServerError")


def not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")


class Tuning:
    def __init__(self, store: Store, training: Training, metrics: Metrics) -> None:
        self.store, self.training, self.metrics = store, training, metrics
        self.cores = os.cpu_count() or 1
        self.lock = threading.RLock()

    # API ------------------------------------------------------------------------
    def op_CreateHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        from localcloud.sagemaker.tuning.scheduler import Scheduler

        name = p["HyperParameterTuningJobName"]
        arn = f"arn:aws:sagemaker:{call.region}:{ACCOUNT_ID}:hyper-parameter-tuning-job/{name.lower()}"
        if p.get("TrainingJobDefinitions") or "TrainingJobDefinition" not in p:
            raise validation("localcloud runs tuning jobs with exactly one TrainingJobDefinition.")
        if p.get("Autotune"):
            raise validation("localcloud does not offer Autotune; give the strategy and ranges explicitly.")
        now = time.time()
        config = p["HyperParameterTuningJobConfig"]
        record: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": p["TrainingJobDefinition"],
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tags": p.get("Tags", []),
            INTERNAL: {"region": call.region, "seed": config.get("RandomSeed", random.randrange(2**31))},
        }
        if p.get("WarmStartConfig"):
            record["WarmStartConfig"] = p["WarmStartConfig"]
        check_definition(p["TrainingJobDefinition"])
        plan(record)
        parents = []
        for parent in (p.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", []):
            found = self.store.get("tuning-job", parent["HyperParameterTuningJobName"])
            if found is None:
                raise not_found(parent["HyperParameterTuningJobName"])
            parents.append(found)
        check_warm_start(record, parents)
        with self.lock:
            if not self.store.insert("tuning-job", name, record):
                raise AwsError(
                    "ResourceInUse",
                    f"Hyperparameter tuning job names must be unique within an AWS account and region, and a "
                    f"hyperparameter tuning job with this name already exists ({arn})",
                )
        Scheduler(self, name).start()
        return {"HyperParameterTuningJobArn": arn}

    def job(self, name: str) -> dict[str, Any]:
        record = self.store.get("tuning-job", name)
        if record is None:
            raise not_found(name)
        return record

    def op_DescribeHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self.job(p["HyperParameterTuningJobName"])
        out = {k: v for k, v in record.items() if k not in ("Tags", INTERNAL)}
        summaries = self.summaries(record)
        out.update(self.counters(summaries))
        best = self.best(record, summaries)
        if best:
            out["BestTrainingJob"] = best
        warm = record.get("WarmStartConfig")
        if warm and warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
            everyone = list(summaries)
            for parent in warm["ParentHyperParameterTuningJobs"]:
                found = self.store.get("tuning-job", parent["HyperParameterTuningJobName"])
                everyone += self.summaries(found) if found else []
            overall = self.best(record, everyone)
            if overall:
                out["OverallBestTrainingJob"] = overall
        end = record.get("HyperParameterTuningEndTime") or time.time()
        out["ConsumedResources"] = {"RuntimeInSeconds": int(end - record["CreationTime"])}
        return out

    def op_ListHyperParameterTuningJobs(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        jobs = self.store.all("tuning-job")
        for key, after in (("LastModifiedTimeAfter", True), ("LastModifiedTimeBefore", False)):
            if key in p:
                edge = p[key].timestamp()
                jobs = [j for j in jobs if (j["LastModifiedTime"] > edge) == after]
        if "NameContains" in p:
            jobs = [j for j in jobs if p["NameContains"].lower() in j["HyperParameterTuningJobName"].lower()]
        if "StatusEquals" in p:
            jobs = [j for j in jobs if j["HyperParameterTuningJobStatus"] == p["StatusEquals"]]
        for key, after in (("CreationTimeAfter", True), ("CreationTimeBefore", False)):
            if key in p:
                edge = p[key].timestamp()
                jobs = [j for j in jobs if (j["CreationTime"] > edge) == after]
        field = {"Name": "HyperParameterTuningJobName", "Status": "HyperParameterTuningJobStatus"}.get(
            p.get("SortBy", "Name"), "CreationTime"
        )
        jobs.sort(key=lambda j: j[field], reverse=p.get("SortOrder", "Ascending") == "Descending")
        page, token = _page(jobs, p, default_size=10)
        out = []
        for record in page:
            config = record["HyperParameterTuningJobConfig"]
            summary = {
                k: record[k]
                for k in (
                    "HyperParameterTuningJobName",
                    "HyperParameterTuningJobArn",
                    "HyperParameterTuningJobStatus",
                    "CreationTime",
                    "HyperParameterTuningEndTime",
                    "LastModifiedTime",
                )
                if k in record
            }
            summary.update(Strategy=config["Strategy"], ResourceLimits=config["ResourceLimits"])
            summary.update(self.counters(self.summaries(record)))
            out.append(summary)
        return {"HyperParameterTuningJobSummaries": out, "NextToken": token}

    def op_ListTrainingJobsForHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        summaries = self.summaries(self.job(p["HyperParameterTuningJobName"]))
        if "StatusEquals" in p:
            summaries = [s for s in summaries if s["TrainingJobStatus"] == p["StatusEquals"]]
        sort_by = p.get("SortBy", "Name")
        if sort_by == "FinalObjectiveMetricValue":  # trials without an objective are left out, as AWS does
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        keys = {
            "Name": lambda s: s["TrainingJobName"],
            "CreationTime": lambda s: s["CreationTime"],
            "Status": lambda s: s["TrainingJobStatus"],
            "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        }
        summaries.sort(key=keys[sort_by], reverse=p.get("SortOrder", "Ascending") == "Descending")
        page, token = _page(summaries, p, default_size=10)
        return {"TrainingJobSummaries": page, "NextToken": token}

    def op_StopHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Stopping, then Stopped once the scheduler has stopped every running trial."""
        with self.lock:
            record = self.job(p["HyperParameterTuningJobName"])
            status = record["HyperParameterTuningJobStatus"]
            if status != "InProgress":
                raise validation(
                    f"The request was rejected because the hyperparameter tuning job is in status {status}."
                )
            self.set(record["HyperParameterTuningJobName"], HyperParameterTuningJobStatus="Stopping")
        return {}

    def op_DeleteHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Deletes the tuning job's entry only; its trials stay, as ordinary training jobs."""
        with self.lock:
            record = self.job(p["HyperParameterTuningJobName"])
            status = record["HyperParameterTuningJobStatus"]
            if status in RUNNING:
                raise validation(
                    f"The hyperparameter tuning job is in status {status}; stop it and let it end before deleting it."
                )
            for trial in self.trial_records(record["HyperParameterTuningJobName"]):
                self.store.delete("tuning-trial", trial["TrainingJobName"])
            self.store.delete("tuning-job", record["HyperParameterTuningJobName"])
        return {}

    # accounting -----------------------------------------------------------------
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

    # lifecycle ------------------------------------------------------------------
    def resume(self) -> None:
        """After a restart every unfinished tuning job carries on (run after Training.resume(), which has
        marked the trials that were running as interrupted: they are retried)."""
        from localcloud.sagemaker.tuning.scheduler import Scheduler

        for record in self.store.all("tuning-job"):
            if record["HyperParameterTuningJobStatus"] in RUNNING:
                Scheduler(self, record["HyperParameterTuningJobName"]).start()


def public(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


def _page(items: list[dict[str, Any]], p: dict[str, Any], *, default_size: int) -> tuple[list[dict], str | None]:
    try:
        start = int(p.get("NextToken") or 0)
    except ValueError:
        raise validation("The NextToken is invalid.") from None
    size = p.get("MaxResults", default_size)
    token = str(start + size) if start + size < len(items) else None
    return [public(i) for i in items[start : start + size]], token
