"""Bare-model benchmark: decode + preprocess + forward in-process, no HTTP, no cloud.

It is the floor every served path (endpoint, Lambda) is compared against. Run from the repository
root: ``python -m bench.serving.bench_model [--repeats N] [IMAGE ...]``.
"""

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classifier.serving.model import DogBreedModel
from tests.channels import DATASET

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ONNX = ROOT / "build" / "efficientnet_lite0.onnx"
PHONE_JPEG = ROOT / "build" / "bench" / "phone.jpg"
SMALL_SOURCE = DATASET / "test" / "056.Dachshund"
PHONE_SIZE = (1500, 1000)


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
