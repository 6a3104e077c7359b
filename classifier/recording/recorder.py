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
thread hands over a tuple a step and is never woken or made to wait for the writer. Every stream is written
as parts (classifier/recording/parts.py): the writer thread moves the events and the timeline on to a new
file when one is due, so a copy to S3 uploads each closed file once.
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

from classifier.recording.parts import ROLL_BYTES, ROLL_SECONDS, RollingParts, text_file
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
    roll_bytes: int = ROLL_BYTES
    roll_seconds: float = ROLL_SECONDS
    """When each stream moves on to a new file (classifier/recording/parts.py)."""


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
        self._records: list[dict] = []
        directory, roll = config.directory, {"roll_bytes": config.roll_bytes, "roll_seconds": config.roll_seconds}
        self._events = (
            RollingParts(
                directory / EVENTS_DIR / config.host,
                _event_file,
                prefix="events.out.tfevents.",
                suffix=f".{socket.gethostname()}",
                header_bytes=len(_version_event()) + RECORD_FRAMING_BYTES,
                **roll,
            )
            if config.is_leader
            else None
        )
        self._timeline = RollingParts(directory / TIMELINE_DIR / config.host, text_file, suffix=".json", **roll)
        self._pending: deque = deque()
        self._closing = threading.Event()
        self._writer_thread = threading.Thread(target=self._write_parts, name="recording-writer", daemon=True)
        self._writer_thread.start()
        self._monitor = SystemMonitor(directory / SYSTEM_DIR / config.host, config.host, config.interval_ms, **roll)
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
        self._records.append(record)
        line = json.dumps(record) + "\n"
        self._timeline.write(line, len(line.encode()))
        self._timeline.flush()  # whole lines on disk for readers of the running job

    # model data --------------------------------------------------------------
    def before_update(self) -> None:
        """Called between backward and optimizer.step: gradients are in place, weights not yet changed."""
        if not self._events:
            return
        if self.step % self.config.record_interval == 0:
            self._before_update = {
                layer: [p.detach().clone() for _, p in params] for layer, params in self.layers.items()
            }

    def train_step(
        self, loss: float, accuracy: float, learning_rates: Sequence[float], data_s: float, compute_s: float
    ) -> None:
        """After optimizer.step: the step's scalars as one event; the step counter moves on."""
        if self._events:
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
        if self._events:
            self._write(self.eval_step, [("Loss/eval", loss)])
        self.eval_step += 1

    def epoch_end(self, epoch: int, valid_loss: float, valid_accuracy: float) -> None:
        if self._events:
            self._write(self.step, [("Loss/valid", valid_loss), ("Accuracy/valid", valid_accuracy)])
            self.weights()

    def weights(self) -> None:
        """Per-layer weight statistics and histograms at the current step (also before training: step 0)."""
        if not self._events:
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

    def _write_parts(self) -> None:
        """The writer thread: every FLUSH_SECONDS (and at close) it writes one TensorBoard event per pending
        step and flushes, so a reader of the running job finds whole records, and moves the events and the
        timeline on to their next file when due."""
        while True:
            closing = self._closing.wait(FLUSH_SECONDS)
            if self._events:
                self._drain()
                self._events.flush()
            self._timeline.flush()
            if closing:
                break

    def _drain(self) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import HistogramProto, Summary

        assert self._events is not None
        while self._pending:
            wall_time, step, values, histogram = self._pending.popleft()
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in values])
            if histogram is not None:
                tag, (low, high, count, total), squares, limits, buckets = histogram
                proto = HistogramProto(
                    min=low, max=high, num=count, sum=total, sum_squares=squares, bucket_limit=limits, bucket=buckets
                )
                summary.value.append(Summary.Value(tag=tag, histo=proto))
            record = Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()
            self._events.write(record, len(record) + RECORD_FRAMING_BYTES)

    # the whole ----------------------------------------------------------------
    def recording(self) -> Recording:
        """What this host recorded so far, as the rules read it (system samples are not kept in memory)."""
        scalars = {
            tag: Series(np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
            for tag, (steps, values) in self._points.items()
        }
        return Recording(scalars=scalars, histograms=dict(self._histograms), timeline=list(self._records))

    def close(self) -> None:
        self._monitor.stop()
        self._closing.set()
        self._writer_thread.join()
        if self._events:
            self._events.close()
        self._timeline.close()


RECORD_FRAMING_BYTES = 16
"""A TFRecord's length (8 bytes) and the CRCs of the length and of the data (4 each)."""


def _version_event() -> bytes:
    from tensorboardX.proto.event_pb2 import Event

    return Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()


def _event_file(path: Path) -> Any:
    """A TensorBoard event file at ``path``, written directly (tensorboardX's FileWriter hands every event
    through a multiprocessing queue, which cost more than the step it recorded), opened with the version
    record every event file starts with."""
    from tensorboardX.record_writer import RecordWriter

    writer = RecordWriter(str(path))
    writer.write(_version_event())
    return writer


def open_event_file(directory: Path) -> Any:
    """One TensorBoard event file in ``directory``, named as TensorBoard expects (for writing a whole run's
    events into one file, as other tools do)."""
    directory.mkdir(parents=True, exist_ok=True)
    return _event_file(directory / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}")


def trainable_layers(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Trainable parameters grouped by layer (the parameter name without its last part), in module order."""
    layers: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            layer, _, short = name.rpartition(".")
            layers.setdefault(layer or short, []).append((short, parameter))
    return layers
