"""How a request's parameters are written to an event (localcloud/cloudtrail/events.py): lowerCamel at every level
as CloudTrail writes them, structures and lists of structures kept, payloads and environment variables not."""

from localcloud.cloudtrail.events import request_parameters


def test_nested_members_are_kept_in_cloudtrail_s_spelling() -> None:
    params = {
        "TrainingJobName": "job",
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {"S3Uri": "s3://b/d/", "S3DataType": "S3Prefix"}},
            }
        ],
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        "Environment": {"API_TOKEN": "not for the history"},
    }
    assert request_parameters("sagemaker.amazonaws.com", params) == {
        "trainingJobName": "job",
        "inputDataConfig": [
            {
                "channelName": "training",
                "dataSource": {"s3DataSource": {"s3Uri": "s3://b/d/", "s3DataType": "S3Prefix"}},
            }
        ],
        "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1},
    }


def test_payloads_secrets_and_depth_are_bounded() -> None:
    params = {
        "Bucket": "b",
        "Key": "k",
        "Body": b"\xff" * 10,
        "Tags": ["x" * 2000],
        "Deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
    }
    kept = request_parameters("s3.amazonaws.com", params)
    assert kept["bucketName"] == "b" and kept["key"] == "k" and "body" not in kept
    assert kept["tags"] == ["x" * 1024]
    assert kept["deep"] == {"a": {"b": {"c": {"d": {}}}}}  # five levels, then nothing deeper
