"""What the training loop records about itself, cheaply, in files standard tools read (layout: see
classifier/recording/reader.py): TensorBoard event files (tensorboardX's protobufs and record framing, no
TensorFlow), the system monitor's JSON lines, and a timeline of phases.

Gradients are read from ``.grad`` after backward, never through hooks, so a frozen trunk (whose tensors do
not require gradients, where Debugger's hooks failed) costs nothing and breaks nothing. One TensorBoard event
a step carries every scalar of that step: losses, accuracy, learning rates and timings every step (cheap: a
few floats); per-layer gradient statistics and the update-to-weight ratio every ``record_interval`` steps
(and gradients on each of the first SPREAD_STEPS, with their spread), as Debugger's ``save_interval`` did.
The same values are kept in memory as a Recording, so the job evaluates its rules on them without reading
files back. Events are serialised by a writer thread in batches (every FLUSH_SECONDS), so the training
thread hands over a tuple a step and is never woken or made to wait for the writer.
"""

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from classifier.recording.reader import (
    EVENTS_DIR,
    RECORD_INTERVAL,
    SYSTEM_DIR,
    TIMELINE_DIR,
    Histogram,
    Recording,
    Series,
)
from classifier.recording.system_monitor import DEFAULT_INTERVAL_MS, SystemMonitor

SPREAD_STEPS = 10
"""Steps whose gradient percentiles are recorded: PoorWeightInitialization looks at the first 10 by default."""
HISTOGRAM_BINS = 64
FLUSH_SECONDS = 2.0


@dataclass(frozen=True)
class RecordingConfig:
    directory: Path
    host: str
    is_leader: bool
    interval_ms: int = DEFAULT_INTERVAL_MS
    record_interval: int = RECORD_INTERVAL
    started: float | None = None
    """When the job's process started (the initialisation phase runs from here); None: when recording began."""


class Recorder:
    """Writes one host's recording. Model data (losses, gradients, weights) only on the leader, whose
    gradients after the all-reduce are every host's; system use and phases on every host."""

    def __init__(self, config: RecordingConfig) -> None:
        self.config = config
        self.started = config.started or time.time()
        self.layers: dict[str, list[tuple[str, nn.Parameter]]] = {}
        self.step = 0
        self.eval_step = 0
        self._points: dict[str, tuple[list[int], list[float]]] = {}
        self._histograms: dict[str, list[Histogram]] = {}
        self._timeline: list[dict] = []
        directory = config.directory
        for sub in (SYSTEM_DIR, TIMELINE_DIR):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self._writer = open_event_file(directory / EVENTS_DIR / config.host) if config.is_leader else None
        self._pending: deque = deque()
        self._closing = threading.Event()
        self._events_thread = threading.Thread(target=self._write_events, name="recording-writer", daemon=True)
        if self._writer:
            self._events_thread.start()
        self._timeline_file = (directory / TIMELINE_DIR / f"{config.host}.json").open("a", encoding="utf-8")
        self._monitor = SystemMonitor(directory / SYSTEM_DIR / f"{config.host}.json", config.host, config.interval_ms)
        self._monitor.start()
        self._before_update: dict[str, list[torch.Tensor]] | None = None

    def watch(self, module: nn.Module) -> None:
        """Record the gradients and weights of ``module``'s trainable parameters, grouped by layer."""
        self.layers = trainable_layers(module)

    # phases ------------------------------------------------------------------
    def add_phase(self, name: str, start: float, end: float, epoch: int | None = None) -> None:
        self.add_seconds(name, end - start, epoch, start=start)

    def add_seconds(self, name: str, seconds: float, epoch: int | None = None, *, start: float | None = None) -> None:
        """A phase's time; ``start`` where it was one stretch (data loading and compute interleave)."""
        record = {"Record": "phase", "Phase": name, "Seconds": round(seconds, 4), "Epoch": epoch, "Step": self.step}
        if start is not None:
            record["Start"] = round(start, 3)
        self.add_record(record)

    def add_record(self, record: dict) -> None:
        record = {**record, "NodeId": self.config.host}
        self._timeline.append(record)
        self._timeline_file.write(json.dumps(record) + "\n")
        self._timeline_file.flush()

    # model data --------------------------------------------------------------
    def before_update(self) -> None:
        """Called between backward and optimizer.step: gradients are in place, weights not yet changed."""
        if not self._writer:
            return
        if self.step % self.config.record_interval == 0:
            self._before_update = {
                layer: [p.detach().clone() for _, p in params] for layer, params in self.layers.items()
            }

    def train_step(
        self, loss: float, accuracy: float, learning_rates: Sequence[float], data_s: float, compute_s: float
    ) -> None:
        """After optimizer.step: the step's scalars as one event; the step counter moves on."""
        if self._writer:
            values = [
                ("Loss/train", loss),
                ("Accuracy/train", accuracy),
                ("Timing/data_loading_s", data_s),
                ("Timing/forward_backward_s", compute_s),
                ("Timing/step_s", data_s + compute_s),
            ]
            values += [(f"LearningRate/group{i}", lr) for i, lr in enumerate(learning_rates)]
            if self.step < SPREAD_STEPS or self.step % self.config.record_interval == 0:
                values += self._gradient_values()
            values += self._update_ratios()
            self._write(self.step, values)
        self.step += 1

    def eval_batch(self, loss: float) -> None:
        if self._writer:
            self._write(self.eval_step, [("Loss/eval", loss)])
        self.eval_step += 1

    def epoch_end(self, epoch: int, valid_loss: float, valid_accuracy: float) -> None:
        if self._writer:
            self._write(self.step, [("Loss/valid", valid_loss), ("Accuracy/valid", valid_accuracy)])
            self.weights()

    def weights(self) -> None:
        """Per-layer weight statistics and histograms at the current step (also before training: step 0)."""
        if not self._writer:
            return
        values = []
        for layer, params in self.layers.items():
            weights = [p.detach() for name, p in params if name.endswith("weight")] or [p.detach() for _, p in params]
            flat = torch.cat([w.flatten() for w in weights]).float().cpu()
            values += [
                (f"WeightNorm/{layer}", float(flat.norm())),
                (f"WeightMean/{layer}", float(flat.mean())),
                (f"WeightStd/{layer}", float(flat.std()) if flat.numel() > 1 else 0.0),
            ]
            self._histogram(f"Weights/{layer}", flat.numpy())
        self._write(self.step, values)

    def _gradient_values(self) -> list[tuple[str, float]]:
        grads = {layer: [p.grad for _, p in params if p.grad is not None] for layer, params in self.layers.items()}
        grads = {layer: g for layer, g in grads.items() if g}
        if not grads:
            return []
        stats = []
        for gs in grads.values():  # (vector_norm(ord=1) measured 4x slower than abs().sum() on the CPU)
            squares = torch.stack([torch.linalg.vector_norm(g).square() for g in gs]).sum()
            total_abs = torch.stack([g.abs().sum() for g in gs]).sum()
            stats.append(torch.stack([squares.sqrt(), total_abs / sum(g.numel() for g in gs)]))
        numbers = torch.stack(stats).tolist()  # one device sync for every layer
        values = []
        for layer, (norm, mean_abs) in zip(grads, numbers, strict=True):
            values += [(f"GradientNorm/{layer}", norm), (f"GradientMeanAbs/{layer}", mean_abs)]
        if self.step < SPREAD_STEPS:
            for layer, gs in grads.items():
                flat = torch.cat([g.flatten() for g in gs]).float()
                if flat.numel() > 1_000_000:
                    flat = flat[torch.randint(flat.numel(), (1_000_000,), device=flat.device)]
                low, high = torch.quantile(flat, torch.tensor([0.05, 0.95], device=flat.device)).tolist()
                values.append((f"GradientSpread/{layer}", high - low))
        return values

    def _update_ratios(self) -> list[tuple[str, float]]:
        before, self._before_update = self._before_update, None
        if before is None:
            return []
        values = []
        for layer, params in self.layers.items():
            old = before[layer]
            change = torch.stack([(p.detach() - o).float().pow(2).sum() for (_, p), o in zip(params, old, strict=True)])
            size = torch.stack([o.float().pow(2).sum() for o in old])
            values.append((f"UpdateRatio/{layer}", float(change.sum().sqrt() / size.sum().sqrt().clamp_min(1e-12))))
        return values

    def _write(self, step: int, values: list[tuple[str, float]]) -> None:
        """Keep the values for the job's own rules and hand them to the writer thread (which builds the
        protobufs and writes, off the training thread)."""
        for tag, value in values:
            steps, points = self._points.setdefault(tag, ([], []))
            steps.append(step)
            points.append(value)
        self._pending.append((time.time(), step, values, None))

    def _histogram(self, tag: str, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return
        counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
        self._histograms.setdefault(tag, []).append(Histogram(self.step, edges[1:], counts))
        stats = (float(finite.min()), float(finite.max()), float(finite.size), float(finite.sum()))
        squares = float(np.square(finite, dtype=np.float64).sum())
        histogram = (tag, stats, squares, edges[1:].tolist(), counts.astype(float).tolist())
        self._pending.append((time.time(), self.step, [], histogram))

    def _write_events(self) -> None:
        """The writer thread: every FLUSH_SECONDS (and at close) it writes one TensorBoard event per pending
        step and flushes, so a sync of the directory while the job runs finds whole records."""
        assert self._writer is not None
        while True:
            closing = self._closing.wait(FLUSH_SECONDS)
            self._drain()
            self._writer.flush()
            if closing:
                break

    def _drain(self) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import HistogramProto, Summary

        assert self._writer is not None
        while self._pending:
            wall_time, step, values, histogram = self._pending.popleft()
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in values])
            if histogram is not None:
                tag, (low, high, count, total), squares, limits, buckets = histogram
                proto = HistogramProto(
                    min=low, max=high, num=count, sum=total, sum_squares=squares, bucket_limit=limits, bucket=buckets
                )
                summary.value.append(Summary.Value(tag=tag, histo=proto))
            self._writer.write(Event(wall_time=wall_time, step=step, summary=summary).SerializeToString())

    # the whole ----------------------------------------------------------------
    def recording(self) -> Recording:
        """What this host recorded so far, as the rules read it (system samples are not kept in memory)."""
        scalars = {
            tag: Series(np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
            for tag, (steps, values) in self._points.items()
        }
        return Recording(scalars=scalars, histograms=dict(self._histograms), timeline=list(self._timeline))

    def close(self) -> None:
        self._monitor.stop()
        if self._writer:
            self._closing.set()
            self._events_thread.join()
            self._writer.close()
        self._timeline_file.close()


def open_event_file(directory: Path) -> Any:
    """A TensorBoard event file written directly (tensorboardX's FileWriter hands every event through a
    multiprocessing queue, which cost more than the step it recorded), named as TensorBoard expects."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.record_writer import RecordWriter

    directory.mkdir(parents=True, exist_ok=True)
    writer = RecordWriter(str(directory / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"))
    writer.write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
    return writer


def trainable_layers(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Trainable parameters grouped by layer (the parameter name without its last part), in module order."""
    layers: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            layer, _, short = name.rpartition(".")
            layers.setdefault(layer or short, []).append((short, parameter))
    return layers
