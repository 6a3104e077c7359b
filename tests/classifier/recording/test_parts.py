"""A recording written as parts: each stream rolls into files that read back whole and in writing order (every
event file a TensorBoard log of its own), reading stops at a cap and says so, and a part read before is not
decoded again."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tensorboardX.proto.event_pb2 import Event

from classifier.recording.parts import plan_reading
from classifier.recording.reader import (
    Recording,
    RecordingReader,
    read_event_records,
    read_recording_dir,
    recording_files,
)
from classifier.recording.recorder import Recorder, RecordingConfig

STEPS = 300
ROLL_BYTES = 4096


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path]:
    """What a recorder kept in memory over STEPS steps of a small model, and its directory, whose streams
    rolled every ROLL_BYTES."""
    directory = tmp_path_factory.mktemp("rolled")
    config = RecordingConfig(directory, "algo-1", True, interval_ms=100, roll_bytes=ROLL_BYTES, roll_seconds=3600)
    recorder = Recorder(config)
    model = torch.nn.Linear(8, 3)
    recorder.watch(model)
    recorder.weights()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.randn(16, 8)
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = model(inputs).pow(2).mean()
        loss.backward()
        recorder.before_update()
        optimizer.step()
        recorder.train_step(loss.item(), 0.5, [0.1], 0.001, 0.002)
        if step % 50 == 49:  # about 1 KB a record: the timeline rolls too
            recorder.add_record({"Record": "phase", "Phase": "evaluation", "Seconds": 0.1, "Note": "x" * 1000})
    memory = recorder.recording()
    recorder.close()
    return memory, directory


def test_each_stream_rolls_into_parts_that_read_back_whole_and_in_order(rolled: tuple[Recording, Path]) -> None:
    memory, directory = rolled
    events = sorted((directory / "events" / "algo-1").iterdir())
    assert len(events) > 3
    for part in events:  # each a TensorBoard event file of its own, opening with the version record
        first = next(read_event_records(part.read_bytes(), []))
        assert Event.FromString(first).file_version == "brain.Event:2"
        assert part.stat().st_size < 2 * ROLL_BYTES
    assert len(list((directory / "timeline" / "algo-1").iterdir())) > 1
    rec = read_recording_dir(directory)
    assert rec.problems == []
    assert set(rec.scalars) == set(memory.scalars)
    for tag, kept in memory.scalars.items():  # event files hold 32-bit floats
        assert list(rec.scalars[tag].steps) == list(kept.steps), tag
        assert np.array_equal(rec.scalars[tag].values, kept.values.astype(np.float32)), tag
    assert rec.records("phase") == memory.records("phase")
    assert rec.system  # the system monitor's parts too


def test_reading_stops_at_the_cap_and_says_what_was_left(rolled: tuple[Recording, Path]) -> None:
    _, directory = rolled
    capped = read_recording_dir(directory, max_bytes=3 * ROLL_BYTES)
    steps = capped.scalars["Loss/train"].steps
    assert 0 < len(steps) < STEPS and list(steps) == list(range(len(steps)))  # the first steps, in order
    (note,) = [p for p in capped.problems if p.startswith("events/algo-1/ holds")]
    assert "only its first 0.0117188 MB were read" in note
    assert not any("partial record" in p for p in capped.problems)  # the cut is expected, not damage


def test_a_part_read_before_is_not_decoded_again(rolled: tuple[Recording, Path], tmp_path: Path) -> None:
    _, directory = rolled
    copy = shutil.copytree(directory, tmp_path / "copy")
    reader = RecordingReader()
    first = reader.read(recording_files(copy))
    closed = sorted((copy / "events" / "algo-1").iterdir())[0]
    closed.write_bytes(bytes(closed.stat().st_size))  # other bytes of the same length: not read again
    again = reader.read(recording_files(copy))
    assert list(again.scalars["Loss/train"].values) == list(first.scalars["Loss/train"].values)
    fresh = read_recording_dir(copy)  # a reader that had not seen it reads what is there now
    assert len(fresh.scalars["Loss/train"].values) < len(first.scalars["Loss/train"].values)


STREAMS = ("events/algo-1", "system/algo-1", "timeline/algo-2")


@given(
    sizes=st.dictionaries(
        st.builds(lambda stream, part: f"{stream}/{part:05d}", st.sampled_from(STREAMS), st.integers(0, 30)),
        st.integers(0, 5000),
        max_size=20,
    ),
    cap=st.integers(1, 20000),
)
def test_a_reading_plan_takes_each_streams_first_bytes_up_to_the_cap(sizes: dict[str, int], cap: int) -> None:
    plan = plan_reading(sizes, cap)
    for stream in {path.rpartition("/")[0] for path in sizes}:
        paths = sorted(path for path in sizes if path.startswith(f"{stream}/"))
        read = [plan.lengths.get(path, 0) for path in paths]
        total = sum(sizes[path] for path in paths)
        assert sum(read) == min(cap, total)
        short = [i for i, path in enumerate(paths) if read[i] < sizes[path]]
        assert all(read[i] == 0 for i in short[1:])  # whole parts, at most one read in part, then none
        assert (total > cap) == any(note.startswith(stream) for note in plan.notes)
    assert plan.cut == {path for path in sizes if plan.lengths.get(path, 0) < sizes[path]}
