"""Application Auto Scaling, CloudWatch alarms and endpoint capacity through real boto3, on a localcloud whose
one-minute period lasts one second (`--metric-period-seconds 1`) and that allows 3 endpoint instances."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.localcloud.autoscaling.scaling_helpers import DIMENSION, Load, resource, target
from tests.localcloud.conftest import assert_shape, deploy_echo

WAIT_S = 120.0


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(
        tmp_path_factory.mktemp("scaling"),
        ["--no-defaults", "--metric-period-seconds", "1", "--endpoint-instances", "3"],
    ).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def endpoints_removed(fast) -> Iterator[None]:
    """Each test's endpoints go when it ends, pass or fail, so the next test has the 3-instance limit to itself."""
    yield
    sagemaker = fast.client("sagemaker")
    for endpoint in sagemaker.list_endpoints()["Endpoints"]:
        sagemaker.delete_endpoint(EndpointName=endpoint["EndpointName"])
    until(lambda: not sagemaker.list_endpoints()["Endpoints"], "the test's endpoints deleted")


def until(condition: Callable[[], object], what: str, wait_s: float = WAIT_S) -> object:
    """Poll until `condition` is truthy (it returns what it found); fail, saying what, after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"never happened: {what}")


def error_of(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def variant(cloud: LocalCloudProcess, name: str) -> dict:
    description = cloud.client("sagemaker").describe_endpoint(EndpointName=name)
    return {"Status": description["EndpointStatus"], **description["ProductionVariants"][0]}


def test_load_scales_out_and_quiet_scales_in(fast):
    scaling, cloudwatch = fast.client("application-autoscaling"), fast.client("cloudwatch")
    deploy_echo(fast, "busy")
    fast.wait_endpoint("busy")
    registered = scaling.register_scalable_target(**target("busy", MinCapacity=1, MaxCapacity=2))
    assert registered["ScalableTargetARN"].startswith("arn:aws:application-autoscaling:us-east-1:")
    policy = scaling.put_scaling_policy(
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 20.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
        **target("busy"),
    )
    assert_shape(scaling, "PutScalingPolicy", policy)
    names = [a["AlarmName"] for a in policy["Alarms"]]
    assert len(names) == 2 and all(n.startswith("TargetTracking-endpoint/busy/variant/AllTraffic-Alarm") for n in names)
    high, low = (next(n for n in names if f"-{kind}-" in n) for kind in ("AlarmHigh", "AlarmLow"))
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    assert (alarms[high]["EvaluationPeriods"], alarms[high]["Threshold"]) == (3, 20.0)
    assert (alarms[low]["EvaluationPeriods"], alarms[low]["Threshold"]) == (15, 18.0)
    assert alarms[high]["MetricName"] == "InvocationsPerInstance" and alarms[high]["Statistic"] == "Sum"

    load = Load(fast, "busy", callers=4, pause_s=0.0)
    try:
        # The alarm is caught while in ALARM: with two instances serving it returns to OK within a period.
        def high_alarm() -> dict:
            return cloudwatch.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]

        state = until(lambda: (a := high_alarm())["StateValue"] == "ALARM" and a, "the high alarm")
        assert state["StateReason"].startswith("Threshold Crossed: 3 datapoints")
        until(lambda: variant(fast, "busy")["DesiredInstanceCount"] == 2, "a scale-out to 2 instances")
        serving = until(lambda: (v := variant(fast, "busy"))["CurrentInstanceCount"] == 2 and v, "2 serving")
        assert serving["Status"] == "InService"
        until(lambda: len(fast.health()["endpoint_instances"]["busy"]) == 2, "two instance processes")
    finally:
        load.stop()
    activities = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource("busy"))
    assert_shape(scaling, "DescribeScalingActivities", activities)
    out = activities["ScalingActivities"][0]
    assert out["Description"] == "Setting desired instance count to 2."
    assert out["Cause"] == f"monitor alarm {high} in state ALARM triggered policy invocations"
    assert out["StatusCode"] == "Successful"
    assert out["StatusMessage"] == (
        "Successfully set desired instance count to 2. Change successfully fulfilled by sagemaker."
    )

    # Quiet, yet a datapoint every period (about 10 calls a second, 5 an instance, against a target of 20); a
    # scale-in waits for 15 low periods in a row, which a busy machine's late metrics can push back.
    quiet = Load(fast, "busy", callers=2, pause_s=0.2)
    try:
        until(lambda: variant(fast, "busy")["CurrentInstanceCount"] == 1, "a scale-in to 1 instance", 2 * WAIT_S)
        until(
            lambda: (
                scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource("busy"))[
                    "ScalingActivities"
                ][0]["StatusCode"]
                == "Successful"
            ),
            "the scale-in to finish",
        )
    finally:
        quiet.stop()
    latest = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource("busy"))
    scale_in = latest["ScalingActivities"][0]
    assert scale_in["Description"] == "Setting desired instance count to 1."
    assert scale_in["Cause"] == f"monitor alarm {low} in state ALARM triggered policy invocations"
    assert cloudwatch.describe_alarms(AlarmNames=[low])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert cloudwatch.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]["StateValue"] == "OK"
    assert load.failures == [] and quiet.failures == []
    assert load.ok > 0 and quiet.ok > 0

    dims = [{"Name": "EndpointName", "Value": "busy"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def statistics(metric: str) -> list[dict]:
        return cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=dims,
            StartTime=end - dt.timedelta(hours=1),
            EndTime=end,
            Period=3600,
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]

    deadline = time.monotonic() + 10  # metrics are published in the background, as CloudWatch's arrive late
    while sum(p["SampleCount"] for p in statistics("Invocations")) < load.ok + quiet.ok and time.monotonic() < deadline:
        time.sleep(0.1)
    for metric in ("Invocations", "InvocationsPerInstance", "ModelLatency", "OverheadLatency", "Invocation5XXErrors"):
        stats = statistics(metric)
        assert stats and stats[0]["SampleCount"] >= load.ok + quiet.ok, metric
        if metric == "Invocation5XXErrors":
            assert stats[0]["Sum"] == 0


def test_bad_input_is_refused_as_aws_refuses_it(fast):
    scaling, sagemaker = fast.client("application-autoscaling"), fast.client("sagemaker")
    deploy_echo(fast, "strict")
    fast.wait_endpoint("strict")
    code, message = error_of(lambda: scaling.register_scalable_target(**target("strict", MinCapacity=3, MaxCapacity=2)))
    assert (code, message) == ("ValidationException", "Minimum capacity cannot be greater than maximum capacity")
    code, message = error_of(
        lambda: scaling.register_scalable_target(**target("nowhere", MinCapacity=1, MaxCapacity=2))
    )
    assert code == "ValidationException" and "Could not find endpoint" in message
    code, message = error_of(
        lambda: scaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource("strict", "Other"),
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=2,
        )
    )
    assert code == "ValidationException" and "[Other]" in message
    code, message = error_of(
        lambda: scaling.put_scaling_policy(
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            **target("strict"),
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 10.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
        )
    )
    assert code == "ObjectNotFoundException" and message.startswith("No scalable target registered for service")

    scaling.register_scalable_target(**target("strict", MinCapacity=1, MaxCapacity=2))
    for value in (0.0, -5.0):
        code, message = error_of(
            lambda value=value: scaling.put_scaling_policy(
                PolicyName="p",
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": value,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                },
                **target("strict"),
            )
        )
        assert code == "ValidationException" and "targetValue" in message
    custom = {
        "PolicyName": "custom",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 50.0,
            "CustomizedMetricSpecification": {
                "Namespace": "AWS/SageMaker",
                "MetricName": "ModelLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": "strict"}],
                "Statistic": "Average",
            },
            "DisableScaleIn": True,
        },
        **target("strict"),
    }
    first = scaling.put_scaling_policy(**custom)["PolicyARN"]
    again = scaling.put_scaling_policy(**custom)["PolicyARN"]  # put again: the same policy, the same ARN
    assert again == first and first.split(":")[5] == "scalingPolicy" and str(uuid.UUID(first.split(":")[6]))
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource("strict"))
    assert_shape(scaling, "DescribeScalingPolicies", policies)
    assert [len(p["Alarms"]) for p in policies["ScalingPolicies"]] == [1]  # DisableScaleIn: no AlarmLow

    # the machine allows 3 instances: a minimum of 4 is accepted, and fails as AWS's quota fails
    scaling.register_scalable_target(**target("strict", MinCapacity=4, MaxCapacity=5))
    failed = until(
        lambda: [
            a
            for a in scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource("strict"))[
                "ScalingActivities"
            ]
            if a["StatusCode"] == "Failed"
        ],
        "a failed activity",
    )[0]
    assert failed["Description"] == "Setting desired instance count to 4."
    assert failed["Cause"] == "minimum capacity was set to 4"
    assert "Error Code: ResourceLimitExceeded" in failed["StatusMessage"]
    assert variant(fast, "strict")["CurrentInstanceCount"] == 1
    code, _ = error_of(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="strict",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 9}],
        )
    )
    assert code == "ResourceLimitExceeded"

    alarms = [a["AlarmName"] for p in policies["ScalingPolicies"] for a in p["Alarms"]]
    sagemaker.delete_endpoint(EndpointName="strict")
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource("strict")])[
            "ScalableTargets"
        ]
        == []
    )
    assert fast.client("cloudwatch").describe_alarms(AlarmNames=alarms)["MetricAlarms"] == []
    code, _ = error_of(
        lambda: scaling.put_scaling_policy(
            PolicyName="late",
            PolicyType="TargetTrackingScaling",
            **target("strict"),
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 10.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
        )
    )
    assert code == "ObjectNotFoundException"


def test_capacity_by_hand_and_on_schedule(fast):
    scaling, sagemaker = fast.client("application-autoscaling"), fast.client("sagemaker")
    deploy_echo(fast, "planned")
    fast.wait_endpoint("planned")
    answer = sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="planned", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]
    )
    assert answer["EndpointArn"].endswith(":endpoint/planned")
    assert variant(fast, "planned")["DesiredInstanceCount"] == 2
    until(lambda: (v := variant(fast, "planned"))["CurrentInstanceCount"] == 2 and v["Status"] == "InService", "2")

    scaling.register_scalable_target(**target("planned", MinCapacity=1, MaxCapacity=2))
    code, _ = error_of(
        lambda: scaling.put_scheduled_action(
            ScheduledActionName="bad", Schedule="rate(5 fortnights)", **target("planned")
        )
    )
    assert code == "ValidationException"
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    scaling.put_scheduled_action(
        ScheduledActionName="night",
        Schedule=f"at({when})",
        ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 1},
        **target("planned"),
    )
    described = scaling.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=resource("planned"))
    assert_shape(scaling, "DescribeScheduledActions", described)
    assert [a["Schedule"] for a in described["ScheduledActions"]] == [f"at({when})"]
    until(lambda: variant(fast, "planned")["CurrentInstanceCount"] == 1, "the scheduled scale-in")
    activity = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource("planned"))[
        "ScalingActivities"
    ][0]
    assert activity["Cause"] == "scheduled action name night was triggered"
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource("planned")])
    assert_shape(scaling, "DescribeScalableTargets", targets)
    assert targets["ScalableTargets"][0]["MaxCapacity"] == 1
    scaling.delete_scheduled_action(ScheduledActionName="night", **target("planned"))
    code, _ = error_of(lambda: scaling.delete_scheduled_action(ScheduledActionName="night", **target("planned")))
    assert code == "ObjectNotFoundException"
    scaling.deregister_scalable_target(**target("planned"))
    code, _ = error_of(lambda: scaling.deregister_scalable_target(**target("planned")))
    assert code == "ObjectNotFoundException"


def test_metric_alarms_are_evaluated_against_stored_metrics(fast):
    cloudwatch = fast.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="queue-deep",
        Namespace="Shop",
        MetricName="QueueDepth",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=100.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=["queue-deep"])
    assert_shape(cloudwatch, "DescribeAlarms", alarm)
    assert alarm["MetricAlarms"][0]["StateValue"] == "INSUFFICIENT_DATA"

    def state_after(value: float) -> str:
        cloudwatch.put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "QueueDepth", "Value": value}])
        return cloudwatch.describe_alarms(AlarmNames=["queue-deep"])["MetricAlarms"][0]["StateValue"]

    until(lambda: state_after(500.0) == "ALARM", "ALARM while the queue is deep")
    until(lambda: state_after(5.0) == "OK", "OK once it drains")
    cloudwatch.set_alarm_state(AlarmName="queue-deep", StateValue="ALARM", StateReason="testing the pager")
    alarm = cloudwatch.describe_alarms(AlarmNames=["queue-deep"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing the pager")
    code, _ = error_of(lambda: cloudwatch.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="x"))
    assert code == "ResourceNotFound"
    code, _ = error_of(
        lambda: cloudwatch.put_metric_alarm(
            AlarmName="odd",
            Namespace="Shop",
            MetricName="QueueDepth",
            Statistic="Maximum",
            Period=45,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    )
    assert code == "InvalidParameterValue"
    cloudwatch.delete_alarms(AlarmNames=["queue-deep"])
    assert cloudwatch.describe_alarms(AlarmNames=["queue-deep"])["MetricAlarms"] == []


def test_each_instance_publishes_its_cpu_once_a_period(fast):
    deploy_echo(fast, "cpu")
    fast.wait_endpoint("cpu")
    runtime, cloudwatch = fast.client("sagemaker-runtime"), fast.client("cloudwatch")
    for _ in range(20):
        runtime.invoke_endpoint(EndpointName="cpu", Body=b"hi", ContentType="text/plain")
    dims = [{"Name": "EndpointName", "Value": "cpu"}, {"Name": "VariantName", "Value": "AllTraffic"}]

    def datapoints() -> list[dict]:
        end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        return cloudwatch.get_metric_statistics(
            Namespace="/aws/sagemaker/Endpoints",
            MetricName="CPUUtilization",
            Dimensions=dims,
            StartTime=end - dt.timedelta(hours=1),
            EndTime=end,
            Period=3600,
            Statistics=["SampleCount", "Minimum", "Maximum"],
            Unit="Percent",
        )["Datapoints"]

    found = until(lambda: [d for d in datapoints() if d["SampleCount"] >= 2], "two CPUUtilization samples")[0]
    assert 0 <= found["Minimum"] <= found["Maximum"]
    fast.client("sagemaker").delete_endpoint(EndpointName="cpu")
