"""Where a model to deploy comes from (Stubber: the requests' shapes and how the answers are read)."""

import datetime as dt

from botocore.stub import Stubber

from services.serving.model_sources import ModelSource, ModelSources

ARTIFACT = "s3://bucket/output/tune-1-003-abc/output/model.tar.gz"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TUNING_ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job"


def test_a_tuning_jobs_best_trial_is_deployed_with_its_artifact(boto3_session) -> None:
    sagemaker = boto3_session.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_hyper_parameter_tuning_jobs",
            {
                "HyperParameterTuningJobSummaries": [
                    {
                        "HyperParameterTuningJobName": name,
                        "HyperParameterTuningJobArn": f"{TUNING_ARN}/{name}",
                        "HyperParameterTuningJobStatus": "Completed",
                        "Strategy": "Bayesian",
                        "CreationTime": NOW,
                        "TrainingJobStatusCounters": {},
                        "ObjectiveStatusCounters": {},
                    }
                    for name in ("tune-1", "tune-empty")
                ]
            },
            {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 50},
        )
        tuning = {
            "HyperParameterTuningJobArn": f"{TUNING_ARN}/tune-1",
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian", "ResourceLimits": {"MaxParallelTrainingJobs": 1}},
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": NOW,
            "TrainingJobStatusCounters": {},
            "ObjectiveStatusCounters": {},
        }
        best = {
            "TrainingJobName": "tune-1-003-abc",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/tune-1-003-abc",
            "CreationTime": NOW,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {},
        }
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            {**tuning, "HyperParameterTuningJobName": "tune-1", "BestTrainingJob": best},
            {"HyperParameterTuningJobName": "tune-1"},
        )
        stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": "tune-1-003-abc",
                "TrainingJobArn": best["TrainingJobArn"],
                "ModelArtifacts": {"S3ModelArtifacts": ARTIFACT},
                "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed",
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 30},
                "StoppingCondition": {},
                "CreationTime": NOW,
            },
            {"TrainingJobName": "tune-1-003-abc"},
        )
        stub.add_response(  # no trial finished: nothing to deploy from it
            "describe_hyper_parameter_tuning_job",
            {**tuning, "HyperParameterTuningJobName": "tune-empty"},
            {"HyperParameterTuningJobName": "tune-empty"},
        )
        sources = ModelSources(boto3_session=boto3_session, sagemaker=sagemaker).tuning_bests()
        stub.assert_no_pending_responses()
    assert sources == [ModelSource("best trial of tuning job tune-1 (tune-1-003-abc)", ARTIFACT, "tune-1-003-abc")]
