"""A training job's recording as data the rules and the dashboard read (numpy only: no torch, no TensorFlow),
and the readers for the files ``classifier.recording.recorder`` writes.

Layout of a recording directory (the TensorBoardOutputConfig LocalPath, default /opt/ml/output/tensorboard;
SageMaker and localcloud sync it to its S3OutputPath while the job runs). Each stream is a directory of parts
that sort in writing order, a new one every few MB or seconds (classifier/recording/parts.py); readers take
them in order, up to MAX_STREAM_BYTES a stream::

    events/<host>/events.out.tfevents.<second>.<part>.<machine>   TensorBoard scalars and histograms (the
        leader host only; TensorBoard reads a directory's event files in this order):
        Loss/train, Accuracy/train, LearningRate/<group>, Timing/data_loading_s, Timing/forward_backward_s,
        Timing/step_s every train step; GradientNorm/<layer>, GradientMeanAbs/<layer> and
        UpdateRatio/<layer> every record_interval steps (RECORD_INTERVAL unless the job sets it) and
        GradientNorm/<layer>, GradientMeanAbs/<layer>, GradientSpread/<layer> (95th minus 5th percentile)
        on each of the first steps; Loss/eval at the eval step (its own counter); Loss/valid, Accuracy/valid,
        WeightNorm/<layer>, WeightMean/<layer>, WeightStd/<layer> and histograms Weights/<layer> at the
        train step where each epoch ends (and at step 0, before training).
    system/<host>/<second>.<part>.json     SageMaker system-monitor records, one JSON object a line
        (recording/system_monitor.py)
    timeline/<host>/<second>.<part>.json   one JSON object a line, each with "Record", "NodeId" and the train "Step" it
        was written at: {"Record": "phase", "Phase": initialisation | data_loading | forward_backward | evaluation |
        saving, "Seconds", "Epoch", "Start" (where it was one stretch)}; per epoch {"Record": "classes", "Epoch",
        "TrainSamples", "Samples", "Correct"} (per class index: training samples, validation samples and how many of
        those were right) and, where the head reads ReLU outputs, {"Record": "relu_activity", "Epoch", "Layer",
        "Active"} (per unit, the share of training samples it was positive for); {"Record": "rule", "Rule", "Status",
        "Details"} when a rule the job evaluates changes status; {"Record": "config", "DataloaderWorkers", "Cores"}
        once.
"""

import json
import struct
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.recording.event_proto import parse_event
from classifier.recording.parts import MAX_STREAM_BYTES, plan_reading

SYSTEM_DIR, EVENTS_DIR, TIMELINE_DIR = "system", "events", "timeline"
RECORD_INTERVAL = 100
"""Steps between records of per-layer gradient statistics and update ratios. Those cost ~0.25 ms a step
(a dozen small tensor ops a layer, a clone of the weights before the update), while the worst case, head
mode with features kept, trains a batch of 8 in ~0.7 ms on the CPU: recorded every step they cut its
throughput to 0.70-0.73x; every 100th step they add ~2.5 µs a step on average, and recording as a whole
measured 0.97-0.99x of throughput without it (``./dev bench debugging``: adjacent rounds off, at 100 and at
1), within the 5 % target. The rules still see every step's loss (LossNotDecreasing,
ExplodingTensor on the loss) and the gradients of each of the first steps (PoorWeightInitialization);
VanishingGradient sees every 100th step, enough for a condition that persists once it sets in."""


@dataclass
class Series:
    """Values of one scalar tag by step (or by time for system records), in recording order."""

    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Histogram:
    step: int
    edges: np.ndarray
    """Right bucket limits, as TensorBoard stores them."""
    counts: np.ndarray


@dataclass
class Recording:
    """Everything one job recorded; parts may be missing (``problems`` says what was wrong with the files)."""

    scalars: dict[str, Series] = field(default_factory=dict)
    histograms: dict[str, list[Histogram]] = field(default_factory=dict)
    system: dict[tuple[str, str, str, str], Series] = field(default_factory=dict)
    """(NodeId, Type, Name, Dimension) -> values by Timestamp."""
    timeline: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def series(self, tag: str) -> Series | None:
        return self.scalars.get(tag)

    def tags(self, prefix: str) -> list[str]:
        """Tags under ``prefix`` ("GradientNorm/"), sorted."""
        return sorted(tag for tag in self.scalars if tag.startswith(prefix))

    @property
    def hosts(self) -> list[str]:
        return sorted({key[0] for key in self.system} | {r.get("NodeId", "") for r in self.timeline} - {""})

    def records(self, kind: str) -> list[dict]:
        return [r for r in self.timeline if r.get("Record") == kind]


def build_recording(
    events: Iterable[tuple[int, list[tuple[str, float]], list[tuple[str, Histogram]]]],
    system_lines: Iterable[str] = (),
    timeline_lines: Iterable[str] = (),
) -> Recording:
    """A Recording from decoded events (step, scalars, histograms) and the JSON-lines files' lines."""
    recording = Recording()
    scalar_points: dict[str, tuple[list[int], list[float]]] = {}
    for step, scalars, histograms in events:
        for tag, value in scalars:
            steps, values = scalar_points.setdefault(tag, ([], []))
            steps.append(step)
            values.append(value)
        for tag, histogram in histograms:
            recording.histograms.setdefault(tag, []).append(histogram)
    recording.scalars = {
        tag: Series(np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
        for tag, (steps, values) in scalar_points.items()
    }
    system_points: dict[tuple[str, str, str, str], tuple[list[float], list[float]]] = {}
    for record in _json_lines(system_lines, "system", recording.problems):
        try:
            key = (str(record["NodeId"]), str(record["Type"]), str(record["Name"]), str(record["Dimension"]))
            times, values = system_points.setdefault(key, ([], []))
            times.append(float(record["Timestamp"]))
            values.append(float(record["Value"]))
        except (KeyError, TypeError, ValueError):
            recording.problems.append("a system record lacks Type, Name, Dimension, Value, NodeId or Timestamp")
    recording.system = {
        key: Series(np.asarray(times), np.asarray(values)) for key, (times, values) in system_points.items()
    }
    recording.timeline = list(_json_lines(timeline_lines, "timeline", recording.problems))
    return recording


def _json_lines(lines: Iterable[str], what: str, problems: list[str]) -> Iterator[dict]:
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict):
            yield record
    if bad:
        problems.append(f"{bad} {what} line(s) were not whole JSON records (a file cut short while being written)")


def read_event_records(data: bytes, problems: list[str], name: str = "event file") -> Iterator[bytes]:
    """The records of a TFRecord file (TensorBoard's event file framing: length, its CRC, data, its CRC).
    A file cut short (still being written or synced) yields its whole records and notes the rest."""
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            problems.append(f"{name} ends in a partial record (cut short after {offset} bytes)")
            return
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + 12 + length + 4
        if end > len(data):
            problems.append(f"{name} ends in a partial record (cut short after {offset} bytes)")
            return
        yield data[offset + 12 : offset + 12 + length]
        offset = end


def decode_events(
    data: bytes, problems: list[str], name: str = "event file"
) -> Iterator[tuple[int, list[tuple[str, float]], list[tuple[str, Histogram]]]]:
    """(step, scalars, histograms) for each summary event of a TensorBoard event file's bytes."""
    for raw in read_event_records(data, problems, name):
        try:
            event = parse_event(raw)
        except ValueError:  # a damaged record is skipped, the rest still read
            problems.append(f"{name} holds a record that is not a TensorBoard event")
            continue
        if event.summary is None:
            continue
        scalars, histograms = [], []
        for value in event.summary:
            if value.simple_value is not None:
                scalars.append((value.tag, float(value.simple_value)))
            elif value.histo is not None:
                histo = value.histo
                histograms.append(
                    (
                        value.tag,
                        Histogram(int(event.step), np.asarray(histo.bucket_limit), np.asarray(histo.bucket)),
                    )
                )
        yield int(event.step), scalars, histograms


Event = tuple[int, list[tuple[str, float]], list[tuple[str, Histogram]]]


@dataclass
class Decoded:
    """One file of a recording directory, decoded by its kind."""

    events: list[Event] = field(default_factory=list)
    system_lines: list[str] = field(default_factory=list)
    timeline_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def decode_file(path: str, data: bytes, cut: bool = False) -> Decoded:
    """A file (path relative to the recording directory) decoded; other names give nothing. A file read only in
    part (``cut``: the reading cap) ends inside a record, which is expected there, not a problem."""
    parts, decoded = path.split("/"), Decoded()
    if parts[0] == EVENTS_DIR and "tfevents" in parts[-1]:
        decoded.events = list(decode_events(data, [] if cut else decoded.problems, path))
    elif parts[0] in (SYSTEM_DIR, TIMELINE_DIR) and path.endswith(".json"):
        text = data.decode("utf-8", errors="replace")
        lines = (text[: text.rfind("\n") + 1] if cut else text).splitlines()
        decoded.system_lines, decoded.timeline_lines = (lines, []) if parts[0] == SYSTEM_DIR else ([], lines)
    return decoded


def assemble(files: Iterable[Decoded]) -> Recording:
    """A Recording from its files decoded, in path order (so each stream's parts come in writing order)."""
    files = list(files)
    recording = build_recording(
        (event for f in files for event in f.events),
        (line for f in files for line in f.system_lines),
        (line for f in files for line in f.timeline_lines),
    )
    recording.problems[:0] = [problem for f in files for problem in f.problems]
    return recording


def load_recording(files: Mapping[str, bytes], cut: Collection[str] = ()) -> Recording:
    """A Recording from a recording directory's files (path relative to the directory -> bytes), as read
    from disk or from S3; files of other names are ignored; those named in ``cut`` were read only in part."""
    return assemble(decode_file(path, files[path], path in cut) for path in sorted(files))


def recording_files(*roots: Path) -> dict[str, Path]:
    """The files under recording directories (several: one per host), by path relative to their directory."""
    return {
        path.relative_to(root).as_posix(): path
        for root in roots
        if root.is_dir()
        for path in root.rglob("*")
        if path.is_file()
    }


class RecordingReader:
    """Reads recording files again and again as they grow (a running job's, where it runs): each stream's parts
    in order up to ``max_bytes``, the rest reported in ``problems``; a part decoded before at the length read
    now is not decoded again, so each reading decodes only what is new."""

    def __init__(self, max_bytes: int = MAX_STREAM_BYTES) -> None:
        self.max_bytes = max_bytes
        self._decoded: dict[Path, tuple[int, Decoded]] = {}

    def read(self, files: Mapping[str, Path]) -> Recording:
        sizes = {}
        for relative, path in files.items():
            try:
                sizes[relative] = path.stat().st_size
            except FileNotFoundError:  # an empty last part, removed as its writer closed
                continue
        plan = plan_reading(sizes, self.max_bytes)
        self._decoded = {path: self._decoded[path] for path in files.values() if path in self._decoded}
        decoded = []
        for relative, length in sorted(plan.lengths.items()):
            path = files[relative]
            known = self._decoded.get(path)
            if known is None or known[0] != length:
                with path.open("rb") as file:
                    known = (length, decode_file(relative, file.read(length), relative in plan.cut))
                self._decoded[path] = known
            decoded.append(known[1])
        recording = assemble(decoded)
        recording.problems.extend(plan.notes)
        return recording


def read_recording_dir(directory: Path, max_bytes: int = MAX_STREAM_BYTES) -> Recording:
    """The Recording a job wrote under ``directory`` (its TensorBoardOutputConfig LocalPath), up to the cap."""
    return RecordingReader(max_bytes).read(recording_files(directory))
