"""The Job page's Debugger and Profiler tabs against a real localcloud, on a recording a real (tiny) training
run wrote: rules with the fired step, re-evaluation with other parameters (bad ones refused), the profiler's
tables and HTML report, and jobs whose recording is missing or cut short."""

import uuid
from pathlib import Path

import pytest

from tests.classifier.test_recording import run
from tests.pages.conftest import dashboard
from tests.pages.test_pages_jobs_localcloud import create_failing_job


@pytest.fixture(scope="module")
def wild_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the real training script records at learning rate 50 (LossNotDecreasing fires at step 10)."""
    _, directory = run(tmp_path_factory.mktemp("wild"), "50")
    return directory


def job_with(aws_env, recording: Path | None, *, cut: bool = False) -> str:
    """A job (failed at once, so it uses no CPU) whose TensorBoard location holds ``recording``."""
    name = f"debug-tab-{uuid.uuid4().hex[:12]}"  # several per second: a timestamped name would repeat
    create_failing_job(aws_env, name, 50.0)
    s3 = aws_env.client("s3")
    if "x-out" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="x-out")
    for path in sorted(recording.rglob("*")) if recording else []:
        if path.is_file():
            body = path.read_bytes()
            if cut and "tfevents" in path.name:
                body = body[: len(body) * 2 // 3]
            s3.put_object(Bucket="x-out", Key=f"o/{name}/tensorboard/{path.relative_to(recording)}", Body=body)
    return name


def open_job(name: str):
    at = dashboard().run()
    at.switch_page("dashboard_pages/job.py")
    at.query_params["job"] = name
    return at.run()


def rules(at) -> dict[str, tuple[str, object]]:
    frame = next(d.value for d in at.dataframe if "rule" in d.value.columns and "status" in d.value.columns)
    return {row["rule"]: (row["status"], row["step"]) for _, row in frame.iterrows()}


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
    at = open_job(name)
    frames = [d.value for d in at.dataframe]
    report = next(f for f in frames if "times triggered" in f.columns)
    assert {"StepOutlier", "MaxInitializationTime", "CPUBottleneck", "OverallSystemUsage"} <= set(report["rule"])
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
