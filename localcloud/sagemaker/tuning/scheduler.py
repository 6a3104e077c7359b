"""One thread per running tuning job: launch trials, judge them after each epoch, end the job.

Each tick reads the job and its trials from the store (nothing lives only in memory, so a restarted
localcloud carries on where it was): it stops trials the stopping rule condemns, checks the completion
criteria, keeps MaxParallelTrainingJobs trials running until MaxNumberOfTrainingJobs have run (a trial
interrupted by a restart is run again with the same hyperparameters and does not count), and ends the job:
Completed, Stopped (StopHyperParameterTuningJob, or MaxRuntimeInSeconds), or Failed when its first trials
all failed. A tick that raises is tried again; FAILED_TICKS in a row fail the job with the reason (its running
trials are stopped), rather than retrying a fault that does not go away every tick for ever.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
import uuid
from typing import Any

from localcloud.core.log import log
from localcloud.core.protocol import AwsError
from localcloud.sagemaker.training.provider import Training
from localcloud.sagemaker.tuning.definition import Plan, plan, trial_resources
from localcloud.sagemaker.tuning.search import hyperband_stops, median_rule_stops, suggest, worse
from localcloud.sagemaker.tuning.trials import INTERNAL, RUNNING, Trials

TICK_SECONDS = 0.2
FAILED_TICKS = 10
"""Ticks in a row that may raise before the job fails: 2 s, long enough for a passing fault (a busy disk) to
clear, short enough that a lasting one (a damaged record, a bug) is reported at once."""
IMPROVEMENT = 0.01  # AWS: a best objective that improves by less than 1 % has not improved
ALGORITHM_KEYS = ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")


def _value(summary: dict[str, Any]) -> float:
    return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def not_improving(scored: list[dict[str, Any]], maximize: bool) -> int:
    """Trials, in the order they ended, since the best objective last improved by at least 1 %."""
    best: float | None = None
    count = 0
    for summary in sorted(scored, key=lambda s: s.get("TrainingEndTime") or s["CreationTime"]):
        value = _value(summary)
        margin = IMPROVEMENT * abs(best) if best is not None else 0.0
        if best is None or worse(best + (margin if maximize else -margin), value, maximize):
            best, count = value, 0
        else:
            count += 1
            best = value if worse(best, value, maximize) else best
    return count


class Scheduler(threading.Thread):
    """Schedules one tuning job's trials (`trials`' records) as training jobs on `training`, sharing the
    machine's `cores` between the job's parallel trials."""

    def __init__(self, trials: Trials, training: Training, name: str, cores: int) -> None:
        super().__init__(daemon=True, name=f"tuning-{name}")
        self.trials, self.training, self.job_name, self.cores = trials, training, name, cores
        self.judged: dict[str, int] = {}  # trial -> the last epoch the stopping rule looked at

    def run(self) -> None:
        failed = 0
        while True:
            try:
                if not self.step():
                    return
                failed = 0
            except Exception as exc:  # noqa: BLE001 - a tick that breaks is tried again, then fails the job
                failed += 1
                if failed == 1:
                    traceback.print_exc()
                if failed >= FAILED_TICKS:
                    self._fail(exc, failed)
                    return
            time.sleep(TICK_SECONDS)

    def _fail(self, exc: Exception, ticks: int) -> None:
        """Failed with the reason, worded as localcloud's internal failures are (``InternalServerError: ...``, as
        on a training job); its trials still running are stopped, as when a tuning job ends. Reads only what it
        must, since the record may be what is damaged."""
        reason = f"{exc.code}: {exc.message}" if isinstance(exc, AwsError) else f"{type(exc).__name__}: {exc}"
        log(f"tuning job {self.job_name} failed: {ticks} scheduling ticks in a row raised {reason}")
        with contextlib.suppress(Exception):  # the job fails even if its trials cannot be read
            for trial in self.trials.trial_records(self.job_name):
                self._stop_trial(trial["TrainingJobName"])
        with self.trials.lock:
            record = self.trials.store.get("tuning-job", self.job_name)
            if record is None or record.get("HyperParameterTuningJobStatus") not in RUNNING:
                return
            self.trials.set(
                self.job_name,
                HyperParameterTuningJobStatus="Failed",
                HyperParameterTuningEndTime=time.time(),
                FailureReason=(
                    f"InternalServerError: scheduling the training jobs failed {ticks} times in a row: {reason}"
                )[:1024],
            )

    def step(self) -> bool:
        """One tick; False once the job has ended (or was deleted)."""
        trials = self.trials
        record = trials.store.get("tuning-job", self.job_name)
        if record is None or record["HyperParameterTuningJobStatus"] not in RUNNING:
            return False
        rules = plan(record)
        summaries = trials.summaries(record)
        running = [s for s in summaries if s["TrainingJobStatus"] in RUNNING]
        ending = record[INTERNAL].get("ending")
        if record["HyperParameterTuningJobStatus"] == "InProgress" and not ending:
            self._judge(rules, running, summaries)
            ending = self._completion(record, rules, summaries)
            if ending:
                trials.set(self.job_name, **{INTERNAL: {**record[INTERNAL], "ending": ending}})
        if record["HyperParameterTuningJobStatus"] == "Stopping" or ending:
            for summary in running:
                self._stop_trial(summary["TrainingJobName"])
            return bool(running) or self._finish()
        counted = sum(not s["_retryable"] for s in summaries)
        budget = rules.max_jobs - counted
        if any(s["TrainingJobStatus"] == "Failed" and not s["_retryable"] for s in summaries) and not any(
            s["ObjectiveStatus"] == "Succeeded" for s in summaries
        ):  # a failure before any success: the first trials decide whether the job fails, launch no more
            budget = min(budget, min(rules.max_parallel, rules.max_jobs) - counted)
        launched = 0
        while len(running) + launched < rules.max_parallel and budget - launched > 0:
            if not self._launch(record, rules, summaries):
                break
            launched += 1
        return bool(running) or launched > 0 or budget > 0 or self._finish()

    # judging ---------------------------------------------------------------------
    def _judge(self, rules: Plan, running: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
        """Hyperband's rungs or the median rule, once per new epoch of each running trial."""
        if rules.strategy != "Hyperband" and not rules.early_stopping:
            return
        names = [s["TrainingJobName"] for s in summaries]
        series = {name: self.trials.objective_values(name, rules.metric) for name in names}
        for summary in running:
            name = summary["TrainingJobName"]
            values = series[name]
            epoch = len(values)
            if summary["TrainingJobStatus"] != "InProgress" or epoch == 0 or self.judged.get(name) == epoch:
                continue
            self.judged[name] = epoch
            others = [v for other, v in series.items() if other != name]
            if rules.strategy == "Hyperband":
                condemned = hyperband_stops(rules, values, others)
            else:  # the last epoch ends the trial anyway
                last = rules.trial_epochs and epoch >= rules.trial_epochs
                condemned = not last and median_rule_stops(values, others, rules.maximize)
            if condemned:
                self.trials.store.update("tuning-trial", name, EarlyStopped=True, StoppedAfterEpoch=epoch)
                self._stop_trial(name)

    def _stop_trial(self, name: str) -> None:
        with contextlib.suppress(AwsError):  # it ended, or is already stopping
            self.training.stop(name)

    def _completion(self, record: dict[str, Any], rules: Plan, summaries: list[dict[str, Any]]) -> dict | None:
        """Why the job should stop launching trials now, if it should."""
        config = record["HyperParameterTuningJobConfig"]
        criteria = config.get("TuningJobCompletionCriteria") or {}
        scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
        target = criteria.get("TargetObjectiveMetricValue")
        if target is not None and any(not worse(_value(s), target, rules.maximize) for s in scored):
            return {"kind": "target"}
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        stale = not_improving(scored, rules.maximize)
        if patience and stale >= patience:
            return {"kind": "not-improving", "count": stale}
        runtime = config["ResourceLimits"].get("MaxRuntimeInSeconds")
        if runtime and time.time() - record["CreationTime"] > runtime:
            return {"kind": "runtime"}
        failed = [s for s in summaries if s["TrainingJobStatus"] == "Failed" and not s["_retryable"]]
        if not scored and len(failed) >= min(rules.max_parallel, rules.max_jobs):
            first = failed[0]
            return {"kind": "failing", "reason": f"{first['TrainingJobName']}: {first.get('FailureReason', '')}"}
        return None

    # launching -------------------------------------------------------------------
    def _history(self, record: dict[str, Any], summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Trials the Bayesian model learns from: warm-start parents' first, then this job's."""
        everyone: list[dict[str, Any]] = []
        for parent in (record.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", []):
            found = self.trials.store.get("tuning-job", parent["HyperParameterTuningJobName"])
            if found:
                everyone += [s for s in self.trials.summaries(found) if s["ObjectiveStatus"] == "Succeeded"]
        everyone += summaries
        state = {"Succeeded": "COMPLETE", "Pending": "RUNNING", "Failed": "FAIL"}
        return [
            {
                "params": s["TunedHyperParameters"],
                "state": state[s["ObjectiveStatus"]],
                "value": _value(s) if s["ObjectiveStatus"] == "Succeeded" else None,
            }
            for s in everyone
        ]

    def _launch(self, record: dict[str, Any], rules: Plan, summaries: list[dict[str, Any]]) -> bool:
        """Start the next trial (a retry of an interrupted one first); False when no instance is free."""
        private = record[INTERNAL]
        earlier = self.trials.trial_records(self.job_name)
        retried = {t["RetryOf"] for t in earlier if t.get("RetryOf")}
        retry = next((s for s in summaries if s["_retryable"] and s["TrainingJobName"] not in retried), None)
        if retry:
            params = retry["TunedHyperParameters"]
        else:  # the n-th configuration drawn, however many retries came between: a seed gives the same ones
            draw = sum(not t.get("RetryOf") for t in earlier) + 1
            params = suggest(rules, private["seed"], draw, self._history(record, summaries))
        index = len(earlier) + 1
        definition = record["TrainingJobDefinition"]
        name = f"{self.job_name}-{index:03d}-{uuid.uuid4().hex[:8]}"
        trial = {
            "TrainingJobName": name,
            "TuningJobName": self.job_name,
            "Index": index,
            "TunedHyperParameters": params,
            "CreationTime": time.time(),
        }
        if retry:
            trial["RetryOf"] = retry["TrainingJobName"]
        self.trials.store.insert("tuning-trial", name, trial)
        algorithm = definition["AlgorithmSpecification"]
        request = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {k: v for k, v in algorithm.items() if k in ALGORITHM_KEYS},
            "RoleArn": definition["RoleArn"],
            "HyperParameters": {
                **(definition.get("StaticHyperParameters") or {}),
                **params,
                "_tuning_objective_metric": rules.metric,
            },
            "InputDataConfig": definition.get("InputDataConfig", []),
            "OutputDataConfig": definition["OutputDataConfig"],
            "ResourceConfig": trial_resources(definition),
            "StoppingCondition": definition["StoppingCondition"],
            **{k: definition[k] for k in ("EnableNetworkIsolation", "VpcConfig") if k in definition},
        }
        try:
            self.training.create(
                request,
                private["region"],
                tuning_job_arn=record["HyperParameterTuningJobArn"],
                num_cpus=max(1, self.cores // rules.max_parallel),
            )
        except AwsError as error:
            self.trials.store.delete("tuning-trial", name)
            if error.code == "ResourceLimitExceeded":  # the account's instances are busy: try again next tick
                return False
            raise
        return True

    # ending ----------------------------------------------------------------------
    def _finish(self) -> bool:
        """Completed, Stopped or Failed, once no trial runs; always False (the thread ends)."""
        trials = self.trials
        with trials.lock:
            record = trials.store.get("tuning-job", self.job_name)
            if record is None or record["HyperParameterTuningJobStatus"] not in RUNNING:
                return False
            summaries = trials.summaries(record)
            ending = record[INTERNAL].get("ending") or {}
            changes: dict[str, Any] = {"HyperParameterTuningEndTime": time.time()}
            scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
            if record["HyperParameterTuningJobStatus"] == "Stopping" or ending.get("kind") == "runtime":
                changes["HyperParameterTuningJobStatus"] = "Stopped"
            elif scored:
                changes["HyperParameterTuningJobStatus"] = "Completed"
            else:
                first = next((s for s in summaries if s["ObjectiveStatus"] == "Failed"), None)
                detail = ending.get("reason") or (
                    f"{first['TrainingJobName']}: {first.get('FailureReason', 'no objective metric')}" if first else ""
                )
                changes["HyperParameterTuningJobStatus"] = "Failed"
                changes["FailureReason"] = f"No training job succeeded with an objective metric. {detail}"[:1024]
            changes["TuningJobCompletionDetails"] = {
                "NumberOfTrainingJobsObjectiveNotImproving": not_improving(scored, plan(record).maximize)
            }
            trials.set(self.job_name, **changes)
        return False
