"""SageMaker inference-toolkit handlers (model_fn / input_fn / predict_fn / output_fn).

The same functions serve on the SageMaker PyTorch inference container (via ``code/inference.py`` in
model.tar.gz) and in localcloud's endpoint workers. Client mistakes raise ``ValueError`` (including
``ImageError`` and ``FetchError``) so the server can answer 4xx rather than 500.
"""

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from classifier.labels import DEFAULT_MODEL_NAME
from classifier.preprocessing import load_image
from classifier.serving.fetch import fetch_image
from classifier.serving.model import DogBreedModel

IMAGE_CONTENT_TYPES = {"image/jpeg", "image/png", "image/webp", "application/x-image"}
JSON_CONTENT_TYPE = "application/json"
_ACCEPTABLE = {"", "*/*", "application/*", JSON_CONTENT_TYPE}
_HOW_TO_SEND = (
    'send image/jpeg, image/png, application/x-image or application/json with {"url": ...} or {"image": "<base64>"}.'
)


@dataclass(frozen=True)
class DecodedRequest:
    """The decoded image plus the time spent getting it (download + decode), reported as latency."""

    image: Image.Image
    decode_ms: float


def model_fn(model_dir: str) -> DogBreedModel:
    """Load ``<model_dir>/model.onnx``, named by ``<model_dir>/model.json`` when it has a "name"; its
    "labels" (written by the training script) mark a trained breed model whose own logits give the breed."""
    directory = Path(model_dir)
    metadata_path = directory / "model.json"
    metadata = json.loads(metadata_path.read_text(encoding="utf-8")) if metadata_path.is_file() else {}
    return DogBreedModel.load(
        directory / "model.onnx", name=metadata.get("name", DEFAULT_MODEL_NAME), breed_labels=metadata.get("labels")
    )


def input_fn(request_body: bytes | str, request_content_type: str | None) -> DecodedRequest:
    """Decode a request body into an image: raw image bytes, or JSON with "url" or base64 "image"
    (the original project's Lambda event, extra keys and all)."""
    start = time.perf_counter()
    content_type = (request_content_type or "").split(";", 1)[0].strip().lower()
    body = request_body.encode("utf-8") if isinstance(request_body, str) else bytes(request_body)
    if content_type in IMAGE_CONTENT_TYPES:
        image = load_image(body)
    elif content_type == JSON_CONTENT_TYPE:
        image = load_image(_image_bytes_from_json(body))
    else:
        raise ValueError(f"Unsupported content type '{request_content_type}'; {_HOW_TO_SEND}")
    return DecodedRequest(image, round((time.perf_counter() - start) * 1000.0, 2))


def _image_bytes_from_json(body: bytes) -> bytes:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"The request body is not valid JSON ({exc}); {_HOW_TO_SEND}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"The JSON body must be an object; {_HOW_TO_SEND}")
    if isinstance(payload.get("url"), str):
        return fetch_image(payload["url"])
    if isinstance(payload.get("image"), str):
        return decode_base64_image(payload["image"])
    raise ValueError(f'The JSON object has no "url" or "image" string; {_HOW_TO_SEND}')


def decode_base64_image(text: str) -> bytes:
    """Decode base64 image data, tolerating line breaks and a ``data:image/...;base64,`` prefix."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f'The "image" field is not valid base64 ({exc}).') from None


def predict_fn(data: DecodedRequest, model: DogBreedModel) -> dict[str, Any]:
    """Top-5 dog breeds, the dog score and the latency breakdown (see ``DogBreedModel.predict_image``)."""
    return model.predict_image(data.image, decode_ms=data.decode_ms)


def output_fn(prediction: dict[str, Any], accept: str | None) -> tuple[bytes, str]:
    """Serialise as JSON, the only representation offered; any other explicit Accept is a client error."""
    ranges = {part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")}
    if not ranges & _ACCEPTABLE:
        raise ValueError(f"Unsupported Accept '{accept}'; this endpoint answers {JSON_CONTENT_TYPE}.")
    return json.dumps(prediction).encode("utf-8"), JSON_CONTENT_TYPE
