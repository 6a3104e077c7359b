"""Lineage: endpoint → model → training job → dataset, and back from a job's artifact to its endpoints."""

from __future__ import annotations

import datetime as dt

import boto3
from botocore.stub import Stubber

from services.serving.lineage import LineageService

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
ARTIFACT = "s3://sagemaker-us-east-1-000000000000/jobs/dog-breed-7/output/model.tar.gz"


def model_answer(name: str, url: str) -> dict:
    return {
        "ModelName": name,
        "ModelArn": f"arn:aws:sagemaker:us-east-1:000000000000:model/{name}",
        "CreationTime": NOW,
        "ExecutionRoleArn": "arn:aws:iam::000000000000:role/r",
        "PrimaryContainer": {"Image": "pytorch-inference", "ModelDataUrl": url},
    }


def job_answer(name: str, artifact: str, tuning: str | None = None) -> dict:
    answer = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": artifact},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "pytorch-training"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": NOW,
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/dogs-wiki-133/"}},
            }
        ],
    }
    if tuning:
        answer["TuningJobArn"] = f"arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/{tuning}"
    return answer


def test_a_model_made_by_a_training_job_leads_to_the_job_its_tuning_and_its_dataset(boto3_session: boto3.Session):
    sagemaker = boto3_session.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_model", model_answer("m", ARTIFACT), {"ModelName": "m"})
        stub.add_response(
            "describe_training_job", job_answer("dog-breed-7", ARTIFACT, "tune-3"), {"TrainingJobName": "dog-breed-7"}
        )
        origin = LineageService(boto3_session=boto3_session, sagemaker_client=sagemaker).model("m")
    assert (origin.training_job, origin.tuning_job, origin.dataset_uri) == (
        "dog-breed-7",
        "tune-3",
        "s3://data/dogs-wiki-133/",
    )


def test_a_job_whose_artifact_differs_is_not_taken_for_the_models_origin(boto3_session: boto3.Session):
    sagemaker = boto3_session.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_model", model_answer("m", ARTIFACT), {"ModelName": "m"})
        other = ARTIFACT.replace("jobs/", "elsewhere/")
        stub.add_response("describe_training_job", job_answer("dog-breed-7", other), {"TrainingJobName": "dog-breed-7"})
        origin = LineageService(boto3_session=boto3_session, sagemaker_client=sagemaker).model("m")
    assert (origin.model_data_url, origin.training_job, origin.dataset_uri) == (ARTIFACT, None, None)


def test_the_stock_endpoint_on_localcloud_serves_imagenets_dog_classes(aws_env):
    lineage = LineageService().endpoint("dog-breed-classifier")
    assert lineage.status == "InService"
    [variant] = lineage.variants
    assert variant.model.model_name == "dog-breed-efficientnet-lite0" and variant.model.training_job is None
    assert lineage.breed_source.startswith("ImageNet's 118 dog classes")
    assert len(lineage.breeds) == 118 and "Chihuahua" in lineage.breeds
    artifact = variant.model.model_data_url
    assert LineageService().endpoints_serving(artifact) == ["dog-breed-classifier"]


def test_a_dataset_leads_back_to_the_jobs_trained_on_it(boto3_session: boto3.Session):
    sagemaker = boto3_session.client("sagemaker")
    summaries = [
        {
            "TrainingJobName": n,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:0:training-job/{n}",
            "CreationTime": NOW,
            "TrainingJobStatus": "Completed",
        }
        for n in ("on-it", "elsewhere")
    ]
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_training_jobs",
            {"TrainingJobSummaries": summaries},
            {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 50},
        )
        stub.add_response("describe_training_job", job_answer("on-it", ARTIFACT), {"TrainingJobName": "on-it"})
        other = job_answer("elsewhere", ARTIFACT)
        other["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://data/another/"
        stub.add_response("describe_training_job", other, {"TrainingJobName": "elsewhere"})
        jobs = LineageService(boto3_session=boto3_session, sagemaker_client=sagemaker).jobs_trained_on(
            "s3://data/dogs-wiki-133"
        )
    assert jobs == ["on-it"]
