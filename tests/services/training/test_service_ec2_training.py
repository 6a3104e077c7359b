"""The EC2 path: the RunInstances request AWS receives (moto accepts it), user data that decodes, holds
no credentials and really runs, and describe/terminate."""

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.training.ec2_training import (
    ARTIFACT_TAG,
    CPU_AMI,
    GPU_AMI,
    JOB_TAG,
    RECORDING_TAG,
    Ec2Job,
    Ec2Options,
    Ec2TrainingService,
    check_options,
)
from services.training.ec2_user_data import build_user_data
from services.training.job_spec import TrainingSpec, recording_uri

SETTINGS = CloudSettings(endpoint_url=None, region="us-east-1", profile=None)
BUCKET = "sagemaker-us-east-1-123456789012"
SPEC = TrainingSpec(
    job_name="dog-breed-ec2-1",
    data_uri=f"s3://{BUCKET}/datasets/dogs/",
    output_path=f"s3://{BUCKET}/training-output/",
    batch_size=2,
    epochs=1,
)
MOTO_AMI = "ami-03cf127a"  # one of moto's built-in AMIs


@pytest.fixture
def aws(boto3_session, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with mock_aws():
        yield boto3_session


def test_user_data_script_shape_and_no_secrets(monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    script = build_user_data(SPEC, region="us-east-1")
    assert script.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in script
    assert "shutdown -h now" in script and "trap finish EXIT" in script
    for needle in [
        "SM_MODEL_DIR",
        "SM_CHANNEL_TRAINING",
        "SM_OUTPUT_DATA_DIR",
        '"train.py"',
        "model.tar.gz",
        f"s3://{BUCKET}/training-output/dog-breed-ec2-1/output/model.tar.gz",
        f"s3://{BUCKET}/dog-breed-ec2-1/source/sourcedir.tar.gz",
        '"fine_tune": "head"',
    ]:
        assert needle in script
    for secret in ["AKIA", "wJalrXUtnFEMI", "aws_secret_access_key", "AWS_SECRET", "SessionToken"]:
        assert secret not in script
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)  # it parses


def test_run_instances_request_is_accepted_by_aws(aws) -> None:
    ec2 = aws.client("ec2", region_name="us-east-1")
    service = Ec2TrainingService(aws, ec2_client=ec2, settings=SETTINGS)
    request = service.build_request(SPEC, Ec2Options(ami=MOTO_AMI, instance_profile=None))
    instance_id = ec2.run_instances(**request)["Instances"][0]["InstanceId"]

    user_data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
    decoded = base64.b64decode(user_data).decode()
    assert decoded == build_user_data(SPEC, region="us-east-1")
    assert "AKIA" not in decoded and "wJalrXUtnFEMI" not in decoded
    behaviour = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"

    job = service.describe_ec2_job(instance_id)
    assert (job.job_name, job.state, job.instance_type) == ("dog-breed-ec2-1", "running", "m5.xlarge")
    assert job.artifact == f"s3://{BUCKET}/training-output/dog-breed-ec2-1/output/model.tar.gz"
    assert job.artifact_present is False
    assert [j.instance_id for j in service.list_ec2_jobs()] == [instance_id]
    assert service.terminate(instance_id) == "shutting-down"


def test_the_image_fits_the_instance_type() -> None:
    service = Ec2TrainingService(settings=SETTINGS)
    assert service.build_request(SPEC, Ec2Options(instance_type="m5.xlarge"))["ImageId"] == CPU_AMI
    assert service.build_request(SPEC, Ec2Options(instance_type="g5.xlarge"))["ImageId"] == GPU_AMI
    assert service.build_request(SPEC, Ec2Options(ami=MOTO_AMI, instance_type="g5.xlarge"))["ImageId"] == MOTO_AMI
    # The CPU image has no PyTorch: the user data installs it (where the imports fail) before training.
    script = build_user_data(SPEC, region="us-east-1")
    assert (
        "python3 -m venv /opt/dog-breed" in script and "pip install -q boto3 torch efficientnet-lite-pytorch" in script
    )


def test_an_ec2_machines_cost_is_its_list_price_while_it_lives() -> None:
    launched = datetime(2026, 5, 1, tzinfo=UTC)
    machine = Ec2Job("i-0123456789abcdef0", "j", "running", None, "m5.xlarge", launched, None, None, "")
    assert machine.notional_cost(launched + timedelta(hours=2)) == pytest.approx(2 * 0.192)
    assert replace(machine, instance_type="x9.huge").notional_cost(launched) is None  # no price known
    assert replace(machine, state="terminated").notional_cost(launched) is None


def test_request_defaults_and_profile() -> None:
    request = Ec2TrainingService(settings=SETTINGS).build_request(SPEC, Ec2Options())
    assert request["ImageId"] == CPU_AMI
    assert request["IamInstanceProfile"] == {"Name": "dog-breed-ec2-training"}
    assert request["InstanceInitiatedShutdownBehavior"] == "terminate"
    tags = {t["Key"]: t["Value"] for t in request["TagSpecifications"][0]["Tags"]}
    assert tags["Name"] == tags[JOB_TAG] == "dog-breed-ec2-1"
    assert tags[ARTIFACT_TAG].endswith("/dog-breed-ec2-1/output/model.tar.gz")
    assert tags[RECORDING_TAG] == recording_uri(SPEC)  # where the Debugger and Profiler tabs read


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Ec2Options(ami="ubuntu"), "is not an AMI id"),
        (Ec2Options(instance_type="ml.m5.xlarge"), "not an EC2 instance type"),
        (Ec2Options(instance_profile="bad profile!"), "not an instance profile"),
        (Ec2Options(ami=GPU_AMI, instance_type="m5.xlarge"), "needs a GPU instance type"),
        (Ec2Options(max_runtime_s=10), "Maximum run time must be between 60 s"),
    ],
)
def test_bad_options(options, message) -> None:
    with pytest.raises(ServiceError, match=message):
        check_options(options)


def test_launch_on_ec2_uploads_code_then_runs_the_machine(aws) -> None:
    s3 = aws.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for i in range(2):
        s3.put_object(Bucket=BUCKET, Key=f"datasets/dogs/train/001.A/{i}.jpg", Body=b"x")
    service = Ec2TrainingService(aws, settings=SETTINGS)
    with pytest.raises(ServiceError, match="Instance profile dog-breed-ec2-training not found"):
        service.launch_on_ec2(SPEC, Ec2Options(ami=MOTO_AMI))
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="dog-breed-ec2-1/")["KeyCount"] == 0  # code removed again
    aws.client("iam").create_instance_profile(InstanceProfileName="dog-breed-ec2-training")
    instance_id = service.launch_on_ec2(SPEC, Ec2Options(ami=MOTO_AMI))
    assert instance_id.startswith("i-")
    assert s3.head_object(Bucket=BUCKET, Key="dog-breed-ec2-1/source/sourcedir.tar.gz")["ContentLength"] > 0


def machine_env(tmp_path) -> dict[str, str]:
    """The test's environment with this venv's Python first on PATH, as localcloud gives its machines (it
    has torch and boto3, so the script installs nothing)."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return {**os.environ, "TMPDIR": str(tmp_path), "PATH": path}


def sourcedir(train: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(train)
        archive.addfile(info, io.BytesIO(train.encode()))
    return buffer.getvalue()


SLOW_TRAIN = """
import json, os, pathlib, signal, sys, time
def save(signum, frame):
    (pathlib.Path(os.environ["SM_MODEL_DIR"]) / "model.json").write_text(json.dumps({"stopped_after_epoch": 1}))
    print("saved the model of epoch 1", flush=True)
    EXIT
signal.signal(signal.SIGTERM, save)
print("Epoch 1/100: train_loss=2.0000 train_acc=0.1000 valid_loss=1.9000 valid_acc=0.2000", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.mark.parametrize(
    "exit_after_saving",
    [
        "sys.exit(0)",
        # Killed once saved: what the second SIGTERM (the process group's, then the runner's) does to a Python
        # script a few milliseconds into its exit. Its model is uploaded all the same.
        "os.kill(os.getpid(), signal.SIGKILL)",
    ],
)
def test_the_maximum_run_time_ends_training_keeps_its_model_and_ends_the_script(
    aws_env, tmp_path, exit_after_saving: str
) -> None:
    s3 = aws_env.session().client("s3", endpoint_url=aws_env.endpoint_url)
    bucket = "ec2-max-runtime-killed" if "kill" in exit_after_saving else "ec2-max-runtime-exited"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="datasets/d/train/001.A/a.jpg", Body=b"x")
    spec = TrainingSpec(job_name="slow-1", data_uri=f"s3://{bucket}/datasets/d/", output_path=f"s3://{bucket}/out/")
    train = SLOW_TRAIN.replace("EXIT", exit_after_saving)
    s3.put_object(Bucket=bucket, Key="slow-1/source/sourcedir.tar.gz", Body=sourcedir(train))
    # Long enough for a busy machine to start train.py before the maximum run time ends it.
    script = build_user_data(spec, region="us-east-1", max_runtime_s=15)
    result = subprocess.run(
        ["bash", "-c", script], env=machine_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 124, result.stderr  # timeout's status: the script's exit shuts the machine down
    assert "Maximum run time of 15 s reached" in result.stdout
    assert "saved the model of epoch 1" in result.stdout
    model = s3.get_object(Bucket=bucket, Key="out/slow-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as archive:
        assert json.loads(archive.extractfile("model.json").read()) == {"stopped_after_epoch": 1}


def test_the_user_data_really_trains_and_uploads(aws_env, tmp_path) -> None:
    """Run the script with bash against localcloud's S3, a tiny dataset and a stand-in train.py that writes
    its arguments and environment into the model dir (the real script is tested in tests/classifier)."""
    session = aws_env.session()
    s3 = session.client("s3", endpoint_url=aws_env.endpoint_url)
    bucket = "ec2-user-data-test"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="datasets/d/train/001.A/a.jpg", Body=b"x")
    train = (
        "import json, os, sys, pathlib\n"
        "out = pathlib.Path(os.environ['SM_MODEL_DIR'])\n"
        "data = pathlib.Path(os.environ['SM_CHANNEL_TRAINING'])\n"
        "(out / 'seen.json').write_text(json.dumps({'argv': sys.argv[1:], "
        "'files': sorted(str(p.relative_to(data)) for p in data.rglob('*') if p.is_file())}))\n"
        "system = pathlib.Path(os.environ['SM_OUTPUT_DIR']) / 'tensorboard' / 'system'\n"
        "system.mkdir(parents=True)\n"
        "(system / 'algo-1.json').write_text('{}\\n')\n"
    )
    spec = TrainingSpec(
        job_name="ud-1",
        data_uri=f"s3://{bucket}/datasets/d/",
        output_path=f"s3://{bucket}/out/",
        batch_size=1,
        epochs=1,
    )
    s3.put_object(Bucket=bucket, Key="ud-1/source/sourcedir.tar.gz", Body=sourcedir(train))
    script = build_user_data(spec, region="us-east-1")
    result = subprocess.run(
        ["bash", "-c", script], env=machine_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    model = s3.get_object(Bucket=bucket, Key="out/ud-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as archive:
        seen = json.loads(archive.extractfile("seen.json").read())
    assert seen == {
        "argv": ["--batch_size", "1", "--epochs", "1", "--fine_tune", "head", "--learning_rate", "0.001"],
        "files": ["train/001.A/a.jpg"],
    }
    # the recording train.py writes under SM_OUTPUT_DIR/tensorboard lands beside the model
    assert s3.get_object(Bucket=bucket, Key="out/ud-1/tensorboard/system/algo-1.json")["Body"].read() == b"{}\n"


def test_machine_on_localcloud_runs_the_user_data_and_shows_its_console(aws_env) -> None:
    """localcloud runs the user data as the instance; a missing dataset bucket fails it, and the console
    output says why (the training run itself is covered by the user data test above)."""
    settings = CloudSettings(aws_env.endpoint_url, "us-east-1", None)
    service = Ec2TrainingService(aws_env.session(), settings=settings)
    s3 = aws_env.client("s3")
    if "x-out" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        # The output bucket exists, as the dashboard's would: the machine is left with nothing recorded (which the
        # Train page, sharing this localcloud, reads as a note) and only its dataset bucket is missing.
        s3.create_bucket(Bucket="x-out")
    spec = TrainingSpec(job_name="ec2-console", data_uri="s3://no-such-bucket-x/d/", output_path="s3://x-out/o/")
    request = service.build_request(spec, Ec2Options(ami="ami-0123456789abcdef0", instance_profile=None))
    instance_id = aws_env.client("ec2").run_instances(**request)["Instances"][0]["InstanceId"]
    deadline = time.monotonic() + 60
    while (job := service.describe_ec2_job(instance_id)).state not in {"terminated", "stopped"}:
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert "NoSuchBucket" in job.console_output
    assert job.job_name == "ec2-console" and job.artifact_present is False
    assert instance_id in [j.instance_id for j in service.list_ec2_jobs()]
