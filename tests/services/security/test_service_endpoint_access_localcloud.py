"""A function pointed at another endpoint after least privilege: IAM's simulator says its role may not invoke the
new one, a real call is refused, and the policy update lets the next real call through, against a real
localcloud. The function and its role are the test's own, so the session's defaults stay as bootstrap made them."""

from __future__ import annotations

import json

import pytest

from classifier.packaging import build_lambda_zip
from services.core.access import Caller, NotAllowed
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.functions.lambda_functions import LambdaFunctionService
from services.security.endpoint_access import EndpointAccessService, endpoint_arn
from services.security.least_privilege import POLICY_NAME, LeastPrivilegeService
from services.serving.prediction import PredictionService
from tests.conftest import DEFAULT_ENDPOINT

OPERATOR, VIEWER = Caller("ana", "operator"), Caller(None, "viewer")
ROLE, FUNCTION, OTHER = "ea-test-lambda", "ea-test-predict", "ea-test-elsewhere"


@pytest.fixture(scope="module")
def narrowed_function(localcloud, tmp_path_factory) -> str:
    """A function on a broad role of its own, calling the default endpoint, with least privilege applied."""
    iam, lambda_ = localcloud.client("iam"), localcloud.client("lambda")
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_lambda_zip(tmp_path_factory.mktemp("zip") / "function.zip").read_bytes()},
        Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": OTHER}},
    )
    settings = CloudSettings(localcloud.endpoint_url, "us-east-1", None)
    least = LeastPrivilegeService(settings, boto3_session=localcloud.session())
    least.apply(OPERATOR, least.for_function(FUNCTION))  # the plan names OTHER only
    return FUNCTION


def point_at(localcloud, endpoint: str) -> None:
    lambda_ = localcloud.client("lambda")
    lambda_.update_function_configuration(FunctionName=FUNCTION, Environment={"Variables": {"ENDPOINT_NAME": endpoint}})
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=FUNCTION)


def test_a_changed_endpoint_is_refused_until_the_policy_names_it(aws_env, narrowed_function, dog_photo) -> None:
    settings = CloudSettings.from_env()
    access, functions = EndpointAccessService(settings), LambdaFunctionService(settings)
    assert access.check(functions.function(FUNCTION)).allowed

    point_at(aws_env, DEFAULT_ENDPOINT)
    info = functions.function(FUNCTION)
    found = access.check(info)
    assert (found.allowed, found.decision, found.role) == (False, "implicitDeny", ROLE)
    assert found.least_privilege == (endpoint_arn(info.arn, OTHER),)
    with pytest.raises(ServiceError, match="AccessDenied|not authorized"):  # what the warning says happens
        PredictionService(settings=settings).predict_image(dog_photo.read_bytes(), via="lambda", target=FUNCTION)

    with pytest.raises(NotAllowed):
        access.allow_called_endpoints(VIEWER, info)
    before = aws_env.client("iam").get_role_policy(RoleName=ROLE, PolicyName=POLICY_NAME)["PolicyDocument"]
    update = access.allow_called_endpoints(OPERATOR, info)
    assert update.allowed == (endpoint_arn(info.arn, DEFAULT_ENDPOINT),)
    assert update.removed == (endpoint_arn(info.arn, OTHER),)  # no function of the role calls it any more
    after = aws_env.client("iam").get_role_policy(RoleName=ROLE, PolicyName=POLICY_NAME)["PolicyDocument"]
    untouched = [s for s in before["Statement"] if s["Sid"] != "InvokeEndpoints"]
    assert [s for s in after["Statement"] if s["Sid"] != "InvokeEndpoints"] == untouched
    assert access.check(info).allowed
    answer = PredictionService(settings=settings).predict_image(dog_photo.read_bytes(), via="lambda", target=FUNCTION)
    assert answer.breeds[0].label.lower() == "keeshond"


def test_a_role_without_a_least_privilege_policy_is_not_updated(aws_env, narrowed_function) -> None:
    settings = CloudSettings.from_env()
    access = EndpointAccessService(settings)
    info = LambdaFunctionService(settings).function("dog-breed-predict")  # bootstrap's broad role
    assert access.check(info).allowed and access.check(info).least_privilege is None
    with pytest.raises(ServiceError, match="has no least-privilege policy"):
        access.allow_called_endpoints(OPERATOR, info)
