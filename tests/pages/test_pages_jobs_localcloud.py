"""The Train page's job list (refresh, details, open and compare in this session), the Compare page, the
launch form's texts, and the EC2 tab (curves, cost, terminate after a question) against a real localcloud."""

import json
import re
import time

from app.widgets.formatting import MISSING
from services.core.clients import CloudSettings
from services.training.ec2_training import Ec2Options, Ec2TrainingService
from services.training.job_spec import DEFAULT_METRIC_DEFINITIONS, TrainingSpec, build_request, generate_job_name
from tests.pages.test_pages_training_localcloud import open_page

ROLE = "arn:aws:iam::000000000000:role/sagemaker-test"


def create_failing_job(cloud, name: str, learning_rate: float) -> None:
    """A job whose channel is empty: it fails within a second, so it is in the list without using the CPU."""
    spec = TrainingSpec(
        job_name=name, data_uri="s3://no-such-bucket-x/none/", output_path="s3://x-out/o/", learning_rate=learning_rate
    )
    request = build_request(spec, region="us-east-1", role_arn=ROLE)
    cloud.client("sagemaker").create_training_job(**request)
    deadline = time.monotonic() + 60
    while cloud.client("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_refresh_shows_a_job_created_elsewhere_with_its_details(aws_env) -> None:
    at = open_page("app_pages/train.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    name = generate_job_name("refresh-test")
    create_failing_job(aws_env, name, 0.01)  # created behind the page's back, while nothing runs
    at.button(key="jobs_refresh").click().run()
    frame = at.dataframe[0].value
    assert not at.exception
    assert {"job", "status", "duration", "instances", "cost"} <= set(frame.columns)
    row = frame[frame["job"] == name].iloc[0]
    assert (row["status"], row["instances"]) == ("Failed", "1 × ml.m5.xlarge")
    assert re.fullmatch(r"\d+ s", row["duration"])
    assert row["cost"] == "$0.0000"  # it failed before training started: nothing billed
    assert at.dataframe[0].proto.placeholder == MISSING  # a metric it never logged reads "—", not "None"
    assert any("Costs are notional" in c.value and "localcloud bills nothing" in c.value for c in at.caption)


def test_selecting_jobs_opens_one_or_compares_several_in_this_session(aws_env) -> None:
    first, second = generate_job_name("compare-a"), generate_job_name("compare-b")
    create_failing_job(aws_env, first, 0.01)
    create_failing_job(aws_env, second, 0.05)
    at = open_page("app_pages/train.py")
    at.text_input(key="jobs_name").set_value("compare-").run()
    names = at.dataframe[0].value["job"].tolist()
    at.session_state["jobs_table"] = {"selection": {"rows": [names.index(first)], "columns": []}}
    at.run()
    at.button(key="jobs_open").click().run()
    assert not at.exception
    assert at.query_params["job"] == first and at.title[0].value == "Training job"  # the Job page, same session

    at = open_page("app_pages/train.py")
    at.text_input(key="jobs_name").set_value("compare-").run()
    rows = [names.index(first), names.index(second)]
    at.session_state["jobs_table"] = {"selection": {"rows": rows, "columns": []}}
    at.run()
    at.button(key="jobs_compare").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Compare training jobs"
    assert set(at.query_params["jobs"].split(",")) == {first, second}
    hyperparameters = at.dataframe[1].value
    assert set(hyperparameters.columns) == {first, second}
    assert hyperparameters.index[0] == "learning_rate"  # the one that differs comes first
    assert hyperparameters.loc["learning_rate"].tolist() in (["0.01", "0.05"], ["0.05", "0.01"])


def test_compare_page_explains_what_it_needs(aws_env) -> None:
    at = open_page("app_pages/compare.py", jobs="only-one")
    assert not at.exception and "two or more jobs" in at.info[0].value
    at = open_page("app_pages/compare.py", jobs="bad_name!,other")
    assert "not a valid training job name" in at.error[0].value


def test_the_forms_texts_fit_the_data_and_say_costs_are_notional(aws_env) -> None:
    at = open_page("app_pages/train.py")
    options = at.radio(key="train_fine_tune").options
    assert not any("133" in option for option in options)
    assert all(re.fullmatch(r"(train|validation|test):[a-z]+", name) for name, _ in DEFAULT_METRIC_DEFINITIONS)
    cost = next(i.value for i in at.info if i.value.startswith("Estimated cost"))
    assert "((" not in cost and ".)" not in cost and not cost.endswith(")")
    assert any("notional" in c.value for c in at.caption)
    at.radio(key="train_target").set_value("Plain EC2 machine").run()
    assert any(i.value.startswith("Estimated cost: $0.1920 per hour for 1 × m5.xlarge") for i in at.info)
    assert "ubuntu" in at.text_input(key="ec2_ami").placeholder
    at.text_input(key="ec2_type").set_value("g5.xlarge").run()
    assert "deeplearning" in at.text_input(key="ec2_ami").placeholder


def test_the_launch_message_stays_with_its_target(aws_env) -> None:
    at = open_page("app_pages/train.py")
    at.session_state["train_launched"] = ("Launched training job 'x'.", "x")  # as a launch leaves it
    at.run()
    assert [s.value for s in at.success] == ["Launched training job 'x'."]
    at.radio(key="train_target").set_value("Plain EC2 machine").run()
    assert not at.success  # not under the EC2 form


SLOW_MACHINE = """#!/bin/bash
for i in 1 2; do echo "Epoch $i/9: train_loss=2.$i train_acc=0.$i valid_loss=2.$i valid_acc=0.$i"; done
sleep 600
"""


def test_a_running_machine_shows_curves_and_cost_and_terminates_after_a_question(aws_env) -> None:
    service = Ec2TrainingService(aws_env.session(), settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    spec = TrainingSpec(job_name=generate_job_name("ec2-live"), data_uri="s3://d-x/d/", output_path="s3://o-x/o/")
    request = service.build_request(spec, Ec2Options(ami="ami-0123456789abcdef0", instance_profile=None))
    request["UserData"] = SLOW_MACHINE  # prints two epoch lines as train.py would, then keeps running
    s3 = aws_env.client("s3")
    if "o-x" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="o-x")  # the output bucket, where the machine would upload its recording
    instance_id = aws_env.client("ec2").run_instances(**request)["Instances"][0]["InstanceId"]
    deadline = time.monotonic() + 60
    while "Epoch 2/9" not in service.describe_ec2_job(instance_id).console_output:
        assert time.monotonic() < deadline
        time.sleep(0.3)

    at = open_page("app_pages/train.py")
    at.selectbox(key="ec2_chosen").set_value(instance_id).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["State"] == "running" and metrics["Cost so far"].startswith("$")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    # Loss and accuracy from the console's epoch lines: train and validation, a point per epoch.
    assert [chart["layout"]["yaxis"]["title"]["text"] for chart in charts] == ["loss", "accuracy"]
    assert [(t["name"], t["y"]) for t in charts[0]["data"]] == [
        ("train:loss", [2.1, 2.2]),
        ("validation:loss", [2.1, 2.2]),
    ]
    assert any(i.value.startswith("Nothing is recorded at s3://o-x/o/") for i in at.info)  # Debugger tab, running
    at.button(key="ec2_terminate").click().run()
    assert [w.value for w in at.warning if w.value.startswith(f"Terminate {instance_id}?")]
    at.button(key="ec2_terminate_yes").click().run()
    assert not [w for w in at.warning if w.value.startswith("Terminate")] and not at.exception
    assert service.describe_ec2_job(instance_id).state in {"shutting-down", "terminated"}
