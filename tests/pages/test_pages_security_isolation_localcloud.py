"""The Security page's network-isolation view under AppTest, against the session's localcloud."""

import re

import pytest

from localcloud.core.bootstrap import MODEL_NAME
from tests.clouds import sagemaker_role
from tests.pages.conftest import dashboard

ISOLATED = "page-isolated-model"


@pytest.fixture
def isolation_view(aws_env, localcloud):
    sagemaker = localcloud.client("sagemaker")
    if ISOLATED not in [m["ModelName"] for m in sagemaker.list_models(NameContains=ISOLATED)["Models"]]:
        sagemaker.create_model(
            ModelName=ISOLATED,
            ExecutionRoleArn=sagemaker_role(localcloud),
            PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": "s3://nowhere/model.tar.gz"},
            EnableNetworkIsolation=True,
            VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        )
    at = dashboard().run()
    at.switch_page("app_pages/security.py").run()
    at.radio(key="security_view").set_value("Network isolation").run()
    assert not at.exception
    return at


def test_the_view_lists_what_runs_with_the_network_first(isolation_view) -> None:
    at = isolation_view
    models = next(m for m in at.metric if m.label == "Models without isolation")
    exposed_count, _, listed_count = models.value.partition(" of ")
    assert 1 <= int(exposed_count) < int(listed_count)  # the bootstrap's model is exposed, ours is not
    exposed, everything = (df.value for df in at.dataframe)
    assert MODEL_NAME in set(exposed["name"]) and ISOLATED not in set(exposed["name"])
    ours = everything[everything["name"] == ISOLATED].iloc[0]
    assert (ours["network isolation"], ours["VPC"]) == ("✓ isolated", "1 subnet(s), 1 security group(s)")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", ours["created"])  # the dashboard's one time form
    assert any("EnableNetworkIsolation=True" in w.value for w in at.warning)  # how to isolate, beside the list
