"""A training job's files: its channels and code staged from S3 into the job's directory, and its model and
output data packed back to S3 where SageMaker puts them (runner.py runs the job in between)."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import AwsError


def hyperparameter(value: str) -> str:
    """The SageMaker SDK JSON-encodes hyperparameter values; the toolkit decodes them."""
    try:
        decoded = json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded)


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _s3_failure(error: AwsError, uri: str) -> ValueError:
    """What a job's FailureReason says of an S3 access that failed: S3's error, the URI, S3's words."""
    return ValueError(f"{error.code} ({error.status}) on {uri}: {error.message}")


def download_channels(objects: ObjectStore, job: dict[str, Any], job_dir: Path) -> dict[str, Path]:
    """Copy each channel's S3 prefix into `input/data/<channel>`; a ValueError when a channel finds no object
    or an access fails (`objects` makes each access as the job's execution role)."""
    channels: dict[str, Path] = {}
    for channel in job["InputDataConfig"]:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = _split_s3(uri)
        target = job_dir / "input" / "data" / channel["ChannelName"]
        target.mkdir(parents=True, exist_ok=True)
        count, current = 0, prefix  # `current`: the key being read, for the reason when a read fails
        try:
            for key in objects.keys(bucket, prefix):
                current = key
                relative = key[len(prefix) :].lstrip("/")
                destination = (target / relative).resolve()
                if not relative or not destination.is_relative_to(target.resolve()):
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(objects.object_path(bucket, key), destination)
                count += 1
        except AwsError as error:
            raise _s3_failure(error, f"s3://{bucket}/{current}") from error
        if count == 0:
            raise ValueError(
                f'No S3 objects found under S3 URL "{uri}" given in input data source. '
                "Please ensure that the bucket exists in the selected region, that objects "
                "exist under that S3 prefix, and that the role has access to them."
            )
        channels[channel["ChannelName"]] = target
    return channels


def download_code(objects: ObjectStore, job: dict[str, Any], job_dir: Path) -> Path:
    """Unpack `sagemaker_submit_directory` into `code/`; a ValueError unless it holds `sagemaker_program`."""
    uri = hyperparameter(job["HyperParameters"]["sagemaker_submit_directory"])
    bucket, key = _split_s3(uri)
    code_dir = job_dir / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    try:
        archive = objects.object_path(bucket, key)
    except AwsError as error:
        raise _s3_failure(error, uri) from error
    with tarfile.open(archive) as tar:
        tar.extractall(code_dir, filter="data")
    program = hyperparameter(job["HyperParameters"]["sagemaker_program"])
    if not (code_dir / program).is_file():
        raise ValueError(f"sagemaker_program {program} is not in {uri}")
    return code_dir


def upload_outputs(objects: ObjectStore, job: dict[str, Any], job_dir: Path) -> None:
    """Tar algo-1's model dir (and output data) to S3, where SageMaker puts them; a ValueError when an upload
    fails (the output bucket must exist and the role may write there: nothing creates it on the way)."""
    bucket, key = _split_s3(job["ModelArtifacts"]["S3ModelArtifacts"])
    host_dir = job_dir / "hosts" / "algo-1"
    for source, name in ((host_dir / "model", "model.tar.gz"), (host_dir / "output" / "data", "output.tar.gz")):
        archive = job_dir / name
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            for path in sorted(source.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(source)), recursive=False)
        destination = key.rsplit("/", 1)[0] + "/" + name
        try:
            objects.put_file(bucket, destination, archive)
        except AwsError as error:
            raise _s3_failure(error, f"s3://{bucket}/{destination}") from error
