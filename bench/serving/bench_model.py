"""Bare-model benchmark: decode + preprocess + forward in-process, no HTTP, no cloud.

Two references for the served paths (endpoint, Lambda): ``IndependentPipeline``, the plain script one would
write around the same ONNX file (the whole JPEG decoded, resized, cropped, normalised, onnxruntime with its
defaults: the issue's "independent bare-model pipeline"), and the product's own ``predict_bytes`` in-process
(the same code the endpoint runs, so no served path can beat it). Run from the repository root:
``python -m bench.serving.bench_model [--repeats N] [IMAGE ...]``.
"""

import argparse
import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from classifier.serving.model import DogBreedModel
from tests.channels import DATASET

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ONNX = ROOT / "build" / "efficientnet_lite0.onnx"
PHONE_JPEG = ROOT / "build" / "bench" / "phone.jpg"
SMALL_SOURCE = DATASET / "test" / "056.Dachshund"
PHONE_SIZE = (1500, 1000)


class IndependentPipeline:
    """A bare-model script written without the product's code: decode the whole file with PIL, resize the
    short side to 256 (bicubic), centre-crop 224, scale to (x - 127) / 128, onnxruntime's default session;
    the top 5 of the ImageNet softmax."""

    def __init__(self, onnx_path: Path) -> None:
        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict_bytes(self, data: bytes) -> list[int]:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
        scale = 256 / min(rgb.size)
        resized = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.BICUBIC)
        left, top = (resized.width - 224) // 2, (resized.height - 224) // 2
        pixels = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.float32)
        batch = ((pixels - 127.0) / 128.0).transpose(2, 0, 1)[None]
        logits = self.session.run(None, {self.input_name: batch})[0][0]
        probabilities = np.exp(logits - logits.max())
        return np.argsort(probabilities / probabilities.sum())[::-1][:5].tolist()


def make_phone_jpeg(src: Path, dst: Path) -> Path:
    """Upscale a real dog photo to about 1500×1000 and save it as JPEG quality 90: a stand-in for a
    phone upload (the datasets hold only ~220 px photos). Same input, same bytes."""
    with Image.open(src) as image:
        rgb = image.convert("RGB")
    scale = max(PHONE_SIZE[0] / rgb.width, PHONE_SIZE[1] / rgb.height)
    big = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    big.save(dst, "JPEG", quality=90)
    return dst


def bench_bare_model(onnx_path: Path, image_paths: list[Path], repeats: int) -> dict[str, Any]:
    """Time ``predict_bytes`` (decode, preprocess, forward) ``repeats`` times per image after a warm-up;
    per image: size, p50/p99 of the total and p50 of the decode and inference parts, in ms."""
    model = DogBreedModel.load(onnx_path)
    results: dict[str, Any] = {"onnx": str(onnx_path), "repeats": repeats, "images": {}}
    for path in image_paths:
        data = Path(path).read_bytes()
        model.predict_bytes(data)  # warm-up: first run allocates the session's buffers
        totals, decodes, inferences = [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            answer = model.predict_bytes(data)
            totals.append((time.perf_counter() - start) * 1000.0)
            decodes.append(answer["model_latency_ms"]["decode"])
            inferences.append(answer["model_latency_ms"]["inference"])
        with Image.open(path) as image:
            width, height = image.size
        results["images"][Path(path).name] = {
            "size": [width, height],
            "bytes": len(data),
            "p50_ms": round(float(np.percentile(totals, 50)), 2),
            "p99_ms": round(float(np.percentile(totals, 99)), 2),
            "decode_p50_ms": round(statistics.median(decodes), 2),
            "inference_p50_ms": round(statistics.median(inferences), 2),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", type=Path, help="default: a phone-sized JPEG and a small photo")
    parser.add_argument("--onnx", type=Path, default=DEFAULT_ONNX)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    images = args.images
    if not images:
        small = sorted(SMALL_SOURCE.iterdir())[0]
        images = [make_phone_jpeg(small, PHONE_JPEG), small]
    print(json.dumps(bench_bare_model(args.onnx, images, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
