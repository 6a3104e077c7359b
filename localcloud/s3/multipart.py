"""S3's multipart upload (create, upload a part, complete, abort): parts are files of an upload's folder until
the upload completes into one object, whose ETag is the MD5 of the parts' MD5s with their count, as S3's."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call
from localcloud.core.state import Store


class MultipartUploads:
    """The multipart operations of the S3 service (localcloud/s3/provider.py), which holds the store and folders."""

    store: Store
    blob_dir: Path
    upload_dir: Path

    def _bucket(self, name: str) -> dict: ...

    def _store_blob(self, bucket: str, key: str, data_file: Path, size: int, etag: str, content_type: str) -> None: ...

    def op_CreateMultipartUpload(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        bucket, key = p["Bucket"], p["Key"]
        self._bucket(bucket)
        upload_id = uuid.uuid4().hex
        (self.upload_dir / upload_id).mkdir()
        content_type = p.get("ContentType") or "binary/octet-stream"
        self.store.put("s3-upload", upload_id, {"bucket": bucket, "key": key, "content_type": content_type})
        return {"Bucket": bucket, "Key": key, "UploadId": upload_id}

    def _upload(self, upload_id: str) -> dict:
        upload = self.store.get("s3-upload", upload_id)
        if upload is None:
            raise AwsError("NoSuchUpload", "The specified upload does not exist.", 404, UploadId=upload_id)
        return upload

    def op_UploadPart(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        upload_id, number = p["UploadId"], p["PartNumber"]
        self._upload(upload_id)
        if not 1 <= number <= 10000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000", 400)
        data: bytes = p.get("Body") or b""
        (self.upload_dir / upload_id / f"{number:05d}").write_bytes(data)
        return {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}

    def op_CompleteMultipartUpload(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        bucket, key, upload_id = p["Bucket"], p["Key"], p["UploadId"]
        upload = self._upload(upload_id)
        parts = sorted((self.upload_dir / upload_id).iterdir())
        if not parts:
            raise AwsError("InvalidRequest", "You must specify at least one part", 400)
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        digests, size = b"", 0
        with open(tmp, "wb") as out:
            for part in parts:
                data = part.read_bytes()
                digests += hashlib.md5(data).digest()
                size += len(data)
                out.write(data)
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'
        self._store_blob(bucket, key, tmp, size, etag, upload["content_type"])
        shutil.rmtree(self.upload_dir / upload_id, ignore_errors=True)
        self.store.delete("s3-upload", upload_id)
        return {"Location": f"/{bucket}/{quote(key)}", "Bucket": bucket, "Key": key, "ETag": etag}

    def op_AbortMultipartUpload(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._upload(p["UploadId"])  # an id that names no upload (`..`, ``) is NoSuchUpload, never a path
        shutil.rmtree(self.upload_dir / p["UploadId"], ignore_errors=True)
        self.store.delete("s3-upload", p["UploadId"])
        return {}
