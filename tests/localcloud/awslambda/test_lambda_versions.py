"""Lambda versions and aliases through real boto3: publishing, qualifiers, weighted routing, and AWS's
answers to bad input."""

from __future__ import annotations

import collections
import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.localcloud.conftest import assert_shape, function_zip

ROLE = "arn:aws:iam::000000000000:role/test"
HANDLER = """
import os

def lambda_handler(event, context):
    return {"version": context.function_version, "arn": context.invoked_function_arn,
            "greeting": os.environ.get("GREETING")}
"""
ARN = "arn:aws:lambda:us-east-1:000000000000:function:versioned"


@pytest.fixture(scope="module")
def client(cloud):
    """A function with versions 1 (greeting v1) and 2 (greeting v2), $LATEST equal to 2."""
    client = cloud.client("lambda", config=Config(retries={"max_attempts": 0}))
    client.create_function(
        FunctionName="versioned",
        Runtime="python3.11",
        Role=ROLE,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
        Environment={"Variables": {"GREETING": "v1"}},
    )
    first = client.publish_version(FunctionName="versioned", Description="first")
    assert_shape(client, "PublishVersion", first)
    assert (first["Version"], first["FunctionArn"], first["Description"]) == ("1", f"{ARN}:1", "first")
    client.update_function_configuration(FunctionName="versioned", Environment={"Variables": {"GREETING": "v2"}})
    assert client.publish_version(FunctionName="versioned")["Version"] == "2"
    return client


def error_of(call) -> dict:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]


def invoke(client, **kwargs) -> tuple[dict, dict]:
    response = client.invoke(FunctionName="versioned", Payload=b"{}", **kwargs)
    return response, json.loads(response["Payload"].read())


def test_versions_are_immutable_copies(client):
    assert client.publish_version(FunctionName="versioned")["Version"] == "2"  # nothing changed: no new version
    listing = client.list_versions_by_function(FunctionName="versioned")
    assert_shape(client, "ListVersionsByFunction", listing)
    assert [v["Version"] for v in listing["Versions"]] == ["$LATEST", "1", "2"]
    paged = client.list_versions_by_function(FunctionName="versioned", MaxItems=2)
    assert len(paged["Versions"]) == 2 and paged["NextMarker"]

    one = client.get_function_configuration(FunctionName="versioned", Qualifier="1")
    assert_shape(client, "GetFunctionConfiguration", one)
    assert one["Environment"]["Variables"] == {"GREETING": "v1"} and one["Version"] == "1"
    assert client.get_function(FunctionName=f"{ARN}:2")["Configuration"]["Version"] == "2"

    response, answer = invoke(client, Qualifier="1")
    assert response["ExecutedVersion"] == "1"
    assert answer == {"version": "1", "arn": f"{ARN}:1", "greeting": "v1"}
    response, answer = invoke(client)
    assert response["ExecutedVersion"] == "$LATEST" and answer["greeting"] == "v2"


def test_aliases(client):
    created = client.create_alias(FunctionName="versioned", Name="stable", FunctionVersion="1", Description="ok")
    assert_shape(client, "CreateAlias", created)
    assert created["AliasArn"] == f"{ARN}:stable" and "RoutingConfig" not in created
    got = client.get_alias(FunctionName="versioned", Name="stable")
    assert_shape(client, "GetAlias", got)
    assert got == {k: v for k, v in created.items() if k != "ResponseMetadata"} | {
        "ResponseMetadata": got["ResponseMetadata"]
    }
    configuration = client.get_function_configuration(FunctionName="versioned", Qualifier="stable")
    assert configuration["Version"] == "1" and configuration["FunctionArn"] == f"{ARN}:stable"
    through_name = client.get_function(FunctionName="versioned:stable")["Configuration"]
    assert through_name == {k: v for k, v in configuration.items() if k != "ResponseMetadata"}
    response, answer = invoke(client, Qualifier="stable")
    assert response["ExecutedVersion"] == "1" and answer["arn"] == f"{ARN}:stable"

    conflict = error_of(lambda: client.create_alias(FunctionName="versioned", Name="stable", FunctionVersion="2"))
    assert conflict == {"Code": "ResourceConflictException", "Message": f"Alias already exists: {ARN}:stable"}
    stale = error_of(
        lambda: client.update_alias(FunctionName="versioned", Name="stable", FunctionVersion="2", RevisionId="old")
    )
    assert stale["Code"] == "PreconditionFailedException"
    updated = client.update_alias(
        FunctionName="versioned", Name="stable", FunctionVersion="2", RevisionId=got["RevisionId"]
    )
    assert_shape(client, "UpdateAlias", updated)
    assert updated["FunctionVersion"] == "2" and updated["RevisionId"] != got["RevisionId"]
    assert invoke(client, Qualifier="stable")[1]["greeting"] == "v2"

    client.create_alias(FunctionName="versioned", Name="old", FunctionVersion="1")
    listing = client.list_aliases(FunctionName="versioned")
    assert_shape(client, "ListAliases", listing)
    assert [a["Name"] for a in listing["Aliases"]] == ["old", "stable"]
    assert [a["Name"] for a in client.list_aliases(FunctionName="versioned", FunctionVersion="1")["Aliases"]] == ["old"]
    client.delete_alias(FunctionName="versioned", Name="old")
    missing = error_of(lambda: client.get_alias(FunctionName="versioned", Name="old"))
    assert missing == {"Code": "ResourceNotFoundException", "Message": f"Cannot find alias arn: {ARN}:old"}


def test_weighted_alias_shares_calls(client):
    """Version 2 gets 30% of the calls through the alias: over 300 calls, far outside chance if it did not
    (the bounds are six standard deviations either side)."""
    client.create_alias(
        FunctionName="versioned",
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    assert client.get_alias(FunctionName="versioned", Name="canary")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.3}
    }
    executed = collections.Counter(invoke(client, Qualifier="canary")[0]["ExecutedVersion"] for _ in range(300))
    assert set(executed) == {"1", "2"}
    assert 90 - 48 <= executed["2"] <= 90 + 48, executed
    client.update_alias(FunctionName="versioned", Name="canary", RoutingConfig={})
    assert "RoutingConfig" not in client.get_alias(FunctionName="versioned", Name="canary")
    assert {invoke(client, Qualifier="canary")[0]["ExecutedVersion"] for _ in range(10)} == {"1"}


def test_bad_input(cloud, client):
    digits = error_of(lambda: client.create_alias(FunctionName="versioned", Name="123", FunctionVersion="1"))
    assert digits["Code"] == "ValidationException" and "regular expression pattern" in digits["Message"]

    # botocore checks a weight's minimum before sending (not its maximum); localcloud checks both, as AWS does.
    unchecked = cloud.client("lambda", config=Config(retries={"max_attempts": 0}, parameter_validation=False))
    for weight in (1.5, -0.1):
        outside = error_of(
            lambda weight=weight: unchecked.create_alias(
                FunctionName="versioned",
                Name="weighted",
                FunctionVersion="1",
                RoutingConfig={"AdditionalVersionWeights": {"2": weight}},
            )
        )
        assert outside["Code"] == "ValidationException" and str(weight) in outside["Message"]
        if weight > 1:
            assert outside["Message"].startswith(
                "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to "
                "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal "
                "to 1.0"
            )
    latest = error_of(
        lambda: client.create_alias(
            FunctionName="versioned",
            Name="weighted",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        )
    )
    assert latest["Message"] == "$LATEST is not supported for an alias pointing to more than 1 version"
    two = error_of(
        lambda: client.create_alias(
            FunctionName="versioned",
            Name="weighted",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}},
        )
    )
    assert two["Message"] == "Number of items in AdditionalVersionWeights cannot be greater than 1"

    for call in (
        lambda: client.get_function_configuration(FunctionName="versioned", Qualifier="7"),
        lambda: client.invoke(FunctionName="versioned", Qualifier="nope", Payload=b"{}"),
        lambda: client.invoke(FunctionName="versioned:7", Payload=b"{}"),
        lambda: client.create_alias(FunctionName="versioned", Name="later", FunctionVersion="7"),
    ):
        missing = error_of(call)
        assert missing["Code"] == "ResourceNotFoundException"
        assert missing["Message"] in (f"Function not found: {ARN}:7", f"Function not found: {ARN}:nope")

    client.update_function_configuration(FunctionName="versioned", Description="third")
    third = client.publish_version(FunctionName="versioned")["Version"]
    client.create_alias(FunctionName="versioned", Name="pinned", FunctionVersion=third)
    in_use = error_of(lambda: client.delete_function(FunctionName="versioned", Qualifier=third))
    assert in_use == {
        "Code": "ResourceConflictException",
        "Message": "Unable to delete version because the following aliases reference it: [pinned]",
    }
    client.delete_alias(FunctionName="versioned", Name="pinned")
    client.delete_function(FunctionName="versioned", Qualifier=third)
    versions = [v["Version"] for v in client.list_versions_by_function(FunctionName="versioned")["Versions"]]
    assert third not in versions and "2" in versions
    latest_delete = error_of(lambda: client.delete_function(FunctionName="versioned", Qualifier="$LATEST"))
    assert latest_delete["Code"] == "InvalidParameterValueException"
