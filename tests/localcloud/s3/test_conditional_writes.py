"""S3's conditional writes through real boto3: IfNoneMatch `*` creates only, IfMatch replaces only the version
read, so two writers of one object cannot lose each other's change."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def s3(cloud):
    client = cloud.client("s3")
    client.create_bucket(Bucket="conditional")
    return client


def code_of(call, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def test_create_only_and_replace_only_what_was_read(s3):
    first = s3.put_object(Bucket="conditional", Key="m", Body=b"one", IfNoneMatch="*")
    assert code_of(s3.put_object, Bucket="conditional", Key="m", Body=b"two", IfNoneMatch="*") == "PreconditionFailed"
    second = s3.put_object(Bucket="conditional", Key="m", Body=b"two", IfMatch=first["ETag"])
    assert code_of(s3.put_object, Bucket="conditional", Key="m", Body=b"three", IfMatch=first["ETag"]) == (
        "PreconditionFailed"
    )
    assert s3.get_object(Bucket="conditional", Key="m")["ETag"] == second["ETag"]
    assert code_of(s3.put_object, Bucket="conditional", Key="none", Body=b"x", IfMatch=first["ETag"]) == "NoSuchKey"
    assert s3.get_object(Bucket="conditional", Key="m")["Body"].read() == b"two"


def test_of_many_writers_racing_on_one_read_exactly_one_wins(s3):
    etag = s3.put_object(Bucket="conditional", Key="race", Body=b"start")["ETag"]
    outcomes: list[str] = []

    def write(i: int) -> None:
        try:
            s3.put_object(Bucket="conditional", Key="race", Body=f"writer {i}".encode(), IfMatch=etag)
            outcomes.append("won")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["PreconditionFailed"] * 7 + ["won"]
