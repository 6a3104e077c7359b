"""S3 CopyObject through real boto3 and the AWS CLI's way of calling it: the copy, its metadata directive, its
refusals, and IAM asking for s3:GetObject on the source and s3:PutObject on the destination."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import assert_shape

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def s3(cloud):
    client = cloud.client("s3")
    for bucket in ("copy-from", "copy-to"):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket="copy-from", Key="photos/dog 1.jpg", Body=b"\xff\xd8 a photo", ContentType="image/jpeg")
    return client


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_a_copy_keeps_the_bytes_the_etag_and_the_content_type(s3):
    source = s3.head_object(Bucket="copy-from", Key="photos/dog 1.jpg")
    copied = s3.copy_object(Bucket="copy-to", Key="kept/dog 1.jpg", CopySource="copy-from/photos/dog 1.jpg")
    assert_shape(s3, "CopyObject", copied)
    assert copied["CopyObjectResult"]["ETag"] == source["ETag"]
    got = s3.get_object(Bucket="copy-to", Key="kept/dog 1.jpg")
    assert (got["Body"].read(), got["ContentType"]) == (b"\xff\xd8 a photo", "image/jpeg")
    s3.copy(  # the managed copy boto3 and the CLI use (a dict source), with a new content type
        {"Bucket": "copy-from", "Key": "photos/dog 1.jpg"},
        "copy-to",
        "renamed.bin",
        ExtraArgs={"MetadataDirective": "REPLACE", "ContentType": "application/octet-stream"},
    )
    assert s3.head_object(Bucket="copy-to", Key="renamed.bin")["ContentType"] == "application/octet-stream"


def test_what_s3_refuses_it_refuses(s3):
    assert error_of(s3.copy_object, Bucket="copy-to", Key="x", CopySource="copy-from/nothing")[0] == "NoSuchKey"
    assert error_of(s3.copy_object, Bucket="nowhere-bucket", Key="x", CopySource="copy-from/photos/dog 1.jpg")[0] == (
        "NoSuchBucket"
    )
    code, message = error_of(
        s3.copy_object, Bucket="copy-from", Key="photos/dog 1.jpg", CopySource="copy-from/photos/dog 1.jpg"
    )
    assert code == "InvalidRequest" and "copy an object to itself" in message
    code, _ = error_of(
        s3.copy_object, Bucket="copy-to", Key="x", CopySource="copy-from/photos/dog 1.jpg", CopySourceIfMatch='"0"'
    )
    assert code == "PreconditionFailed"
    assert error_of(s3.copy_object, Bucket="copy-to", Key="x", CopySource="no-key")[0] == "InvalidArgument"


def test_a_role_needs_get_on_the_source_and_put_on_the_destination(cloud, s3):
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName="copier", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    put_only = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::copy-to/*"}
    policy = {"Version": "2012-10-17", "Statement": [put_only]}
    iam.put_role_policy(RoleName="copier", PolicyName="copy", PolicyDocument=json.dumps(policy))
    credentials = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName="copy")["Credentials"]
    copier = boto3.client(
        "s3",
        endpoint_url=cloud.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    code, message = error_of(
        copier.copy_object, Bucket="copy-to", Key="by-role", CopySource="copy-from/photos/dog 1.jpg"
    )
    assert code == "AccessDenied" and "s3:GetObject" in message and "copy-from/photos/dog 1.jpg" in message
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::copy-from/*"}
    policy["Statement"].append(read)
    iam.put_role_policy(RoleName="copier", PolicyName="copy", PolicyDocument=json.dumps(policy))
    copier.copy_object(Bucket="copy-to", Key="by-role", CopySource="copy-from/photos/dog 1.jpg")
    assert s3.get_object(Bucket="copy-to", Key="by-role")["Body"].read() == b"\xff\xd8 a photo"
