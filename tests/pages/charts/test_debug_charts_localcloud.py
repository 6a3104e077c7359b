"""What the Job page's Debugger and Profiler tabs draw, against a real localcloud: only the open tab is built and
no chart needs WebGL (Chromium keeps 16 WebGL contexts a page and blanks the oldest); during the first epoch of
a running machine the rules wait for data, a small rise reads "rose", the learning rate reads at its value and a
lone update ratio is drawn with the reason it is alone; the profiler's numbers are rounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.training.profiler_view import readable
from services.core.clients import CloudSettings
from services.training.ec2_training import Ec2Options, Ec2TrainingService
from services.training.job_spec import TrainingSpec, generate_job_name, recording_uri
from tests.pages.charts.plotly_specs import by_title, webgl_charts
from tests.pages.conftest import dashboard
from tests.pages.test_pages_debug_localcloud import job_with, open_job, rules, upload, wild_recording  # noqa: F401
from tests.pages.test_pages_jobs_localcloud import SLOW_MACHINE

DEBUGGER_CHARTS = {"Loss", "Accuracy", "Learning rate", "Gradient norm per layer"}
PROFILER_CHARTS = {"Step durations", "CPU per core (%)", "Memory used (%)"}


def test_only_the_open_tab_is_built_and_no_chart_needs_webgl(aws_env, wild_recording) -> None:  # noqa: F811
    name = job_with(aws_env, wild_recording, prefix="lazy-tabs")
    at = open_job(name, "Logs")
    assert not at.exception, at.exception
    assert not set(by_title(at)) & (DEBUGGER_CHARTS | PROFILER_CHARTS)  # the Logs tab builds no chart of theirs

    at.session_state[f"job_{name}_tab"] = "Debugger"
    at.run()
    titles = set(by_title(at))
    assert titles >= DEBUGGER_CHARTS and not titles & PROFILER_CHARTS, titles
    assert webgl_charts(at) == []
    loss = by_title(at)["Loss"]
    assert {trace["name"] for trace in loss["data"]} == {"train (per step)", "validation (per epoch)"}

    at.session_state[f"job_{name}_tab"] = "Profiler"
    at.run()
    titles = set(by_title(at))
    assert titles >= PROFILER_CHARTS and not titles & DEBUGGER_CHARTS, titles
    assert webgl_charts(at) == []
    for title in PROFILER_CHARTS:  # titled by the page, not inside the figure where the legend would cover it
        layout = by_title(at)[title]["layout"]
        assert "text" not in layout.get("title", {}) and layout["xaxis"]["title"]["text"], title
        assert any(m.value == f"**{title}**" for m in at.markdown), title


def test_profiler_numbers_are_rounded_on_the_tab_and_in_the_report(aws_env, wild_recording) -> None:  # noqa: F811
    name = job_with(aws_env, wild_recording, prefix="rounded")
    at = open_job(name, "Profiler")
    usage = next(d.value for d in at.dataframe if "p95" in d.value.columns)
    for column in ("p50", "p95", "p99", "max"):
        for value in usage[column]:
            assert value == readable(value), (column, value)  # 146242 and 15.2, not 146242.0751 and 15.188
    steps = by_title(at)["Step durations"]
    assert steps["layout"]["yaxis"]["type"] == "log" and steps["layout"]["yaxis"]["range"][0] < 0  # a bar of 1 shows
    at.button(key=f"job_{name}_report").click().run()
    report = at.session_state[f"job_{name}_report_html"]
    assert "<h3>Step durations</h3>" in report and "<h3>CPU per core (%)</h3>" in report  # titles above the charts
    assert '"title":{"text":"CPU' not in report.replace(" ", "")  # not inside them, where the legend sits


def first_epoch(directory: Path) -> Path:
    """What the training script has recorded 13 steps into its first epoch, written by its own event writer:
    the loss rose 3.67% after the first step, the learning rate is 0.001, the update ratio was recorded once
    (step 0; every 100 steps), and no epoch has ended (no validation loss yet)."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    from classifier.recording.recorder import open_event_file

    def event(step: int, **values: float) -> bytes:
        summary = Summary(
            value=[Summary.Value(tag=tag.replace("__", "/"), simple_value=v) for tag, v in values.items()]
        )
        return Event(wall_time=1.7e9 + step, step=step, summary=summary).SerializeToString()

    writer = open_event_file(directory / "events" / "algo-1")
    writer.write(event(0, WeightNorm__head=3.0, WeightStd__head=0.05))
    for step in range(13):
        loss = 2.9584 if step == 0 else 3.0671
        values = {"Loss__train": loss, "Accuracy__train": 0.1, "LearningRate__group0": 0.001, "Timing__step_s": 0.02}
        if step == 0:
            values |= {"UpdateRatio__head": 0.004, "GradientNorm__head": 0.8}
        writer.write(event(step, **values))
    writer.close()
    return directory


@pytest.fixture
def running_machine(aws_env, tmp_path: Path):
    """An EC2 training machine that keeps running, with a first epoch's recording where its runner uploads it."""
    service = Ec2TrainingService(aws_env.session(), settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    spec = TrainingSpec(job_name=generate_job_name("first-epoch"), data_uri="s3://d-x/d/", output_path="s3://x-out/o/")
    request = service.build_request(spec, Ec2Options(ami="ami-0123456789abcdef0", instance_profile=None))
    request["UserData"] = SLOW_MACHINE
    instance_id = aws_env.client("ec2").run_instances(**request)["Instances"][0]["InstanceId"]
    upload(aws_env, first_epoch(tmp_path / "recording"), recording_uri(spec).removeprefix("s3://x-out/"))
    yield instance_id
    service.terminate(instance_id)


def test_the_first_epoch_reads_right_in_the_debugger_tab(aws_env, running_machine) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/train.py")
    at.run()
    at.selectbox(key="ec2_chosen").set_value(running_machine).run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    table = next(t.value for t in at.table if "rule" in t.value.columns)  # a table that wraps: nothing cut off
    assert list(table.columns) == ["rule", "status", "step", "what happened", "what to do", "parameters"]
    found = table.set_index("rule")
    assert (found.loc["Overfit", "status"], found.loc["Overfit", "what happened"]) == (
        "InProgress",
        "Waiting for data: Loss/valid was not recorded.",
    )
    assert any("waiting for data the job has not recorded yet" in m.value for m in at.markdown)
    assert rules(at)["LossNotDecreasing"] == ("IssuesFound", 10)
    said = found.loc["LossNotDecreasing", "what happened"]
    assert said.startswith("Loss/train rose 3.67% over 10 steps (mean 2.9584 to 3.0671)"), said
    assert found.loc["LossNotDecreasing", "what to do"].startswith("The loss does not fall")

    charts = by_title(at)
    rate = charts["Learning rate"]["layout"]["yaxis"]
    assert rate["type"] == "log" and rate["range"] == pytest.approx([-4, -2])  # 0.001 mid-axis, not -1..1
    assert rate["title"]["text"] == "learning rate"
    (ratio,) = charts["Update-to-weight ratio per layer"]["data"]
    assert "markers" in ratio["mode"]  # one point drawn as a line alone would be invisible
    assert any(
        c.value.startswith("One ratio per layer so far (step 0)") and "next comes at step 100" in c.value
        for c in at.caption
    )
    assert webgl_charts(at) == []
