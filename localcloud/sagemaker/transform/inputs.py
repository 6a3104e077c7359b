"""A transform job's input objects and where each one's answers go, as AWS lays them out.

`S3Prefix`: every object under the key prefix. `ManifestFile`: the objects a manifest lists, a JSON array
`[{"prefix": "s3://bucket/prefix/"}, "relative/key-1", ...]`. Each object's answers go to
`<S3OutputPath>/<its key below the prefix's folder>.out`, so the input's folders are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.auth.as_role import RoleObjects
from localcloud.sagemaker.transform.records import RecordError


def parse_s3(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an s3:// URI; ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[len("s3://") :].split("/", 1)[0]:
        raise ValueError(f"{uri} is not an S3 URI (s3://bucket/prefix)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


@dataclass(frozen=True)
class InputObject:
    bucket: str
    key: str
    relative: str  # below the prefix's folder: what the output keeps

    @property
    def name(self) -> str:
        """How AWS's data log names an object: bucket/key."""
        return f"{self.bucket}/{self.key}"


def _folder(prefix: str) -> str:
    return prefix[: prefix.rfind("/") + 1]


def list_inputs(objects: RoleObjects, source: dict[str, Any]) -> list[InputObject]:
    """The job's input objects, listed (and a manifest read) as the model's execution role."""
    bucket, prefix = parse_s3(source["S3Uri"])
    if source["S3DataType"] == "S3Prefix":
        folder = _folder(prefix)
        return [
            InputObject(bucket, key, key[len(folder) :])
            for key in objects.keys(bucket, prefix)
            if not key.endswith("/")
        ]
    manifest = objects.object_path(bucket, prefix).read_bytes()
    try:
        entries = json.loads(manifest)
        base_bucket, base = parse_s3(entries[0]["prefix"])
        relatives = entries[1:]
        if not all(isinstance(entry, str) for entry in relatives):
            raise ValueError("every entry after the prefix must be a relative key")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise RecordError(
            f"The manifest s3://{bucket}/{prefix} is not a JSON array of a prefix and relative keys "
            f'([{{"prefix": "s3://bucket/prefix/"}}, "relative/key", ...]): {exc}'
        ) from None
    folder = base if base.endswith("/") or not base else base + "/"
    return [InputObject(base_bucket, folder + relative, relative) for relative in relatives]


def output_location(output_path: str, item: InputObject) -> tuple[str, str]:
    """(bucket, key) of an input object's `.out`."""
    bucket, prefix = parse_s3(output_path)
    prefix = prefix.rstrip("/")
    return bucket, f"{prefix}/{item.relative}.out" if prefix else f"{item.relative}.out"
