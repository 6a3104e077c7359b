"""Training records itself for real (a tiny job on the shared photos, head mode with its frozen trunk): the
event files, system samples and timeline are readable, and the rules judge a sane and a wild learning rate.
Each stream is written as parts that read back whole and in order, and reading stops at a cap."""

import json
import sys
from pathlib import Path

import pytest

from classifier.recording.reader import load_recording, read_recording_dir
from classifier.recording.recorder import SPREAD_STEPS
from classifier.rules.debugger_rules import evaluate_rule
from tests.channels import DATASET, required, small_channel
from tests.classifier.training.test_train import script_env, train

LOSS_RULES = ("LossNotDecreasing", "ExplodingTensor", "VanishingGradient")


def run(tmp: Path, learning_rate: str, *extra: str) -> tuple[str, Path]:
    required(DATASET)
    channel = small_channel(tmp / "channel", classes=8)
    args = ["--learning_rate", learning_rate, "--batch_size", "8", "--epochs", "4", *extra]
    done = train(args, script_env(tmp, channel))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, tmp / "output" / "tensorboard"


@pytest.fixture(scope="module")
def sane(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return run(tmp_path_factory.mktemp("sane"), "0.01", "--record_interval", "5")


def test_recording_layout_and_contents(sane: tuple[str, Path]) -> None:
    _, directory = sane
    assert list((directory / "events" / "algo-1").glob("events.out.tfevents.*"))
    rec = read_recording_dir(directory)
    assert rec.problems == []
    steps = rec.scalars["Loss/train"].steps
    assert list(steps) == list(range(len(steps))) and len(steps) >= 12
    for tag in ("Accuracy/train", "LearningRate/group0", "Timing/step_s"):
        assert len(rec.scalars[tag].values) == len(steps), tag
    strided = [s for s in steps if s < SPREAD_STEPS or s % 5 == 0]  # every record_interval, and the first steps
    for tag in ("GradientNorm/head", "GradientMeanAbs/head"):
        assert list(rec.scalars[tag].steps) == strided, tag
    assert list(rec.scalars["UpdateRatio/head"].steps) == [s for s in steps if s % 5 == 0]
    assert len(rec.scalars["Loss/valid"].values) == 4  # one per epoch
    assert len(rec.scalars["WeightNorm/head"].values) == 5  # before training and after each epoch
    assert len(rec.histograms["Weights/head"]) == 5
    assert rec.scalars["UpdateRatio/head"].values.min() > 0
    phases = {r["Phase"] for r in rec.records("phase")}
    assert phases == {"initialisation", "data_loading", "forward_backward", "evaluation", "saving"}
    cpu = [key for key in rec.system if key[1] == "cpu"]
    cores = {key[2] for key in cpu}
    assert cores and all(key[0] == "algo-1" for key in cpu)
    assert {(core, "CPUUtilization") for core in cores} <= {(key[2], key[3]) for key in cpu}
    if sys.platform == "linux":  # SageMaker's I/O wait per core, which IOBottleneck reads
        assert {(core, "I/OWaitPercentage") for core in cores} <= {(key[2], key[3]) for key in cpu}
    first_part = sorted((directory / "system" / "algo-1").glob("*.json"))[0]
    line = json.loads(first_part.read_text().splitlines()[0])
    assert set(line) == {"Type", "Name", "Dimension", "Value", "NodeId", "Timestamp"}


def test_a_sane_learning_rate_fires_no_loss_rule(sane: tuple[str, Path]) -> None:
    stdout, directory = sane
    rec = read_recording_dir(directory)
    for name in LOSS_RULES:
        assert evaluate_rule(name, rec).status == "NoIssuesFound", name
    assert "Rule LossNotDecreasing: NoIssuesFound" in stdout  # the job's own verdict, logged as it changed


def test_learning_rate_50_fires_loss_not_decreasing_where_the_loss_leaps(tmp_path: Path) -> None:
    stdout, directory = run(tmp_path, "50", "--stop_on_rule", "LossNotDecreasing")
    rec = read_recording_dir(directory)
    result = evaluate_rule("LossNotDecreasing", rec)
    assert result.status == "IssuesFound" and result.step == 10
    losses = rec.scalars["Loss/train"].values
    assert losses[1:11].mean() > losses[0] * 1.05  # the leap the rule saw
    assert "Rule LossNotDecreasing: IssuesFound at step 10" in stdout
    assert "Stopping training: rule LossNotDecreasing fired" in stdout  # stop_on_rule ended the run early


def test_a_truncated_event_file_yields_what_is_whole(sane: tuple[str, Path]) -> None:
    _, directory = sane
    files = {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    whole = load_recording(files)
    events = next(name for name in files if "tfevents" in name)
    files[events] = files[events][: len(files[events]) - 7]
    system = next(name for name in files if name.startswith("system/algo-1/"))
    files[system] = files[system][:-5]
    cut = load_recording(files)
    assert any("partial record" in problem for problem in cut.problems)
    assert any("not whole JSON" in problem for problem in cut.problems)
    assert 0 < len(cut.scalars["Loss/train"].values) <= len(whole.scalars["Loss/train"].values)


def test_recording_off_writes_nothing(tmp_path: Path) -> None:
    _, directory = run(tmp_path, "0.01", "--record", "false")
    assert not directory.exists()
