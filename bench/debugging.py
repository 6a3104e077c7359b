"""`./dev bench debugging`: what recording costs and how fast its views are, measured in one run.

- training throughput with recording on and off, the same job in adjacent pairs (target: recording costs at
  most 5 %), for head mode with features kept and for decoding every photo every epoch, on the first 30
  breeds; where each one's time went (from the recording's own phase timeline);
- the worst case, head mode once features are kept (a step is under a millisecond): epochs off, on with the
  default record_interval and on with gradients every step, in turn;
- the recording's size per 1,000 steps (events and timeline; system samples grow with time, not steps);
- the Debugger tab's work for a 5,000-step recording: rules evaluated, charts built and serialised as
  Streamlit sends them (target: under 2 s).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import RESULTS
from bench.bench_training import DEFAULT_DATA
from classifier.recording.reader import RECORD_INTERVAL, Recording, Series, read_recording_dir
from classifier.recording.recorder import Recorder, RecordingConfig
from classifier.training.config import parse_config
from classifier.training.image_folder import read_channel
from classifier.training.loop import train_and_evaluate
from tests.channels import small_channel

MIN_TIMED_STEPS = 300


def _train(data_dir: Path, record_dir: Path | None, *, epochs: int, batch_size: int, cache: bool) -> dict[str, Any]:
    args = ["--data-dir", str(data_dir), "--epochs", str(epochs), "--batch_size", str(batch_size)]
    config, _ = parse_config([*args, "--cache_features", str(cache).lower()], {})
    splits = read_channel(config.data_dir)
    recorder = Recorder(RecordingConfig(record_dir, "algo-1", True)) if record_dir else None
    lines: list[str] = []
    start = time.perf_counter()
    result = train_and_evaluate(config, splits, torch.device("cpu"), lines.append, recorder=recorder)
    wall = time.perf_counter() - start
    if recorder:
        recorder.close()
    steps = recorder.step if recorder else 0
    return {"images_per_s": result.throughput, "wall_s": wall, "steps": steps}


def _phases(record_dir: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    for record in read_recording_dir(record_dir).records("phase"):
        totals[record["Phase"]] = totals.get(record["Phase"], 0.0) + float(record["Seconds"])
    return {k: round(v, 2) for k, v in totals.items()}


def bench_overhead(data_dir: Path, repeats: int, epochs: int, batch_size: int, cache: bool) -> dict[str, Any]:
    """Recording off and on in adjacent pairs (the pair sees the same machine load); per-pair ratios and
    their median, and the recording's size."""
    off, on, ratios, phases = [], [], [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(repeats):
            record_dir = Path(scratch) / f"run{i}"
            first_on = i % 2 == 1  # alternate which goes first
            runs = {}
            for recording in (first_on, not first_on):
                where = record_dir if recording else None
                runs[recording] = _train(data_dir, where, epochs=epochs, batch_size=batch_size, cache=cache)
            off.append(runs[False]["images_per_s"])
            on.append(runs[True]["images_per_s"])
            ratios.append(on[-1] / off[-1])
            phases = _phases(record_dir)
        events = sum(p.stat().st_size for p in (record_dir / "events").rglob("*") if p.is_file())
        timeline = sum(p.stat().st_size for p in (record_dir / "timeline").rglob("*") if p.is_file())
        system = sum(p.stat().st_size for p in (record_dir / "system").rglob("*") if p.is_file())
    steps, wall = runs[True]["steps"], runs[True]["wall_s"]
    return {
        "cache_features": cache,
        "repeats": repeats,
        "images_per_s_off": [round(x, 1) for x in off],
        "images_per_s_on": [round(x, 1) for x in on],
        "on_over_off_per_pair": [round(r, 3) for r in ratios],
        "median_on_over_off": round(statistics.median(ratios), 3),
        "steps": steps,
        "epochs": epochs,
        "events_mb_per_1000_steps": round(events / 2**20 / max(steps, 1) * 1000, 3),
        "timeline_mb_per_1000_steps": round(timeline / 2**20 / max(steps, 1) * 1000, 3),
        "system_kb_per_minute": round(system / 1024 / max(wall, 1e-9) * 60, 1),
        "phases_s": phases,
    }


def bench_steady_state(channel: Path, repeats: int, batch_size: int) -> dict[str, Any]:
    """The worst case: head mode once every photo's features are kept, where a step is a linear layer's work
    (under a millisecond) and recording's fixed cost per step shows most. Epochs off, on (default interval)
    and on (gradients every step), each first in turn."""
    from torch.utils.data import RandomSampler

    from classifier.training.batches import CachedFeatureBatches
    from classifier.training.breed_net import BreedNet
    from classifier.training.loop import _optimizer, _run_epoch

    samples = read_channel(channel)["train"].samples
    torch.manual_seed(0)
    net = BreedNet("head")
    optimizer = _optimizer(net, 0.01)
    sampler = RandomSampler(range(len(samples)))
    batches = CachedFeatureBatches(net, samples, sampler, batch_size, torch.device("cpu"), True)
    for _ in range(3):  # every photo and its mirror through the trunk once
        _run_epoch(net.classifier, batches, optimizer)
    intervals = (RECORD_INTERVAL, 1)
    steps = math.ceil(len(samples) / batch_size)
    passes = math.ceil(MIN_TIMED_STEPS / steps)  # a timing spans a few hundred steps (the interval's too)
    times: dict[int | None, list[float]] = {None: [], **{i: [] for i in intervals}}
    with tempfile.TemporaryDirectory() as scratch:
        recorders = {
            i: Recorder(RecordingConfig(Path(scratch) / str(i), "algo-1", True, record_interval=i)) for i in intervals
        }
        for recorder in recorders.values():
            recorder.watch(net.classifier)
        order: list[int | None] = [None, *intervals]
        for i in range(repeats * 8):
            for interval in order[i % 3 :] + order[: i % 3]:  # each one first in turn
                start, images = time.perf_counter(), 0
                for _ in range(passes):
                    metrics = _run_epoch(net.classifier, batches, optimizer, recorder=recorders.get(interval))
                    assert metrics is not None
                    images += metrics.images
                times[interval].append(images / (time.perf_counter() - start))
        for recorder in recorders.values():
            recorder.close()
    off = statistics.median(times[None])
    result: dict[str, Any] = {
        "steps_per_timing": steps * passes,
        "median_images_per_s_off": round(off),
    }
    for interval in intervals:
        on = statistics.median(times[interval])
        result[f"record_interval_{interval}"] = {
            "median_images_per_s_on": round(on),
            "on_over_off": round(on / off, 3),
            "median_on_over_off_per_round": round(
                statistics.median(a / b for a, b in zip(times[interval], times[None], strict=True)), 3
            ),
            "recording_ms_per_step": round((1 / on - 1 / off) * batch_size * 1000, 3),
        }
    return result


def synthetic_recording(steps: int = 5000, layers: int = 4, epochs: int = 50) -> Recording:
    """A recording shaped like a long run's: per-step scalars, per-layer gradients, per-epoch weights."""
    rng = np.random.default_rng(0)
    index = np.arange(steps)
    scalars = {
        "Loss/train": Series(index, 3 * np.exp(-index / 2000) + rng.normal(0, 0.1, steps)),
        "Accuracy/train": Series(index, np.clip(1 - np.exp(-index / 1500) + rng.normal(0, 0.05, steps), 0, 1)),
        "LearningRate/group0": Series(index, np.full(steps, 0.01)),
        "Timing/step_s": Series(index, rng.gamma(2, 0.01, steps)),
    }
    for layer in range(layers):
        scalars[f"GradientNorm/layer{layer}"] = Series(index, rng.lognormal(-2, 0.5, steps))
        scalars[f"GradientMeanAbs/layer{layer}"] = Series(index, rng.lognormal(-6, 0.5, steps))
        scalars[f"UpdateRatio/layer{layer}"] = Series(index[::10], rng.lognormal(-7, 0.3, steps // 10))
        epoch_steps = np.linspace(0, steps, epochs + 1).astype(int)
        scalars[f"WeightNorm/layer{layer}"] = Series(epoch_steps, 10 + np.arange(epochs + 1) * 0.1)
        scalars[f"WeightStd/layer{layer}"] = Series(epoch_steps, 0.05 + np.arange(epochs + 1) * 0.001)
    valid_steps = np.linspace(steps // epochs, steps, epochs).astype(int)
    scalars["Loss/valid"] = Series(valid_steps, 3 * np.exp(-valid_steps / 2000) + 0.2)
    return Recording(scalars=scalars)


def bench_paint(repeats: int) -> dict[str, Any]:
    """The Debugger tab's work for 5,000 steps: rules, figures, and the figures' JSON (what goes to the browser)."""
    from app.training.debugger_view import debugger_charts, loss_chart
    from classifier.rules.debugger_rules import DEBUG_RULES, evaluate_rule

    recording = synthetic_recording()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = [evaluate_rule(name, recording) for name in DEBUG_RULES]
        figures = [loss_chart(recording, results), *(chart.figure for chart in debugger_charts(recording))]
        payload = sum(len(f.to_json()) for f in figures if f is not None)
        times.append(time.perf_counter() - start)
    return {"steps": 5000, "median_s": round(statistics.median(times), 3), "json_kb": round(payload / 1024)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--classes", type=int, default=30, help="breeds of the dataset to train on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--skip-training", action="store_true", help="only the paint benchmark")
    parser.add_argument(
        "--skip-overhead", action="store_true", help="no whole-job runs (decoding every epoch takes minutes)"
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"threads": torch.get_num_threads(), "paint": bench_paint(args.repeats)}
    if not args.skip_training:
        with tempfile.TemporaryDirectory() as scratch:
            channel = small_channel(Path(scratch) / "channel", args.classes, args.data_dir)
            report["steady_state_cached_head"] = bench_steady_state(channel, args.repeats, args.batch_size)
            if not args.skip_overhead:
                report["overhead"] = [
                    bench_overhead(channel, args.repeats, args.epochs, args.batch_size, cache)
                    for cache in (True, False)
                ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "debugging.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
