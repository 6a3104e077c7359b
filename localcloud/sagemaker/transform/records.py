"""What batch transform does to an input object's bytes on their way to the model and back, as AWS documents it.

An object is split into records (`SplitType` None: the object is one record; Line: each non-blank line is one),
records go out one per request (`BatchStrategy` SingleRecord) or as many as fit in `MaxPayloadInMB` joined by
newlines (MultiRecord), and the answers are assembled into the object's `.out` (`AssembleWith` Line puts a
newline after each, None concatenates them). `DataProcessing` works on JSON records: `InputFilter` selects what
is sent, `JoinSource` Input joins each answer to its input record (under `SageMakerOutput`, or beside the input
under `SageMakerInput` when that is not an object), `OutputFilter` selects what is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.sagemaker.transform.jsonpath import PathError, select

MB = 1024 * 1024
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines", "application/jsonl")


class RecordError(ValueError):
    """An object that cannot be transformed as asked; its message ends in the job's FailureReason."""


def split(data: bytes, split_type: str) -> list[bytes]:
    """The object's records."""
    if split_type == "Line":
        return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
    return [data]


def batches(records: list[bytes], strategy: str, split_type: str, max_payload_mb: int) -> list[list[bytes]]:
    """The requests the records go out in; RecordError when one record alone is over MaxPayloadInMB (0: no
    limit, as for a container that takes chunked payloads)."""
    limit = max_payload_mb * MB or None
    for record in records:
        if limit is not None and len(record) > limit:
            what = "The object" if split_type == "None" else "A record"
            raise RecordError(
                f"{what} is {len(record)} bytes, more than MaxPayloadInMB ({max_payload_mb} MB) allows: too much "
                "data for max payload size"
            )
    if strategy != "MultiRecord" or split_type == "None":
        return [[record] for record in records]
    groups: list[list[bytes]] = []
    size = 0
    for record in records:
        if groups and (limit is None or size + 1 + len(record) <= limit):
            groups[-1].append(record)
            size += 1 + len(record)
        else:
            groups.append([record])
            size = len(record)
    return groups


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{what} is not JSON ({exc}), which DataProcessing needs") from None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DataProcessing:
    """A job's `DataProcessing`: the identity unless it filters or joins."""

    input_filter: str = "$"
    output_filter: str = "$"
    join: bool = False

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> DataProcessing:
        settings = settings or {}
        return cls(
            settings.get("InputFilter") or "$",
            settings.get("OutputFilter") or "$",
            settings.get("JoinSource") == "Input",
        )

    @property
    def active(self) -> bool:
        return self.join or self.input_filter != "$" or self.output_filter != "$"

    def check_content(self, content_type: str | None) -> None:
        if self.active and (content_type or "").split(";")[0].strip().lower() not in JSON_TYPES:
            raise RecordError(
                f"DataProcessing filters and joins JSON and JSON Lines records; the input's ContentType is "
                f"{content_type or 'not given'}"
            )

    def request(self, batch: list[bytes]) -> bytes:
        """One request's body: its records, each filtered by InputFilter, one a line."""
        if self.input_filter == "$":
            return b"\n".join(batch)
        try:
            return b"\n".join(_dumps(select(_json(record, "A record"), self.input_filter)) for record in batch)
        except PathError as exc:
            raise RecordError(f"InputFilter {self.input_filter}: {exc}") from None

    def answers(self, batch: list[bytes], answer: bytes) -> list[bytes]:
        """What is written for one request's answer: as it came, or one joined and filtered answer a record."""
        if not self.join and self.output_filter == "$":
            return [answer]
        parts = [answer] if len(batch) == 1 else [line for line in answer.split(b"\n") if line.strip()]
        if len(parts) != len(batch):
            raise RecordError(
                f"the model answered {len(parts)} lines for a mini-batch of {len(batch)} records, so answers "
                "cannot be joined to their records"
            )
        return [self._finish(record, part) for record, part in zip(batch, parts, strict=True)]

    def _finish(self, record: bytes, answer: bytes) -> bytes:
        try:
            output: Any = json.loads(answer)
        except (UnicodeDecodeError, json.JSONDecodeError):
            output = answer.decode(errors="replace")
        if self.join:
            source = _json(record, "A record")
            joined = (
                {**source, "SageMakerOutput": output}
                if isinstance(source, dict)
                else {"SageMakerInput": source, "SageMakerOutput": output}
            )
        else:
            joined = output
        try:
            return _dumps(select(joined, self.output_filter))
        except PathError as exc:
            raise RecordError(f"OutputFilter {self.output_filter}: {exc}") from None


def assemble(answers: list[bytes], assemble_with: str) -> bytes:
    """The `.out` object: answers one a line (Line) or back to back (None)."""
    if assemble_with == "Line":
        return b"".join(answer if answer.endswith(b"\n") else answer + b"\n" for answer in answers)
    return b"".join(answers)
