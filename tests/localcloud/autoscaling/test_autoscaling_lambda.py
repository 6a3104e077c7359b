"""Application Auto Scaling of Lambda provisioned concurrency through real boto3 (`lambda` /
`function:<name>:<alias>` / `lambda:function:ProvisionedConcurrency`): registering provisions the minimum,
a target-tracking policy on LambdaProvisionedConcurrencyUtilization owns its alarms, and busy provisioned
environments drive a scale-out, with activities in AWS's words (one-second metric period), that keeps the
environment already warm."""

from __future__ import annotations

import threading

from localcloud.core.process import LocalCloudProcess
from tests.localcloud.autoscaling.test_autoscaling import error_of, fast, until
from tests.localcloud.conftest import assert_shape, function_zip, lambda_role

__all__ = ["fast"]  # the module's localcloud, shared with the endpoint autoscaling tests' definition

FUNCTION, ALIAS = "pc-scaled", "live"
SLOW_HANDLER = """
import time

def lambda_handler(event, context):
    time.sleep(0.2)
    return {"ok": True}
"""


def lambda_target(**kwargs) -> dict:
    return {
        "ServiceNamespace": "lambda",
        "ResourceId": f"function:{FUNCTION}:{ALIAS}",
        "ScalableDimension": "lambda:function:ProvisionedConcurrency",
        **kwargs,
    }


def provisioned(cloud: LocalCloudProcess) -> dict:
    return cloud.client("lambda").get_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier=ALIAS)


def test_provisioned_concurrency_scales_with_its_utilization(fast: LocalCloudProcess) -> None:
    lambda_, scaling = fast.client("lambda"), fast.client("application-autoscaling")
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=lambda_role(fast, "pc-scaled"),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(SLOW_HANDLER)},
    )
    version = lambda_.publish_version(FunctionName=FUNCTION)["Version"]
    lambda_.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=version)

    latest = {**lambda_target(), "ResourceId": f"function:{FUNCTION}:$LATEST"}
    refused = error_of(lambda: scaling.register_scalable_target(**latest, MinCapacity=0, MaxCapacity=2))
    assert refused[0] == "ValidationException" and "$LATEST" in refused[1]
    missing = {**lambda_target(), "ResourceId": "function:no-such-function:live"}
    assert error_of(lambda: scaling.register_scalable_target(**missing, MinCapacity=0, MaxCapacity=2))[0]
    registered = scaling.register_scalable_target(**lambda_target(), MinCapacity=1, MaxCapacity=2)
    assert_shape(scaling, "RegisterScalableTarget", registered)
    described = scaling.describe_scalable_targets(ServiceNamespace="lambda")["ScalableTargets"][0]
    assert described["RoleARN"].endswith(
        "lambda.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency"
    )
    # The minimum is provisioned at once, as AWS moves capacity into a new [min, max].
    first = until(
        lambda: [
            a
            for a in scaling.describe_scaling_activities(ServiceNamespace="lambda")["ScalingActivities"]
            if a["StatusCode"] == "Successful"
        ],
        "the minimum provisioned",
    )[0]
    assert first["Description"] == "Setting desired concurrency to 1."
    assert first["StatusMessage"] == (
        "Successfully set desired concurrency to 1. Change successfully fulfilled by lambda."
    )
    assert provisioned(fast)["Status"] == "READY" and provisioned(fast)["AllocatedProvisionedConcurrentExecutions"] == 1
    (warm,) = fast.health()["lambda_environments"][FUNCTION]

    policy = scaling.put_scaling_policy(
        PolicyName="utilization",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 0.5,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"},
            "ScaleOutCooldown": 0,
        },
        **lambda_target(),
    )
    assert f":resource/lambda/function:{FUNCTION}:{ALIAS}:policyName/utilization" in policy["PolicyARN"]
    nightly = {"ScheduledActionName": "nightly", **lambda_target()}
    scaling.put_scheduled_action(
        Schedule="cron(0 3 * * ? *)", ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 2}, **nightly
    )
    (action,) = scaling.describe_scheduled_actions(ServiceNamespace="lambda")["ScheduledActions"]
    assert f":resource/lambda/function:{FUNCTION}:{ALIAS}:scheduledActionName/nightly" in action["ScheduledActionARN"]
    scaling.delete_scheduled_action(**nightly)
    alarms = fast.client("cloudwatch").describe_alarms(AlarmNames=[a["AlarmName"] for a in policy["Alarms"]])
    metric = {(a["Namespace"], a["MetricName"], a["Statistic"]) for a in alarms["MetricAlarms"]}
    assert metric == {("AWS/Lambda", "ProvisionedConcurrencyUtilization", "Average")}
    assert (
        error_of(
            lambda: scaling.put_scaling_policy(
                PolicyName="wrong",
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": 10.0,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                },
                **lambda_target(),
            )
        )[0]
        == "ValidationException"
    )

    # Callers keep the one provisioned environment busy: utilization 1.0 against a target of 0.5.
    stop = threading.Event()

    def call() -> None:
        client = fast.client("lambda")
        while not stop.is_set():
            client.invoke(FunctionName=FUNCTION, Qualifier=ALIAS, Payload=b"{}")

    callers = [threading.Thread(target=call) for _ in range(2)]
    for caller in callers:
        caller.start()
    try:
        scaled = until(
            lambda: [
                a
                for a in scaling.describe_scaling_activities(ServiceNamespace="lambda")["ScalingActivities"]
                if a["Description"] == "Setting desired concurrency to 2." and a["StatusCode"] == "Successful"
            ],
            "a scale-out to 2",
        )[0]
    finally:
        stop.set()
        for caller in callers:
            caller.join()
    assert scaled["Cause"].startswith(f"monitor alarm TargetTracking-function:{FUNCTION}:{ALIAS}-AlarmHigh-")
    assert provisioned(fast)["RequestedProvisionedConcurrentExecutions"] == 2
    # The scale-out added one environment to the one already warm (AWS starts only the difference).
    until(lambda: provisioned(fast)["AllocatedProvisionedConcurrentExecutions"] == 2, "2 provisioned environments")
    assert warm in fast.health()["lambda_environments"][FUNCTION]

    scaling.deregister_scalable_target(**lambda_target())
    assert scaling.describe_scaling_policies(ServiceNamespace="lambda")["ScalingPolicies"] == []
