"""TensorBoard's `Event` records decoded from protobuf's wire format, for the few fields the rules read.

Why not tensorboardX's `event_pb2`: importing it imports tensorboardX, which imports torch and protobuf, about
220 MB, into every process that only reads a recording (localcloud evaluating a job's rules, the dashboard
drawing it). The fields are TensorFlow's `event.proto` and `summary.proto`:

    Event          { double wall_time = 1; int64 step = 2; Summary summary = 5; ... }
    Summary        { repeated Value value = 1; }
    Summary.Value  { string tag = 1; float simple_value = 2; HistogramProto histo = 5; ... }
    HistogramProto { double min = 1; ... repeated double bucket_limit = 6 [packed]; repeated double bucket = 7; }

Fields not listed are skipped, as any protobuf reader skips unknown fields.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


@dataclass
class Histo:
    bucket_limit: list[float] = field(default_factory=list)
    bucket: list[float] = field(default_factory=list)


@dataclass
class SummaryValue:
    tag: str = ""
    simple_value: float | None = None
    histo: Histo | None = None


@dataclass
class Event:
    step: int = 0
    summary: list[SummaryValue] | None = None
    """None when the event has no summary (the file version record, a graph, a log message)."""


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("a varint runs past the record")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): an int for varints and fixed-size fields' raw bits, bytes otherwise."""
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, offset = _varint(data, offset)
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if offset + size > len(data):
                raise ValueError("a fixed-size field runs past the record")
            value, offset = int.from_bytes(data[offset : offset + size], "little"), offset + size
        elif wire == _LENGTH:
            length, offset = _varint(data, offset)
            if offset + length > len(data):
                raise ValueError("a length-delimited field runs past the record")
            value, offset = data[offset : offset + length], offset + length
        else:
            raise ValueError(f"wire type {wire} is not one an Event uses")
        yield number, wire, value


def _double(bits: int) -> float:
    return struct.unpack("<d", bits.to_bytes(8, "little"))[0]


def _doubles(wire: int, value: int | bytes) -> list[float]:
    """A repeated double: packed (one length-delimited run) or one value."""
    if wire == _LENGTH:
        assert isinstance(value, bytes)
        if len(value) % 8:
            raise ValueError("a packed double field is not a whole number of doubles")
        return list(struct.unpack(f"<{len(value) // 8}d", value))
    assert isinstance(value, int)
    return [_double(value)]


def _histo(data: bytes) -> Histo:
    histo = Histo()
    for number, wire, value in _fields(data):
        if number == 6:
            histo.bucket_limit += _doubles(wire, value)
        elif number == 7:
            histo.bucket += _doubles(wire, value)
    return histo


def _summary_value(data: bytes) -> SummaryValue:
    found = SummaryValue()
    for number, wire, value in _fields(data):
        if number == 1 and wire == _LENGTH:
            assert isinstance(value, bytes)
            found.tag = value.decode("utf-8", errors="replace")
        elif number == 2 and wire == _FIXED32:
            assert isinstance(value, int)
            found.simple_value = struct.unpack("<f", value.to_bytes(4, "little"))[0]
        elif number == 5 and wire == _LENGTH:
            assert isinstance(value, bytes)
            found.histo = _histo(value)
    return found


def parse_event(data: bytes) -> Event:
    """One TensorBoard event record's bytes; ValueError when they are not a protobuf message."""
    event = Event()
    for number, wire, value in _fields(data):
        if number == 2 and wire == _VARINT:
            assert isinstance(value, int)
            event.step = value - (1 << 64) if value >= 1 << 63 else value  # int64 is two's complement
        elif number == 5 and wire == _LENGTH:
            assert isinstance(value, bytes)
            event.summary = (event.summary or []) + [
                _summary_value(item)
                for n, w, item in _fields(value)
                if n == 1 and w == _LENGTH and isinstance(item, bytes)
            ]
    return event
