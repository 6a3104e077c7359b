"""Bare-training benchmark: the training loop of ``classifier.training.train`` run in-process, no job, no cloud.

It is the reference a localcloud training job's ``Train throughput`` line is compared against (the
target is at least 0.9× of it). Run from the repository root:
``python -m bench.bench_training [--data-dir DIR] [--epochs N] [--batch-size B] [--fine-tune MODE]``.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from classifier.training.config import parse_config
from classifier.training.image_folder import read_channel
from classifier.training.loop import train_and_evaluate
from tests.channels import DATASET

DEFAULT_DATA = DATASET


def bench_bare_training(
    data_dir: Path, epochs: int, batch_size: int, fine_tune: str = "head", cache_features: bool = True
) -> dict[str, Any]:
    """Train exactly as a job would (same config parsing, loop, logging format) and report training
    images/s (the job's own definition: train-phase images over train-phase seconds), seconds per
    epoch, total wall time and the test metrics."""
    args = ["--data-dir", str(data_dir), "--epochs", str(epochs), "--batch_size", str(batch_size)]
    config, _ = parse_config([*args, "--fine_tune", fine_tune, "--cache_features", str(cache_features).lower()], {})
    splits = read_channel(config.data_dir)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    lines: list[str] = []
    start = time.perf_counter()
    result = train_and_evaluate(config, splits, device, lines.append)
    wall = time.perf_counter() - start
    assert result.test is not None
    return {
        "data_dir": str(data_dir),
        "device": device.type,
        "threads": torch.get_num_threads(),
        "epochs": epochs,
        "batch_size": batch_size,
        "fine_tune": fine_tune,
        "cache_features": cache_features,
        "train_images": len(splits["train"].samples),
        "images_per_s": round(result.throughput, 2),
        "epoch_seconds": [entry["seconds"] for entry in result.history],
        "wall_seconds": round(wall, 2),
        "test_loss": round(result.test.loss, 4),
        "test_accuracy": round(result.test.accuracy, 4),
        "log": lines,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fine-tune", default="head", choices=["head", "last-blocks"])
    parser.add_argument("--no-cache-features", action="store_true", help="decode every photo every epoch")
    args = parser.parse_args(argv)
    keep = not args.no_cache_features
    result = bench_bare_training(args.data_dir, args.epochs, args.batch_size, args.fine_tune, keep)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
