"""EC2 through real boto3: instances are local processes running their user data."""

from __future__ import annotations

import time

import psutil
import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.localcloud.conftest import assert_shape

AMI = "ami-0123456789abcdef0"
UPLOAD = """#!/bin/bash
set -e
echo "hello from $LOCALCLOUD_INSTANCE_ID"
python3 - <<'PY'
import boto3
boto3.client("s3").put_object(Bucket="ec2-out", Key="result.txt", Body=b"trained")
PY
echo done
"""


def run(ec2, user_data: str, **kwargs) -> str:
    response = ec2.run_instances(
        ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=user_data, **kwargs
    )
    assert_shape(ec2, "RunInstances", response)
    return response["Instances"][0]["InstanceId"]


def wait_state(ec2, instance_id: str, *states: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        if instance["State"]["Name"] in states or time.monotonic() > deadline:
            return instance
        time.sleep(0.1)


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]


@pytest.fixture(scope="module")
def ec2(cloud):
    return cloud.client("ec2")


def test_user_data_runs_with_boto3_and_the_instance_terminates(cloud, ec2):
    cloud.client("s3").create_bucket(Bucket="ec2-out")
    instance_id = run(
        ec2,
        UPLOAD,
        InstanceInitiatedShutdownBehavior="terminate",
        IamInstanceProfile={"Name": "trainer"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "upload"}]}],
    )
    assert instance_id.startswith("i-") and len(instance_id) == 19
    instance = wait_state(ec2, instance_id, "terminated")
    assert instance["State"] == {"Code": 48, "Name": "terminated"}
    assert instance["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    assert instance["PrivateIpAddress"] == "127.0.0.1"
    assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/trainer")
    body = cloud.client("s3").get_object(Bucket="ec2-out", Key="result.txt")["Body"].read()
    assert body == b"trained"
    console = ec2.get_console_output(InstanceId=instance_id, Latest=True)
    assert_shape(ec2, "GetConsoleOutput", console)
    assert f"hello from {instance_id}\n" in console["Output"] and "done\n" in console["Output"]
    logs = cloud.client("logs").get_log_events(logGroupName="/localcloud/ec2/console", logStreamName=instance_id)
    assert f"hello from {instance_id}" in [e["message"] for e in logs["events"]]


def test_default_shutdown_behaviour_stops_the_instance(ec2):
    instance_id = run(ec2, "#!/bin/bash\necho bye\n")
    instance = wait_state(ec2, instance_id, "stopped")
    assert instance["State"] == {"Code": 80, "Name": "stopped"}
    terminated = ec2.terminate_instances(InstanceIds=[instance_id])
    assert_shape(ec2, "TerminateInstances", terminated)
    change = terminated["TerminatingInstances"][0]
    assert (change["PreviousState"]["Name"], change["CurrentState"]["Name"]) == ("stopped", "terminated")


def test_terminate_kills_a_sleeping_instance_and_shutdown_inside_works(ec2):
    sleeper = run(ec2, "#!/bin/bash\necho sleeping\nsleep 600\n")
    wait_state(ec2, sleeper, "running")
    started = time.monotonic()
    change = ec2.terminate_instances(InstanceIds=[sleeper])["TerminatingInstances"][0]
    assert (change["PreviousState"]["Name"], change["CurrentState"]["Name"]) == ("running", "shutting-down")
    instance = wait_state(ec2, sleeper, "terminated")
    assert instance["State"]["Name"] == "terminated" and time.monotonic() - started < 10
    assert instance["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    self_stopping = run(ec2, "#!/bin/bash\necho finishing\nshutdown -h now\nsleep 600\n")
    assert wait_state(ec2, self_stopping, "stopped")["State"]["Name"] == "stopped"


def test_stop_instances_stops_a_running_instance(ec2):
    instance_id = run(ec2, "#!/bin/bash\nsleep 600\n")
    wait_state(ec2, instance_id, "running")
    stopping = ec2.stop_instances(InstanceIds=[instance_id])
    assert_shape(ec2, "StopInstances", stopping)
    assert stopping["StoppingInstances"][0]["CurrentState"] == {"Code": 64, "Name": "stopping"}
    assert wait_state(ec2, instance_id, "stopped")["StateReason"]["Code"] == "Client.UserInitiatedShutdown"


def test_describe_filters_and_paging(ec2):
    tagged = [
        run(
            ec2,
            "#!/bin/bash\nexit 0\n",
            InstanceInitiatedShutdownBehavior="terminate",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"page-{i}"}]}],
        )
        for i in range(3)
    ]
    for instance_id in tagged:
        wait_state(ec2, instance_id, "terminated")
    by_tag = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": ["page-*"]}, {"Name": "instance-state-name", "Values": ["terminated"]}]
    )
    assert_shape(ec2, "DescribeInstances", by_tag)
    assert sorted(i["InstanceId"] for r in by_tag["Reservations"] for i in r["Instances"]) == sorted(tagged)
    assert (
        ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["page-1"]}])["Reservations"][0]["Instances"][0][
            "InstanceId"
        ]
        == tagged[1]
    )
    seen, token = [], None
    while True:
        page = ec2.describe_instances(MaxResults=5, **({"NextToken": token} if token else {}))
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 7 and set(tagged) <= set(seen)


def test_invalid_requests_get_ec2_errors(ec2):
    assert error_of(ec2.run_instances, ImageId="bogus", MinCount=1, MaxCount=1)["Code"] == "InvalidAMIID.Malformed"
    assert error_of(ec2.run_instances, ImageId=AMI, MinCount=2, MaxCount=1)["Code"] == "InvalidParameterValue"
    assert (
        error_of(ec2.run_instances, ImageId=AMI, InstanceType="t9.huge", MinCount=1, MaxCount=1)["Code"]
        == "InvalidParameterValue"
    )
    missing = error_of(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
    assert missing == {
        "Code": "InvalidInstanceID.NotFound",
        "Message": "The instance ID 'i-0123456789abcdef0' does not exist",
    }
    assert error_of(ec2.terminate_instances, InstanceIds=["nope"])["Code"] == "InvalidInstanceID.Malformed"
    assert (
        error_of(ec2.describe_instances, Filters=[{"Name": "colour", "Values": ["x"]}])["Code"]
        == "InvalidParameterValue"
    )
    assert error_of(ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, DryRun=True)["Code"] == "DryRunOperation"
    ssm_image = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
    assert (
        error_of(ec2.run_instances, ImageId=ssm_image, MinCount=1, MaxCount=1, DryRun=True)["Code"] == "DryRunOperation"
    )  # AWS resolves SSM parameters in ImageId


def test_instance_cap_answers_instance_limit_exceeded(ec2):
    sleepers = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=10, UserData="#!/bin/bash\nsleep 600\n")
    ids = [i["InstanceId"] for i in sleepers["Instances"]]
    try:
        assert len(ids) == 4
        error = error_of(ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1)
        assert error["Code"] == "InstanceLimitExceeded"
    finally:
        ec2.terminate_instances(InstanceIds=ids)
    for instance_id in ids:
        assert wait_state(ec2, instance_id, "terminated")["State"]["Name"] == "terminated"


def test_restart_terminates_instances_that_were_running(tmp_path):
    """After a crash (SIGKILL) and after a clean stop, a running instance ends terminated."""
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        crashed = run(cloud.client("ec2"), "#!/bin/bash\nsleep 600 &\necho $! > sleeper.pid\nwait\n")
        wait_state(cloud.client("ec2"), crashed, "running")
        pid_file = tmp_path / "ec2" / crashed / "sleeper.pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        orphan = int(pid_file.read_text())
    finally:
        cloud.process.kill()
        cloud.process.wait()
    cloud.start()
    try:
        ec2 = cloud.client("ec2")
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
        stopped_cleanly = run(ec2, "#!/bin/bash\nsleep 600\n")
        wait_state(ec2, stopped_cleanly, "running")
    finally:
        cloud.stop()
    cloud.start()
    try:
        ec2 = cloud.client("ec2")
        for instance_id in (crashed, stopped_cleanly):
            instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
            assert instance["State"]["Name"] == "terminated"
            assert instance["StateReason"] == {
                "Code": "Server.InternalError",
                "Message": "Server.InternalError: localcloud restarted",
            }
    finally:
        cloud.stop()
