"""S3 through real boto3: the calls model artifacts and datasets need."""

from __future__ import annotations

import os
import socket

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import assert_shape


@pytest.fixture(scope="module")
def s3(cloud):
    client = cloud.client("s3")
    client.create_bucket(Bucket="data")
    return client


def test_put_get_head_delete(s3):
    s3.put_object(Bucket="data", Key="dir/a.txt", Body=b"hello", ContentType="text/plain")
    got = s3.get_object(Bucket="data", Key="dir/a.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"
    assert s3.head_object(Bucket="data", Key="dir/a.txt")["ContentLength"] == 5
    s3.delete_object(Bucket="data", Key="dir/a.txt")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket="data", Key="dir/a.txt")
    assert error.value.response["Error"]["Code"] == "NoSuchKey"


def test_list_v2_prefix_delimiter_and_paging(s3):
    for key in ["p/1", "p/2", "p/sub/3", "q"]:
        s3.put_object(Bucket="data", Key=key, Body=b"x")
    listing = s3.list_objects_v2(Bucket="data", Prefix="p/", Delimiter="/")
    assert_shape(s3, "ListObjectsV2", listing)
    assert [o["Key"] for o in listing["Contents"]] == ["p/1", "p/2"]
    assert listing["CommonPrefixes"] == [{"Prefix": "p/sub/"}]
    paginator = s3.get_paginator("list_objects_v2")
    keys = [
        o["Key"]
        for page in paginator.paginate(Bucket="data", Prefix="p/", PaginationConfig={"PageSize": 1})
        for o in page["Contents"]
    ]
    assert keys == ["p/1", "p/2", "p/sub/3"]


def test_list_v1_pages_by_marker(s3):
    """ListObjects, the first version some clients still send: Marker pages, NextMarker only with a delimiter."""
    s3.create_bucket(Bucket="listing-v1")
    for key in ("a/1", "a/2", "b", "c"):
        s3.put_object(Bucket="listing-v1", Key=key, Body=b"x")
    first = s3.list_objects(Bucket="listing-v1", MaxKeys=2)
    assert_shape(s3, "ListObjects", first)
    assert [o["Key"] for o in first["Contents"]] == ["a/1", "a/2"]
    assert first["IsTruncated"] and "NextMarker" not in first
    rest = s3.list_objects(Bucket="listing-v1", Marker=first["Contents"][-1]["Key"])
    assert [o["Key"] for o in rest["Contents"]] == ["b", "c"] and not rest["IsTruncated"]
    grouped = s3.list_objects(Bucket="listing-v1", Delimiter="/", MaxKeys=1)
    assert grouped["CommonPrefixes"] == [{"Prefix": "a/"}] and grouped["NextMarker"]
    after = s3.list_objects(Bucket="listing-v1", Delimiter="/", Marker=grouped["NextMarker"])
    assert [o["Key"] for o in after["Contents"]] == ["b", "c"]


def test_multipart_upload_and_ranged_download(s3, tmp_path):
    data = os.urandom(17 * 1024 * 1024)  # over boto3's 8 MB threshold: multipart up, ranged GETs down
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), "data", "big.bin")
    assert s3.head_object(Bucket="data", Key="big.bin")["ETag"].endswith('-3"')
    s3.download_file("data", "big.bin", str(target))
    assert target.read_bytes() == data
    part = s3.get_object(Bucket="data", Key="big.bin", Range="bytes=10-19")
    assert part["Body"].read() == data[10:20]


def test_bucket_errors(s3):
    with pytest.raises(ClientError) as error:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert error.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as error:
        s3.create_bucket(Bucket="data")
    assert error.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as error:
        s3.delete_bucket(Bucket="data")
    assert error.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_sts_identity(cloud):
    sts = cloud.client("sts")
    identity = sts.get_caller_identity()
    assert_shape(sts, "GetCallerIdentity", identity)
    assert identity["Account"] == "000000000000"


def test_listens_on_loopback_only(cloud):
    port = int(cloud.endpoint_url.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outward interface
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(OSError), socket.create_connection((outward, port), timeout=2):
        pass


@pytest.mark.parametrize("upload_id", ["..", "", "../blobs", "nope"])
def test_an_upload_id_that_names_no_upload_touches_nothing(s3, upload_id):
    """AbortMultipartUpload with `..` once removed localcloud's S3 folder: an unknown id is NoSuchUpload."""
    s3.put_object(Bucket="data", Key="kept", Body=b"still here")
    with pytest.raises(ClientError) as error:
        s3.abort_multipart_upload(Bucket="data", Key="kept", UploadId=upload_id)
    assert error.value.response["Error"]["Code"] == "NoSuchUpload"
    assert s3.get_object(Bucket="data", Key="kept")["Body"].read() == b"still here"
    upload = s3.create_multipart_upload(Bucket="data", Key="big")["UploadId"]  # uploads still work
    s3.abort_multipart_upload(Bucket="data", Key="big", UploadId=upload)
