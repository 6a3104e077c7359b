"""S3 over REST-XML, path-style: buckets and objects stored as files, metadata in SQLite.

Enough of S3 for model artifacts, datasets and code bundles: the calls boto3 makes for
put/get (with ranges, as download_file does)/head/list v2/delete and multipart upload.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote
from xml.etree import ElementTree

from localcloud.protocol import AwsError, Request, Response, xml_escape
from localcloud.state import Store

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _xml(root: str, inner: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{_XMLNS}">{inner}</{root}>'
    return Response(200, {"Content-Type": "application/xml"}, body.encode())


def s3_error(error: AwsError, method: str) -> Response:
    if method == "HEAD":  # HEAD answers carry no body
        return Response(error.status)
    extra = "".join(f"<{k}>{xml_escape(str(v))}</{k}>" for k, v in error.extra.items())
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{error.code}</Code>'
        f"<Message>{xml_escape(error.message)}</Message>{extra}<RequestId>localcloud</RequestId></Error>"
    )
    return Response(error.status, {"Content-Type": "application/xml"}, body.encode())


def decode_aws_chunked(body: bytes) -> bytes:
    """Undo botocore's `aws-chunked` content encoding (chunks plus trailing checksum)."""
    out = bytearray()
    pos = 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            return bytes(out)
        out += body[pos : pos + size]
        pos += size + 2


class S3:
    """The S3 service; `read_object` lets other services fetch artifacts from it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.blob_dir = store.data_dir / "s3" / "blobs"
        self.upload_dir = store.data_dir / "s3" / "uploads"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.upload_dir.mkdir(parents=True, exist_ok=True)

    # internal use ---------------------------------------------------------------
    def object_path(self, bucket: str, key: str) -> Path:
        """The file behind s3://bucket/key, for services that consume artifacts."""
        meta = self.store.get_object(bucket, key)
        if meta is None:
            raise AwsError("NoSuchKey", f"s3://{bucket}/{key} does not exist", 404)
        return self.blob_dir / meta["blob"]

    def put_file(self, bucket: str, key: str, source: Path, content_type: str = "application/x-gzip") -> None:
        """Store a local file as s3://bucket/key (services that produce artifacts, like training)."""
        digest = hashlib.md5()
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        shutil.copyfile(source, tmp)
        self._store_blob(bucket, key, tmp, source.stat().st_size, f'"{digest.hexdigest()}"', content_type)

    def ensure_bucket(self, name: str, region: str) -> None:
        if self.store.get("s3-bucket", name) is None:
            self.store.put("s3-bucket", name, {"Name": name, "CreationDate": time.time(), "Region": region})

    # dispatch -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        parts = request.path.lstrip("/").split("/", 1)
        bucket = unquote(parts[0])
        key = unquote(parts[1]) if len(parts) > 1 else ""
        query = parse_qs(request.query, keep_blank_values=True)
        method = request.method
        if not bucket:
            if method == "GET":
                return self._list_buckets()
            raise AwsError("MethodNotAllowed", "Unsupported request on the service root", 405)
        if not key:
            if method == "PUT":
                return self._create_bucket(bucket, request)
            if method == "HEAD":
                self._bucket(bucket)
                return Response(200, {"x-amz-bucket-region": request.region})
            if method == "DELETE":
                return self._delete_bucket(bucket)
            if method == "POST" and "delete" in query:
                return self._delete_objects(bucket, request.body)
            if method == "GET" and "location" in query:
                self._bucket(bucket)
                return _xml("LocationConstraint", "")
            if method == "GET":
                return self._list_objects_v2(bucket, query)
        else:
            if method == "PUT" and "uploadId" in query:
                return self._upload_part(bucket, key, query, request)
            if method == "PUT":
                return self._put_object(bucket, key, request)
            if method in ("GET", "HEAD"):
                return self._get_object(bucket, key, request, head=method == "HEAD")
            if method == "DELETE" and "uploadId" in query:
                shutil.rmtree(self.upload_dir / query["uploadId"][0], ignore_errors=True)
                self.store.delete("s3-upload", query["uploadId"][0])
                return Response(204)
            if method == "DELETE":
                self._bucket(bucket)
                self._remove(bucket, key)
                return Response(204)
            if method == "POST" and "uploads" in query:
                return self._create_multipart(bucket, key, request)
            if method == "POST" and "uploadId" in query:
                return self._complete_multipart(bucket, key, query["uploadId"][0])
        raise AwsError("NotImplemented", f"localcloud S3 does not implement {method} {request.path}", 501)

    # buckets --------------------------------------------------------------------
    def _bucket(self, name: str) -> dict:
        bucket = self.store.get("s3-bucket", name)
        if bucket is None:
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=name)
        return bucket

    def _list_buckets(self) -> Response:
        items = "".join(
            f"<Bucket><Name>{b['Name']}</Name><CreationDate>{_iso(b['CreationDate'])}</CreationDate></Bucket>"
            for b in self.store.all("s3-bucket")
        )
        return _xml("ListAllMyBucketsResult", f"<Owner><ID>localcloud</ID></Owner><Buckets>{items}</Buckets>")

    def _create_bucket(self, name: str, request: Request) -> Response:
        if not _BUCKET_NAME.match(name) or ".." in name:
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)
        created = self.store.insert(
            "s3-bucket", name, {"Name": name, "CreationDate": time.time(), "Region": request.region}
        )
        if not created:
            raise AwsError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                409,
                BucketName=name,
            )
        return Response(200, {"Location": f"/{name}"})

    def _delete_bucket(self, name: str) -> Response:
        self._bucket(name)
        if self.store.count_objects(name):
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=name)
        self.store.delete("s3-bucket", name)
        return Response(204)

    # objects --------------------------------------------------------------------
    def _payload(self, request: Request) -> bytes:
        if "aws-chunked" in (request.header("content-encoding") or "") or (
            request.header("x-amz-content-sha256") or ""
        ).startswith("STREAMING-"):
            return decode_aws_chunked(request.body)
        return request.body

    def _store_blob(self, bucket: str, key: str, data_file: Path, size: int, etag: str, content_type: str) -> None:
        blob = uuid.uuid4().hex
        data_file.replace(self.blob_dir / blob)
        replaced = self.store.put_object(
            bucket, key, size=size, etag=etag, content_type=content_type, last_modified=time.time(), blob=blob
        )
        if replaced:
            (self.blob_dir / replaced).unlink(missing_ok=True)

    def _put_object(self, bucket: str, key: str, request: Request) -> Response:
        self._bucket(bucket)
        data = self._payload(request)
        tmp = self.blob_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        content_type = request.header("content-type") or "binary/octet-stream"
        self._store_blob(bucket, key, tmp, len(data), etag, content_type)
        return Response(200, {"ETag": etag})

    def _get_object(self, bucket: str, key: str, request: Request, *, head: bool) -> Response:
        self._bucket(bucket)
        meta = self.store.get_object(bucket, key)
        if meta is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=key)
        headers = {
            "ETag": meta["etag"],
            "Content-Type": meta["content_type"],
            "Last-Modified": email.utils.formatdate(meta["last_modified"], usegmt=True),
            "Accept-Ranges": "bytes",
        }
        size = meta["size"]
        start, end, status = 0, size - 1, 200
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", request.header("range") or "")
        if ranged and size:
            first, last = ranged.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(size - int(last), 0), size - 1
            if start > end:
                raise AwsError("InvalidRange", "The requested range is not satisfiable", 416)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1 if size else 0)
        if head:
            return Response(status, headers)
        with open(self.blob_dir / meta["blob"], "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1) if size else b""
        return Response(status, headers, body)

    def _remove(self, bucket: str, key: str) -> None:
        blob = self.store.delete_object(bucket, key)
        if blob:
            (self.blob_dir / blob).unlink(missing_ok=True)

    def _delete_objects(self, bucket: str, body: bytes) -> Response:
        self._bucket(bucket)
        root = ElementTree.fromstring(body)
        keys = [el.text or "" for el in root.iter() if el.tag.endswith("Key")]
        for key in keys:
            self._remove(bucket, key)
        deleted = "".join(f"<Deleted><Key>{xml_escape(k)}</Key></Deleted>" for k in keys)
        return _xml("DeleteResult", deleted)

    def _list_objects_v2(self, bucket: str, query: dict[str, list[str]]) -> Response:
        self._bucket(bucket)
        if query.get("list-type", [""])[0] != "2":
            raise AwsError("NotImplemented", "localcloud S3 lists objects with ListObjectsV2 only", 501)
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        max_keys = int(query.get("max-keys", ["1000"])[0])
        token = query.get("continuation-token", [""])[0]
        start_after = token or query.get("start-after", [""])[0]
        contents, prefixes, last = [], [], ""
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
        items = "".join(
            f"<Contents><Key>{xml_escape(o['key'])}</Key><LastModified>{_iso(o['last_modified'])}</LastModified>"
            f"<ETag>{xml_escape(o['etag'])}</ETag><Size>{o['size']}</Size><StorageClass>STANDARD</StorageClass>"
            "</Contents>"
            for o in contents
        )
        items += "".join(f"<CommonPrefixes><Prefix>{xml_escape(p)}</Prefix></CommonPrefixes>" for p in prefixes)
        inner = (
            f"<Name>{bucket}</Name><Prefix>{xml_escape(prefix)}</Prefix><KeyCount>{len(contents) + len(prefixes)}"
            f"</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>{items}"
        )
        if delimiter:
            inner += f"<Delimiter>{xml_escape(delimiter)}</Delimiter>"
        if truncated:
            inner += f"<NextContinuationToken>{xml_escape(last)}</NextContinuationToken>"
        if token:
            inner += f"<ContinuationToken>{xml_escape(token)}</ContinuationToken>"
        return _xml("ListBucketResult", inner)

    # multipart ------------------------------------------------------------------
    def _create_multipart(self, bucket: str, key: str, request: Request) -> Response:
        self._bucket(bucket)
        upload_id = uuid.uuid4().hex
        (self.upload_dir / upload_id).mkdir()
        content_type = request.header("content-type") or "binary/octet-stream"
        self.store.put("s3-upload", upload_id, {"bucket": bucket, "key": key, "content_type": content_type})
        inner = f"<Bucket>{bucket}</Bucket><Key>{xml_escape(key)}</Key><UploadId>{upload_id}</UploadId>"
        return _xml("InitiateMultipartUploadResult", inner)

    def _upload(self, upload_id: str) -> dict:
        upload = self.store.get("s3-upload", upload_id)
        if upload is None:
            raise AwsError("NoSuchUpload", "The specified upload does not exist.", 404, UploadId=upload_id)
        return upload

    def _upload_part(self, bucket: str, key: str, query: dict[str, list[str]], request: Request) -> Response:
        upload_id = query["uploadId"][0]
        self._upload(upload_id)
        number = int(query.get("partNumber", ["0"])[0])
        if not 1 <= number <= 10000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000", 400)
        data = self._payload(request)
        (self.upload_dir / upload_id / f"{number:05d}").write_bytes(data)
        return Response(200, {"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    def _complete_multipart(self, bucket: str, key: str, upload_id: str) -> Response:
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
        inner = (
            f"<Location>/{bucket}/{quote(key)}</Location><Bucket>{bucket}</Bucket>"
            f"<Key>{xml_escape(key)}</Key><ETag>{xml_escape(etag)}</ETag>"
        )
        return _xml("CompleteMultipartUploadResult", inner)
