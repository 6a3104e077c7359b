"""The CreateHyperParameterTuningJob request for a checked TuningSpec, and the way back (Clone): a described
tuning job as a spec that pre-fills the Tune form.

Shaped as the SageMaker Python SDK's HyperparameterTuner sends it: static and categorical values
JSON-quoted, continuous and integer bounds bare strings, the objective and ranges in
HyperParameterTuningJobConfig, and the training definition the Train form would launch.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from services.training.job_spec import TrainingSpec, build_request, decode_hyperparameters
from services.tuning.spec import ParameterRange, TuningSpec
from services.tuning.tuning_records import trial_resources


def _bound(value: float | None, kind: str) -> str:
    return str(int(value)) if kind == "Integer" else f"{value:g}"


def build_tuning_request(spec: TuningSpec, *, region: str, role_arn: str) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request (pure: tests compare it with AWS's shape)."""
    training = build_request(replace(spec.training, job_name=spec.name), region=region, role_arn=role_arn)
    static = {k: v for k, v in training["HyperParameters"].items() if k not in spec.tuned}
    static.pop("sagemaker_job_name", None)  # trials are named by the tuning job
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for r in spec.ranges:
        if r.kind == "Categorical":
            ranges["CategoricalParameterRanges"].append({"Name": r.name, "Values": [json.dumps(v) for v in r.values]})
        else:
            ranges[f"{r.kind}ParameterRanges"].append(
                {
                    "Name": r.name,
                    "MinValue": _bound(r.min_value, r.kind),
                    "MaxValue": _bound(r.max_value, r.kind),
                    "ScalingType": r.scaling,
                }
            )
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": spec.max_parallel}
    if spec.max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = spec.max_jobs
    config: dict[str, Any] = {
        "Strategy": spec.strategy,
        "HyperParameterTuningJobObjective": {"Type": spec.objective_type, "MetricName": spec.objective_metric},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": spec.early_stopping,
    }
    if spec.strategy == "Hyperband":
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": spec.min_resource or 1,
                "MaxResource": spec.max_resource or spec.training.epochs,
            }
        }
    criteria: dict[str, Any] = {}
    if spec.target_value is not None:
        criteria["TargetObjectiveMetricValue"] = spec.target_value
    if spec.not_improving_jobs is not None:
        criteria["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": spec.not_improving_jobs}
    if criteria:
        config["TuningJobCompletionCriteria"] = criteria
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": spec.name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": static,
            "AlgorithmSpecification": {  # HyperParameterAlgorithmSpecification has no metrics time series flag
                key: value
                for key, value in training["AlgorithmSpecification"].items()
                if key in {"TrainingImage", "TrainingInputMode", "MetricDefinitions"}
            },
            "RoleArn": role_arn,
            "InputDataConfig": training["InputDataConfig"],
            "OutputDataConfig": training["OutputDataConfig"],
            "ResourceConfig": training["ResourceConfig"],
            "StoppingCondition": training["StoppingCondition"],
        },
    }
    if spec.warm_start_parents:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in spec.warm_start_parents],
            "WarmStartType": spec.warm_start_type,
        }
    return request


def spec_from_description(raw: dict[str, Any], *, new_name: str) -> TuningSpec:
    """A spec like a described tuning job's (Clone): definition, objective, ranges, strategy and limits."""
    config, definition = raw["HyperParameterTuningJobConfig"], raw["TrainingJobDefinition"]
    static = decode_hyperparameters(definition.get("StaticHyperParameters", {}))
    resources, channel = trial_resources(definition), (definition.get("InputDataConfig") or [{}])[0]
    defaults = TrainingSpec(job_name="x", data_uri="s3://x", output_path="s3://x")
    training = TrainingSpec(
        job_name=new_name,
        data_uri=channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", ""),
        output_path=definition["OutputDataConfig"]["S3OutputPath"],
        learning_rate=float(static.get("learning_rate", defaults.learning_rate)),
        batch_size=int(static.get("batch_size", defaults.batch_size)),
        epochs=int(static.get("epochs", defaults.epochs)),
        fine_tune=str(static.get("fine_tune", defaults.fine_tune)),
        instance_type=resources.get("InstanceType") or defaults.instance_type,
        instance_count=int(resources.get("InstanceCount") or 1),
        max_runtime_s=int(definition.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", defaults.max_runtime_s)),
        role_arn=definition.get("RoleArn"),
        metric_definitions=tuple(
            (m["Name"], m["Regex"]) for m in definition["AlgorithmSpecification"].get("MetricDefinitions", [])
        ),
    )
    raw_ranges = config.get("ParameterRanges", {})
    ranges = [
        ParameterRange(r["Name"], kind, float(r["MinValue"]), float(r["MaxValue"]), r.get("ScalingType", "Auto"))
        for kind in ("Continuous", "Integer")
        for r in raw_ranges.get(f"{kind}ParameterRanges", [])
    ]
    ranges += [
        ParameterRange(
            r["Name"], "Categorical", values=tuple(str(decode_hyperparameters({"v": v})["v"]) for v in r["Values"])
        )
        for r in raw_ranges.get("CategoricalParameterRanges", [])
    ]
    hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {})
    criteria = config.get("TuningJobCompletionCriteria", {})
    warm = raw.get("WarmStartConfig") or {}
    return TuningSpec(
        name=new_name,
        training=training,
        objective_metric=config["HyperParameterTuningJobObjective"]["MetricName"],
        objective_type=config["HyperParameterTuningJobObjective"]["Type"],
        ranges=tuple(ranges),
        strategy=config["Strategy"],
        max_jobs=config["ResourceLimits"].get("MaxNumberOfTrainingJobs"),
        max_parallel=config["ResourceLimits"]["MaxParallelTrainingJobs"],
        early_stopping=config.get("TrainingJobEarlyStoppingType", "Off"),
        min_resource=hyperband.get("MinResource"),
        max_resource=hyperband.get("MaxResource"),
        target_value=criteria.get("TargetObjectiveMetricValue"),
        not_improving_jobs=criteria.get("BestObjectiveNotImproving", {}).get("MaxNumberOfTrainingJobsNotImproving"),
        random_seed=config.get("RandomSeed"),
        warm_start_parents=tuple(
            p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs", [])
        ),
        warm_start_type=warm.get("WarmStartType", "TransferLearning"),
    )
