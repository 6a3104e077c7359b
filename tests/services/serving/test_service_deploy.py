"""Deploy requests (Stubber): CreateModel with the inference image, a new endpoint config, create or update
the endpoint; checks before any create and clean-up when a step fails."""

import pytest
from botocore.stub import ANY, Stubber

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.deploy import DeployService

SETTINGS = CloudSettings(endpoint_url=None, region="us-east-1", profile=None)
ARTIFACT = "s3://sagemaker-us-east-1-123456789012/training-output/dog-breed-1/output/model.tar.gz"
ROLE = "arn:aws:iam::123456789012:role/dog-breed-sagemaker-execution"
MISSING_ENDPOINT = 'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-ep".'
MISSING_MODEL = 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/dog-breed-1".'


@pytest.fixture
def stubbed(boto3_session):
    sagemaker, sts = boto3_session.client("sagemaker"), boto3_session.client("sts")
    with Stubber(sagemaker) as stub, Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "AIDAEXAMPLE"},
        )
        yield DeployService(boto3_session, sagemaker_client=sagemaker, sts_client=sts, settings=SETTINGS), stub


def model_request() -> dict:
    return {
        "ModelName": "dog-breed-1",
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
            "ModelDataUrl": ARTIFACT,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    }


def config_request() -> dict:
    return {
        "EndpointConfigName": ANY,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "dog-breed-1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    }


def test_new_endpoint(stubbed) -> None:
    service, stub = stubbed
    stub.add_client_error("describe_endpoint", "ValidationException", MISSING_ENDPOINT)
    stub.add_client_error("describe_model", "ValidationException", MISSING_MODEL)
    stub.add_response(
        "create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/dog-breed-1"}, model_request()
    )
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/dog-ep"},
        config_request(),
    )
    stub.add_response(
        "create_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-ep"},
        {"EndpointName": "dog-ep", "EndpointConfigName": ANY},
    )
    done = service.deploy_model(ARTIFACT, model_name="dog-breed-1", endpoint_name="dog-ep", new_endpoint=True)
    assert (done.action, done.model_created, done.endpoint_name) == ("created", True, "dog-ep")
    assert done.endpoint_config_name.startswith("dog-ep-")
    stub.assert_no_pending_responses()


def test_existing_endpoint_is_updated_reusing_the_model(stubbed) -> None:
    service, stub = stubbed
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": "dog-ep",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-ep",
            "EndpointStatus": "InService",
            "CreationTime": "2026-01-01T00:00:00Z",
            "LastModifiedTime": "2026-01-01T00:00:00Z",
        },
    )
    stub.add_response(
        "describe_model",
        {
            "ModelName": "dog-breed-1",
            "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/dog-breed-1",
            "CreationTime": "2026-01-01T00:00:00Z",
            "PrimaryContainer": model_request()["PrimaryContainer"],
        },
    )
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/dog-ep"},
        config_request(),
    )
    stub.add_response(
        "update_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-ep"},
        {"EndpointName": "dog-ep", "EndpointConfigName": ANY},
    )
    done = service.deploy_model(ARTIFACT, model_name="dog-breed-1", endpoint_name="dog-ep", new_endpoint=False)
    assert (done.action, done.model_created) == ("updated", False)


def test_a_failed_create_endpoint_removes_what_was_created(stubbed) -> None:
    service, stub = stubbed
    stub.add_client_error("describe_endpoint", "ValidationException", MISSING_ENDPOINT)
    stub.add_client_error("describe_model", "ValidationException", MISSING_MODEL)
    stub.add_response(
        "create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/dog-breed-1"}, model_request()
    )
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/dog-ep"},
        config_request(),
    )
    stub.add_client_error("create_endpoint", "ResourceLimitExceeded", "endpoint limit")
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": ANY})
    stub.add_response("delete_model", {}, {"ModelName": "dog-breed-1"})
    with pytest.raises(ServiceError, match="ResourceLimitExceeded: endpoint limit"):
        service.deploy_model(ARTIFACT, model_name="dog-breed-1", endpoint_name="dog-ep", new_endpoint=True)
    stub.assert_no_pending_responses()


def test_refusals_before_any_create(stubbed) -> None:
    service, stub = stubbed
    with pytest.raises(ServiceError, match="not a valid endpoint name"):
        service.deploy_model(ARTIFACT, model_name="m", endpoint_name="bad_name")
    with pytest.raises(ServiceError, match="is not an s3:// URI"):
        service.deploy_model("/tmp/model.tar.gz", model_name="m", endpoint_name="e")
    stub.add_client_error("describe_endpoint", "ValidationException", MISSING_ENDPOINT)
    with pytest.raises(ServiceError, match="does not exist. Choose 'new endpoint'"):
        service.deploy_model(ARTIFACT, model_name="m", endpoint_name="dog-ep", new_endpoint=False)
