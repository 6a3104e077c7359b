"""The Job page's Debugger and Profiler tabs against a real localcloud, on a recording a real (tiny) training
run wrote: rules with the fired step, re-evaluation with other parameters (bad ones refused), the profiler's
tables and HTML report, and jobs whose recording is missing or cut short."""

import base64
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from services.core.clients import CloudSettings
from services.training.ec2_training import Ec2Options, Ec2TrainingService
from services.training.job_spec import TrainingSpec, generate_job_name, recording_uri
from tests.classifier.recording.test_recording import run
from tests.pages.conftest import dashboard
from tests.pages.test_pages_jobs_localcloud import SLOW_MACHINE, create_failing_job


@pytest.fixture(scope="module")
def wild_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the real training script records at learning rate 50 (LossNotDecreasing fires at step 10)."""
    _, directory = run(tmp_path_factory.mktemp("wild"), "50")
    return directory


def upload(aws_env, recording: Path, prefix: str, *, cut: bool = False) -> None:
    """``recording``'s files under ``s3://x-out/<prefix>/`` (the events cut to two thirds when ``cut``)."""
    s3 = aws_env.client("s3")
    if "x-out" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="x-out")
    for path in sorted(recording.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            if cut and "tfevents" in path.name:
                body = body[: len(body) * 2 // 3]
            s3.put_object(Bucket="x-out", Key=f"{prefix}/{path.relative_to(recording)}", Body=body)


def job_with(aws_env, recording: Path | None, *, cut: bool = False, prefix: str = "debug-tab") -> str:
    """A job (failed at once, so it uses no CPU) whose TensorBoard location holds ``recording``; names are
    unique per second, so jobs made together need different prefixes."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"  # several per second: a timestamped name would repeat
    create_failing_job(aws_env, name, 50.0)
    if recording:
        upload(aws_env, recording, f"o/{name}/tensorboard", cut=cut)
    return name


def open_job(name: str, tab: str = "Debugger"):
    """The job's page with ``tab`` open (only the open tab is built)."""
    at = dashboard().run()
    at.switch_page("app_pages/job.py")
    at.query_params["job"] = name
    at.session_state[f"job_{name}_tab"] = tab
    return at.run()


def rules(at) -> dict[str, tuple[str, int | None]]:
    """The Debugger tab's rules table: each rule's status and the step where it fired."""
    frame = next(t.value for t in at.table if "rule" in t.value.columns and "status" in t.value.columns)
    return {row["rule"]: (row["status"], int(row["step"]) if row["step"] else None) for _, row in frame.iterrows()}


def test_debugger_tab_shows_rules_and_re_evaluates_them(aws_env, wild_recording) -> None:
    name = job_with(aws_env, wild_recording)
    at = open_job(name)
    assert not at.exception, at.exception
    found = rules(at)
    assert found["LossNotDecreasing"] == ("IssuesFound", 10)
    assert found["ExplodingTensor"][0] == "NoIssuesFound"
    assert any("of 8 found issues" in m.value for m in at.markdown)

    key = f"job_{name}"
    at.selectbox(key=f"{key}_rule_pick").set_value("LossNotDecreasing").run()
    at.text_input(key=f"{key}_LossNotDecreasing_num_steps").set_value("ten")  # submitted with the form
    form_buttons = [b for b in at.button if b.label == "Re-evaluate"]
    form_buttons[0].click().run()
    assert any("num_steps must be an integer, got 'ten'." in e.value for e in at.error)
    assert at.text_input(key=f"{key}_LossNotDecreasing_num_steps").value == "ten"  # nothing typed is lost
    assert rules(at)["LossNotDecreasing"] == ("IssuesFound", 10)

    at.text_input(key=f"{key}_LossNotDecreasing_num_steps").set_value("1000")
    [b for b in at.button if b.label == "Re-evaluate"][0].click().run()
    assert not at.exception and not [e for e in at.error if "num_steps" in e.value]
    assert rules(at)["LossNotDecreasing"][0] == "NoIssuesFound"  # too few steps for one window of 1000


def test_profiler_tab_tables_and_html_report(aws_env, wild_recording) -> None:
    name = job_with(aws_env, wild_recording)
    at = open_job(name, "Profiler")
    frames = [d.value for d in at.dataframe]
    # The rules are a table that wraps their details and recommendations (a grid cut them off at its edge).
    report = next(t.value for t in at.table if "times triggered" in t.value.columns)
    assert {"StepOutlier", "MaxInitializationTime", "CPUBottleneck", "OverallSystemUsage"} <= set(report["rule"])
    assert report["recommendation"].str.len().gt(0).all()
    usage = next(f for f in frames if "p95" in f.columns)
    assert set(usage["host"]) == {"algo-1"} and usage["metric"].str.contains("cpu0").any()
    at.button(key=f"job_{name}_report").click().run()
    assert not at.exception
    html = at.session_state[f"job_{name}_report_html"]
    assert html.startswith("<!DOCTYPE html>") and "StepOutlier" in html and "plotly" in html.lower()


def test_missing_and_truncated_recordings_are_explained(aws_env, wild_recording) -> None:
    at = open_job(job_with(aws_env, None))
    assert not at.exception
    assert any(w.value.startswith("Nothing was recorded at s3://x-out/o/") for w in at.warning)

    at = open_job(job_with(aws_env, wild_recording, cut=True))
    assert not at.exception
    assert any("partial record" in w.value and "cut short" in w.value for w in at.warning)
    assert rules(at)["LossNotDecreasing"] == ("IssuesFound", 10)  # what is whole is still judged


def points(axis: object) -> np.ndarray:
    """A trace's coordinates as plotly serialises them (a list, or a typed array in base64)."""
    if isinstance(axis, dict):
        return np.frombuffer(base64.b64decode(axis["bdata"]), dtype=axis["dtype"])
    return np.asarray(axis)


def test_compare_overlays_the_recorded_losses_and_names_jobs_without_one(aws_env, wild_recording) -> None:
    whole, cut, bare = (
        job_with(aws_env, wild_recording, prefix="compare-whole"),
        job_with(aws_env, wild_recording, cut=True, prefix="compare-cut"),
        job_with(aws_env, None, prefix="compare-bare"),
    )
    at = dashboard().run()
    at.switch_page("app_pages/compare.py")
    at.query_params["jobs"] = f"{whole},{cut},{bare}"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value == "**Loss per step (recorded)**" for m in at.markdown)
    step_chart = next(
        json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("compare_step_loss")
    )
    traces = {t["name"]: t for t in step_chart["data"]}
    assert set(traces) == {f"{job} · {part}" for job in (whole, cut) for part in ("train", "validation")}
    assert len(points(traces[f"{whole} · train"]["x"])) > len(points(traces[f"{cut} · train"]["x"])) >= 10  # per step
    assert any(c.value.startswith(f"{bare} has no recording of its per-step loss") for c in at.caption)
    hyperparameters = next(d.value for d in at.dataframe if "learning_rate" in d.value.index)
    assert set(hyperparameters.columns) == {whole, cut, bare}  # still side by side with the curves


def test_an_ec2_machine_shows_the_debugger_and_profiler_tabs_of_its_recording(aws_env, wild_recording) -> None:
    service = Ec2TrainingService(aws_env.session(), settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    spec = TrainingSpec(job_name=generate_job_name("ec2-debug"), data_uri="s3://d-x/d/", output_path="s3://x-out/o/")
    request = service.build_request(spec, Ec2Options(ami="ami-0123456789abcdef0", instance_profile=None))
    request["UserData"] = SLOW_MACHINE
    instance_id = aws_env.client("ec2").run_instances(**request)["Instances"][0]["InstanceId"]
    upload(aws_env, wild_recording, recording_uri(spec).removeprefix("s3://x-out/"))  # as its runner uploads it
    try:
        at = dashboard().run()
        at.switch_page("app_pages/train.py")
        at.run()
        at.selectbox(key="ec2_chosen").set_value(instance_id).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert any(c.value.startswith(f"Recording: {recording_uri(spec)}") for c in at.caption)
        assert rules(at)["LossNotDecreasing"] == ("IssuesFound", 10)  # the Debugger tab, as on a job's page
        at.session_state[f"ec2_{instance_id}_tab"] = "Profiler"
        at.run()
        report = next(t.value for t in at.table if "times triggered" in t.value.columns)
        assert "StepOutlier" in set(report["rule"])  # the Profiler tab
        at.button(key=f"ec2_{instance_id}_report").click().run()
        assert at.session_state[f"ec2_{instance_id}_report_html"].startswith("<!DOCTYPE html>")
    finally:
        service.terminate(instance_id)


def large_recording(directory: Path, megabytes: int = 100) -> Path:
    """A long run's events, written by the training script's own writer: every step's scalars and 40 layers'
    gradient statistics (about 3 KB a step), until the file holds ``megabytes`` MB. One event is reused, its
    step and loss changed, so the ~35,000 steps take a second or two."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    from classifier.recording.recorder import open_event_file

    tags = ["Loss/train", "Accuracy/train", "LearningRate/group0", "Timing/step_s"]
    tags += [f"{kind}/stage.{i}" for i in range(40) for kind in ("GradientNorm", "GradientMeanAbs")]
    event = Event(wall_time=1.7e9, summary=Summary(value=[Summary.Value(tag=t, simple_value=0.5) for t in tags]))
    loss = event.summary.value[0]
    writer = open_event_file(directory / "events" / "algo-1")
    written, step = 0, 0
    while written < megabytes * 2**20:
        event.step, loss.simple_value = step, 3.0 / (1 + step / 1000)
        record = event.SerializeToString()
        writer.write(record)
        written, step = written + len(record) + 16, step + 1  # each record is framed by 16 bytes
    writer.close()
    return directory


def test_a_100_mb_event_file_is_read_in_part_and_the_page_says_so(aws_env, tmp_path: Path) -> None:
    recording = large_recording(tmp_path / "recording")
    (events,) = (recording / "events" / "algo-1").iterdir()
    assert events.stat().st_size >= 100 * 2**20
    at = open_job(job_with(aws_env, recording))
    assert not at.exception, at.exception
    capped = [w.value for w in at.warning if "only its first 16 MB were read" in w.value]
    assert capped and "is 100 MB" in capped[0]
    found = rules(at)
    assert found["LossNotDecreasing"][0] in ("NoIssuesFound", "IssuesFound")  # judged on what was read
    loss = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("_chart_Loss"))
    assert len(points(loss["data"][0]["x"])) > 500  # thousands of steps drawn (thinned), not nothing
