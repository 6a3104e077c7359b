"""S3 (path-style): buckets and objects stored as files, metadata in SQLite.

Enough of S3 for model artifacts, datasets and code bundles: the calls boto3 makes for
put/get (with ranges, as download_file does)/head/list v2/delete, server-side copy and multipart upload.
The wire (REST-XML, aws-chunked bodies) is codecs/rest_xml.py's.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from localcloud.core.protocol import STATUS, AwsError
from localcloud.core.registry import Call, Service
from localcloud.core.state import Store
from localcloud.s3.multipart import MultipartUploads

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3(MultipartUploads, Service):
    """The S3 service; `object_path` and `put_file` let other services use its objects."""

    model_name = "s3"
    validation_code = "InvalidArgument"  # S3 has no ValidationException: a malformed input is an InvalidArgument
    # S3's operations as IAM names them (a HEAD reads, a multipart upload puts, a listing lists the bucket)
    iam_actions = {
        "ListBuckets": "ListAllMyBuckets",
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "HeadBucket": "ListBucket",
        "HeadObject": "GetObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "DeleteObjects": "DeleteObject",
        "CopyObject": "PutObject",  # on the destination; the source's s3:GetObject is `also_authorized`
    }

    def condition_keys(self, operation: str, params: dict[str, Any]) -> dict[str, list[str]]:
        """A listing carries `s3:prefix` (empty when none was asked for), `s3:delimiter` and `s3:max-keys`."""
        if operation not in ("ListObjects", "ListObjectsV2"):
            return {}
        keys = {"s3:prefix": [params.get("Prefix") or ""]}
        if params.get("Delimiter"):
            keys["s3:delimiter"] = [params["Delimiter"]]
        if "MaxKeys" in params:
            keys["s3:max-keys"] = [str(params["MaxKeys"])]
        return keys

    def also_authorized(self, operation: str, params: dict[str, Any], call: Call) -> list[tuple[str, str]]:
        if operation != "CopyObject":
            return []
        bucket, key, _ = _copy_source(params["CopySource"])
        return [("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")]

    def resource_arns(self, operation: str, params: dict[str, Any], call: Call) -> list[str]:
        if "Bucket" not in params:
            return ["*"]
        bucket_arn = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "DeleteObjects":
            return [f"{bucket_arn}/{o['Key']}" for o in params["Delete"].get("Objects") or []] or [bucket_arn]
        return [f"{bucket_arn}/{params['Key']}" if "Key" in params else bucket_arn]

    def __init__(self, store: Store) -> None:
        self.store = store
        self.blob_dir = store.data_dir / "s3" / "blobs"
        self.upload_dir = store.data_dir / "s3" / "uploads"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self._conditional = threading.Lock()  # a conditional write checks and stores as one step

    # internal use ---------------------------------------------------------------
    def keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys under `prefix`, in order; NoSuchBucket when there is no such bucket."""
        self._bucket(bucket)
        return [obj["key"] for obj in self.store.iter_objects(bucket, prefix, "")]

    def object_path(self, bucket: str, key: str) -> Path:
        """The file behind s3://bucket/key, for services that consume artifacts."""
        self._bucket(bucket)
        meta = self.store.get_object(bucket, key)
        if meta is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=key)
        return self.blob_dir / meta["blob"]

    def put_file(self, bucket: str, key: str, source: Path, content_type: str = "application/x-gzip") -> None:
        """Store a local file as s3://bucket/key (services that produce artifacts, like training); as S3 does,
        NoSuchBucket when the bucket does not exist (nothing creates it on the way)."""
        self._bucket(bucket)
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        shutil.copyfile(source, tmp)
        self._store_blob(bucket, key, tmp, source.stat().st_size, f'"{_md5_of(tmp)}"', content_type)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "binary/octet-stream") -> None:
        """Store bytes as s3://bucket/key (a transform job's answers); NoSuchBucket as S3 answers."""
        self._bucket(bucket)
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        self._store_blob(bucket, key, tmp, len(data), f'"{hashlib.md5(data).hexdigest()}"', content_type)

    # buckets --------------------------------------------------------------------
    def _bucket(self, name: str) -> dict:
        bucket = self.store.get("s3-bucket", name)
        if bucket is None:
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=name)
        return bucket

    def op_ListBuckets(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        buckets = [{"Name": b["Name"], "CreationDate": b["CreationDate"]} for b in self.store.all("s3-bucket")]
        return {"Buckets": buckets, "Owner": {"ID": "localcloud"}}

    def op_CreateBucket(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["Bucket"]
        if not _BUCKET_NAME.match(name) or ".." in name:
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)
        created = self.store.insert(
            "s3-bucket", name, {"Name": name, "CreationDate": time.time(), "Region": call.region}
        )
        if not created:
            raise AwsError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                409,
                BucketName=name,
            )
        return {"Location": f"/{name}"}

    def op_HeadBucket(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"BucketRegion": self._bucket(p["Bucket"]).get("Region", call.region)}

    def op_GetBucketLocation(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        region = self._bucket(p["Bucket"]).get("Region", "us-east-1")
        return {"LocationConstraint": "" if region == "us-east-1" else region}  # S3 answers us-east-1 as empty

    def op_DeleteBucket(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["Bucket"]
        self._bucket(name)
        if self.store.count_objects(name):
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=name)
        self.store.delete("s3-bucket", name)
        return {}

    # objects --------------------------------------------------------------------
    def _store_blob(self, bucket: str, key: str, data_file: Path, size: int, etag: str, content_type: str) -> None:
        blob = uuid.uuid4().hex
        data_file.replace(self.blob_dir / blob)
        replaced = self.store.put_object(
            bucket, key, size=size, etag=etag, content_type=content_type, last_modified=time.time(), blob=blob
        )
        if replaced:
            (self.blob_dir / replaced).unlink(missing_ok=True)

    def op_PutObject(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """A write; with IfMatch (the ETag it replaces) or IfNoneMatch `*` (only if there is none), a conditional
        write that S3 refuses with PreconditionFailed when the object changed meanwhile."""
        self._bucket(p["Bucket"])
        data: bytes = p.get("Body") or b""
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        content_type = p.get("ContentType") or "binary/octet-stream"
        if "IfMatch" not in p and "IfNoneMatch" not in p:
            self._store_blob(p["Bucket"], p["Key"], tmp, len(data), etag, content_type)
            return {"ETag": etag}
        with self._conditional:
            try:
                self._check_condition(p)
            except AwsError:
                tmp.unlink(missing_ok=True)
                raise
            self._store_blob(p["Bucket"], p["Key"], tmp, len(data), etag, content_type)
        return {"ETag": etag}

    def _check_condition(self, p: dict[str, Any]) -> None:
        """S3's documented use is IfNoneMatch `*` (create only) and IfMatch an ETag (replace only that version);
        an ETag in IfNoneMatch is read as HTTP reads it (refused while the object has that ETag)."""
        current = self.store.get_object(p["Bucket"], p["Key"])
        if "IfMatch" in p and current is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=p["Key"])
        held = current["etag"].strip('"') if current else None
        unmet = ("IfMatch" in p and p["IfMatch"].strip('"') != held) or (
            "IfNoneMatch" in p and held is not None and p["IfNoneMatch"].strip('"') in ("*", held)
        )
        if unmet:
            raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)

    def op_CopyObject(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """A server-side copy: the source's bytes, and its content type unless MetadataDirective is REPLACE."""
        bucket, key, version = _copy_source(p["CopySource"])
        self._bucket(p["Bucket"])
        source = self._object({"Bucket": bucket, "Key": key})
        if version not in (None, "null"):  # buckets here are never versioned: only the null version exists
            raise AwsError("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version)
        if p.get("CopySourceIfMatch") not in (None, source["etag"], source["etag"].strip('"')) or p.get(
            "CopySourceIfNoneMatch"
        ) in (source["etag"], source["etag"].strip('"')):
            raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
        directive = p.get("MetadataDirective") or "COPY"
        if (bucket, key) == (p["Bucket"], p["Key"]) and directive == "COPY":
            raise AwsError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself without changing the "
                "object's metadata, storage class, website redirect location or encryption attributes.",
                400,
            )
        if directive == "REPLACE":
            content_type = p.get("ContentType") or "binary/octet-stream"
        else:
            content_type = source["content_type"]
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        shutil.copyfile(self.blob_dir / source["blob"], tmp)
        etag = source["etag"]
        if "-" in etag:  # a multipart upload's ETag: the copy is one part, so its ETag is its MD5
            etag = f'"{_md5_of(tmp)}"'
        self._store_blob(p["Bucket"], p["Key"], tmp, source["size"], etag, content_type)
        copied = self._object({"Bucket": p["Bucket"], "Key": p["Key"]})
        return {"CopyObjectResult": {"ETag": etag, "LastModified": copied["last_modified"]}}

    def _object(self, p: dict[str, Any]) -> dict[str, Any]:
        self._bucket(p["Bucket"])
        meta = self.store.get_object(p["Bucket"], p["Key"])
        if meta is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=p["Key"])
        return meta

    def op_HeadObject(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._read(p, body=False)

    def op_GetObject(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._read(p, body=True)

    def _read(self, p: dict[str, Any], *, body: bool) -> dict[str, Any]:
        meta = self._object(p)
        size = meta["size"]
        output: dict[str, Any] = {
            "ETag": meta["etag"],
            "ContentType": meta["content_type"],
            "LastModified": meta["last_modified"],
            "AcceptRanges": "bytes",
        }
        start, end = 0, size - 1
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", p.get("Range") or "")
        if ranged and size:
            first, last = ranged.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(size - int(last), 0), size - 1
            if start > end:
                raise AwsError("InvalidRange", "The requested range is not satisfiable", 416)
            output[STATUS] = 206
            output["ContentRange"] = f"bytes {start}-{end}/{size}"
        output["ContentLength"] = end - start + 1 if size else 0
        if body:
            with open(self.blob_dir / meta["blob"], "rb") as f:
                f.seek(start)
                output["Body"] = f.read(end - start + 1) if size else b""
        return output

    def _remove(self, bucket: str, key: str) -> None:
        blob = self.store.delete_object(bucket, key)
        if blob:
            (self.blob_dir / blob).unlink(missing_ok=True)

    def op_DeleteObject(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._bucket(p["Bucket"])
        self._remove(p["Bucket"], p["Key"])
        return {}

    def op_DeleteObjects(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._bucket(p["Bucket"])
        keys = [o["Key"] for o in p["Delete"].get("Objects") or []]
        for key in keys:
            self._remove(p["Bucket"], key)
        return {"Deleted": [{"Key": k} for k in keys]}

    def op_ListObjectsV2(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        token = p.get("ContinuationToken", "")
        output, last = self._listing(p, start_after=token or p.get("StartAfter", ""))
        output["KeyCount"] = len(output["Contents"]) + len(output["CommonPrefixes"])
        if output["IsTruncated"]:
            output["NextContinuationToken"] = last
        if token:
            output["ContinuationToken"] = token
        return output

    def op_ListObjects(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """The first version of the listing: pages by Marker; NextMarker only when grouping by a delimiter."""
        marker = p.get("Marker", "")
        output, last = self._listing(p, start_after=marker)
        output["Marker"] = marker
        if output["IsTruncated"] and "Delimiter" in output:
            output["NextMarker"] = last
        return output

    def _listing(self, p: dict[str, Any], *, start_after: str) -> tuple[dict[str, Any], str]:
        """One page of a bucket's keys after `start_after`, grouped by the delimiter, and where it ended."""
        bucket = p["Bucket"]
        self._bucket(bucket)
        prefix = p.get("Prefix", "")
        delimiter = p.get("Delimiter", "")
        max_keys = p.get("MaxKeys", 1000)
        contents: list[dict[str, Any]] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        for obj in self.store.iter_objects(bucket, prefix, start_after):
            key = obj["key"]
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(common)
                    last = common + "\uffff"
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(obj)
            last = key
        output: dict[str, Any] = {
            "Name": bucket,
            "Prefix": prefix,
            "MaxKeys": max_keys,
            "IsTruncated": truncated,
            "Contents": [
                {
                    "Key": o["key"],
                    "LastModified": o["last_modified"],
                    "ETag": o["etag"],
                    "Size": o["size"],
                    "StorageClass": "STANDARD",
                }
                for o in contents
            ],
            "CommonPrefixes": [{"Prefix": common} for common in prefixes],
        }
        if delimiter:
            output["Delimiter"] = delimiter
        return output, last


def _copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source (`bucket/key`, URL-encoded, optionally `?versionId=`) as (bucket, key, version)."""
    path, _, query = value.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise AwsError(
            "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", 400
        )
    version = parse_qs(query).get("versionId", [None])[0]
    return bucket, key, version


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
