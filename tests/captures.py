"""Data-capture files as SageMaker writes them, for the monitoring tests and the Monitor page's benchmark: real
photos from the shared datasets, the real classifier's answers to them, and lines in SageMaker's capture format
(`captureData.endpointInput` base64, `endpointOutput` as JSON text since application/json is a JSON content type)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from classifier.serving.model import DogBreedModel
from tests.channels import DATASETS

ROOT = Path(__file__).resolve().parents[1]
ONNX_PATH = ROOT / "build" / "efficientnet_lite0.onnx"
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def real_photos(dogs: int, negatives: int = 0) -> list[Path]:
    """The first `dogs` test-split dog photos (one per breed, then more) and `negatives` non-dogs."""
    breeds = sorted((DATASETS / "dogs-wiki-133" / "test").iterdir())
    by_breed = [sorted(b.iterdir()) for b in breeds]
    dogs_found = [photos[i] for i in range(4) for photos in by_breed if i < len(photos)][:dogs]
    return dogs_found + sorted((DATASETS / "negatives").iterdir())[:negatives]


def answered(photos: list[Path]) -> list[tuple[bytes, str, dict[str, Any]]]:
    """Each photo's bytes, content type and the stock classifier's answer to it (as the endpoint gives it)."""
    model = DogBreedModel.load(ONNX_PATH)
    out = []
    for photo in photos:
        data = photo.read_bytes()
        out.append((data, CONTENT_TYPES[photo.suffix.lower()], model.predict_bytes(data)))
    return out


def capture_line(
    body: bytes, content_type: str, answer: dict[str, Any], when: datetime, inference_id: str | None = None
) -> str:
    """One capture record, as a line of a capture file (no newline)."""
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": base64.b64encode(body).decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps(answer),
                "encoding": "JSON",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


def capture_key(prefix: str, endpoint: str, variant: str, when: datetime) -> str:
    """`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`, SageMaker's naming."""
    return f"{prefix}/{endpoint}/{variant}/{when:%Y/%m/%d/%H}/{when:%M-%S}-000-{uuid.uuid4()}.jsonl"
