"""SageMaker script-mode training entry point for the 133-breed classifier; the same script runs on a
plain machine (``python -m classifier.training.train --data-dir dogImages --model-dir model``).

Logs one metric line per epoch and the final test metrics in the formats the job's MetricDefinitions
read (``Testing Loss: ([0-9\\.]+)`` as in the original project, but as a true mean over samples), and
leaves in the model directory what the endpoint serves: model.onnx, model.json and code/.

SIGTERM (what SageMaker sends on StopTrainingJob and at MaxRuntimeInSeconds, then SIGKILL 120 s later)
ends training at the next batch: the model of the last whole epoch is saved, or none before one ended.
The loop itself is in `loop`; this module is the script around it: arguments, the recorder, the saved model.
"""

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import torch

from classifier.allocator import keep_freed_memory
from classifier.labels import udacity_labels
from classifier.packaging import build_model_dir_code
from classifier.recording.recorder import Recorder, RecordingConfig
from classifier.training import distributed
from classifier.training.config import ConfigError, TrainConfig, parse_config
from classifier.training.export_onnx import export_onnx
from classifier.training.image_folder import DatasetError, read_channel
from classifier.training.loop import StopSignal, TrainingResult, train_and_evaluate

STARTED = time.time()
"""When the script started: the initialisation phase runs from here to the first training batch."""
MODEL_NAME = "dog-breed-efficientnet-lite0-udacity133"


def save_model(config: TrainConfig, result: TrainingResult) -> None:
    """Write model.pth, model.onnx (outputs "logits" N×133 and "imagenet_logits" N×1000), model.json
    and code/ into the model directory, which SageMaker turns into model.tar.gz. A stopped run's model.json
    says after which epoch it stopped and has no test metrics."""
    model_dir = config.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    net = result.net.cpu().eval()
    torch.save(net.state_dict(), model_dir / "model.pth")
    export_onnx(model_dir / "model.onnx", net, output_names=("logits", "imagenet_logits"))
    last = result.history[-1]
    metadata = {
        "name": MODEL_NAME,
        "framework": "onnx",
        "classes": "udacity-133",
        "input": [1, 3, 224, 224],
        "labels": udacity_labels(),
        "hyperparameters": config.hyperparameter_dict(),
        "metrics": {
            "train_loss": last["train_loss"],
            "train_accuracy": last["train_acc"],
            "valid_loss": last["valid_loss"],
            "valid_accuracy": last["valid_acc"],
            "train_throughput": round(result.throughput, 2),
        },
    }
    if result.test is not None:
        metadata["metrics"].update(test_loss=result.test.loss, test_accuracy=result.test.accuracy)
    if result.stopped:
        metadata["stopped_after_epoch"] = int(last["epoch"])
    (model_dir / "model.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    build_model_dir_code(model_dir)
    config.output_data_dir.mkdir(parents=True, exist_ok=True)
    (config.output_data_dir / "history.json").write_text(json.dumps(result.history, indent=2), encoding="utf-8")


def _log(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse, validate, train, save; a bad value or dataset exits 1 with one line saying what to fix
    (also written to ``SM_OUTPUT_DIR/failure``, where SageMaker reads a job's FailureReason)."""
    try:
        config, unknown = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
        splits = read_channel(config.data_dir)
        train_images = len(splits["train"].samples)
        if config.hyperparameters.batch_size > train_images:
            raise ConfigError(
                f"batch_size {config.hyperparameters.batch_size} is larger than the {train_images} training "
                f"images; use at most {train_images}."
            )
    except (ConfigError, DatasetError) as exc:
        _fail(str(exc))
    if unknown:
        _log(f"Ignoring unknown arguments: {' '.join(unknown)}")
    if config.num_cpus:
        torch.set_num_threads(config.num_cpus)
    keep_freed_memory()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hp = config.hyperparameters
    stop = StopSignal()
    stop.install()  # before the first line, so a stop seen after that line is always handled
    _log(
        f"Training on {device.type} ({config.current_host}, {len(config.hosts)} host(s)): "
        f"{train_images} train / {len(splits['valid'].samples)} valid / {len(splits['test'].samples)} test "
        f"images, {splits['train'].class_count} classes; fine_tune={hp.fine_tune} learning_rate={hp.learning_rate:g} "
        f"batch_size={hp.batch_size} epochs={hp.epochs}"
    )
    recorder = _recorder(config)
    try:
        result = train_and_evaluate(config, splits, device, _log, stop, recorder)
    except DatasetError as exc:
        _fail(str(exc))
    finally:
        distributed.stop()
        if recorder and not config.is_leader:
            recorder.close()
    if result.stopped and not result.history:
        _log("Stopped before the first epoch ended: no model saved.")
        if recorder and config.is_leader:
            recorder.close()
        return
    if result.stopped:
        _log(f"Stopped after epoch {len(result.history)} of {hp.epochs}: saving the model of that epoch (untested).")
    if config.is_leader:
        saving_started = time.time()
        save_model(config, result)
        if recorder:
            recorder.add_phase("saving", saving_started, time.time())
            recorder.close()
        _log(f"Saved the model ({', '.join(sorted(p.name for p in config.model_dir.iterdir()))}) to {_where(config)}")


def _recorder(config: TrainConfig) -> Recorder | None:
    if not config.record:
        return None
    return Recorder(
        RecordingConfig(
            config.recording_dir,
            config.current_host,
            config.is_leader,
            config.profiling_interval_ms,
            record_interval=config.record_interval,
            started=STARTED,
        )
    )


def _where(config: TrainConfig) -> str:
    """Where the model went, without the host's layout: under SageMaker (or localcloud) the job's model
    directory, which becomes its model.tar.gz; run bare, the directory as the operator gave it."""
    if os.environ.get("SM_MODEL_DIR") and Path(os.environ["SM_MODEL_DIR"]) == config.model_dir:
        return "the job's model directory (SM_MODEL_DIR), uploaded as <output path>/<job>/output/model.tar.gz"
    return str(config.model_dir)


def _fail(message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr, flush=True)
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if output_dir:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "failure").write_text(message, encoding="utf-8")
    sys.exit(1)


if __name__ == "__main__":
    main()
