"""SageMaker hyperparameter tuning jobs: the six operations.

A tuning job is stored as its request plus status; each trial is an ordinary training job (it carries the
tuning job's ARN and shows in ListTrainingJobs) with a small trial record beside it, which trials.py
accounts for. The scheduler (scheduler.py) launches, judges and ends the trials.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from localcloud.core.interfaces.metric_sink import MetricSeries
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.sagemaker.training.provider import Training
from localcloud.sagemaker.tuning.definition import check_definition, check_warm_start, plan
from localcloud.sagemaker.tuning.scheduler import Scheduler
from localcloud.sagemaker.tuning.trials import INTERNAL, RUNNING, Trials, public


def _offset(token: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise validation("The NextToken is invalid.") from None


PAGES = Paginator(default_size=10, read=_offset)  # both List* calls' NextToken and MaxResults


def not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")


class Tuning:
    def __init__(self, store: Store, training: Training, metrics: MetricSeries) -> None:
        self.store, self.training = store, training
        self.trials = Trials(store, metrics)
        self.cores = os.cpu_count() or 1

    # API ------------------------------------------------------------------------
    def op_CreateHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
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
        self.training.roles.check_handed(call, p["TrainingJobDefinition"]["RoleArn"])  # trials run as it
        plan(record)
        parents = []
        for parent in (p.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", []):
            found = self.store.get("tuning-job", parent["HyperParameterTuningJobName"])
            if found is None:
                raise not_found(parent["HyperParameterTuningJobName"])
            parents.append(found)
        check_warm_start(record, parents)
        with self.trials.lock:
            if not self.store.insert("tuning-job", name, record):
                raise AwsError(
                    "ResourceInUse",
                    f"Hyperparameter tuning job names must be unique within an AWS account and region, and a "
                    f"hyperparameter tuning job with this name already exists ({arn})",
                )
        self._schedule(name)
        return {"HyperParameterTuningJobArn": arn}

    def _schedule(self, name: str) -> None:
        Scheduler(self.trials, self.training, name, self.cores).start()

    def job(self, name: str) -> dict[str, Any]:
        record = self.store.get("tuning-job", name)
        if record is None:
            raise not_found(name)
        return record

    def op_DescribeHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self.job(p["HyperParameterTuningJobName"])
        out = {k: v for k, v in record.items() if k not in ("Tags", INTERNAL)}
        summaries = self.trials.summaries(record)
        out.update(self.trials.counters(summaries))
        best = self.trials.best(record, summaries)
        if best:
            out["BestTrainingJob"] = best
        warm = record.get("WarmStartConfig")
        if warm and warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
            everyone = list(summaries)
            for parent in warm["ParentHyperParameterTuningJobs"]:
                found = self.store.get("tuning-job", parent["HyperParameterTuningJobName"])
                everyone += self.trials.summaries(found) if found else []
            overall = self.trials.best(record, everyone)
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
        page, token = PAGES.page(jobs, p)
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
            summary.update(self.trials.counters(self.trials.summaries(record)))
            out.append(summary)
        return {"HyperParameterTuningJobSummaries": out, "NextToken": token}

    def op_ListTrainingJobsForHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        summaries = self.trials.summaries(self.job(p["HyperParameterTuningJobName"]))
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
        page, token = PAGES.page(summaries, p)
        return {"TrainingJobSummaries": [public(s) for s in page], "NextToken": token}

    def op_StopHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Stopping, then Stopped once the scheduler has stopped every running trial."""
        with self.trials.lock:
            record = self.job(p["HyperParameterTuningJobName"])
            status = record["HyperParameterTuningJobStatus"]
            if status != "InProgress":
                raise validation(
                    f"The request was rejected because the hyperparameter tuning job is in status {status}."
                )
            self.trials.set(record["HyperParameterTuningJobName"], HyperParameterTuningJobStatus="Stopping")
        return {}

    def op_DeleteHyperParameterTuningJob(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Deletes the tuning job's entry only; its trials stay, as ordinary training jobs."""
        with self.trials.lock:
            record = self.job(p["HyperParameterTuningJobName"])
            status = record["HyperParameterTuningJobStatus"]
            if status in RUNNING:
                raise validation(
                    f"The hyperparameter tuning job is in status {status}; stop it and let it end before deleting it."
                )
            for trial in self.trials.trial_records(record["HyperParameterTuningJobName"]):
                self.store.delete("tuning-trial", trial["TrainingJobName"])
            self.store.delete("tuning-job", record["HyperParameterTuningJobName"])
        return {}

    # lifecycle ------------------------------------------------------------------
    def resume(self) -> None:
        """After a restart every unfinished tuning job carries on (run after Training.resume(), which has
        marked the trials that were running as interrupted: they are retried)."""
        for record in self.store.all("tuning-job"):
            if record["HyperParameterTuningJobStatus"] in RUNNING:
                self._schedule(record["HyperParameterTuningJobName"])
