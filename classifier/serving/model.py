"""The served model: EfficientNet-Lite0 in onnxruntime, read as a dog-breed classifier.

The default model is the ImageNet-1k network: its 118 dog-breed classes give the breed, and their summed
probability says whether the photo shows a dog at all, so one network answers both questions. A model
trained by ``classifier.training.train`` has two outputs: "logits" over its own breed labels (the 133 Udacity
classes) give the breed, and "imagenet_logits" from the untouched ImageNet head give the same dog score.
"""

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from classifier.labels import DEFAULT_MODEL_NAME, IMAGENET_DOG_CLASSES, imagenet_labels
from classifier.preprocessing import load_image, to_model_input

BREED_OUTPUTS = ("logits", "imagenet_logits")
DOG_THRESHOLD = 0.3
"""Summed dog-class probability above which a photo counts as a dog: kept 95% of dog photos and let
0 of 16 non-dogs through when measured."""


def _session_options() -> ort.SessionOptions:
    """Two intra-op threads: on a 2-core box one image took 3.4 ms instead of 4.5 ms with one thread;
    concurrent run() calls on the shared session still overlap (about 290 images/s from 4 threads). No more
    threads than the cores the process may run on (an endpoint instance is pinned to its share)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, len(os.sched_getaffinity(0)))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads must not spin: on a small box the spinning steals the cores that
    # image decoding, other requests and other processes (Lambda, localcloud) need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 2)


class DogBreedModel:
    """An onnxruntime session plus the label logic. ``InferenceSession.run`` is thread-safe, so one
    instance serves concurrent requests from several threads."""

    def __init__(
        self, session: ort.InferenceSession, name: str = DEFAULT_MODEL_NAME, breed_labels: list[str] | None = None
    ) -> None:
        """``breed_labels`` names the "logits" output of a trained breed model; None means the ImageNet model."""
        self.session = session
        self.name = name
        self._input_name = session.get_inputs()[0].name
        self._labels = imagenet_labels()
        self._dog_indices = np.asarray(IMAGENET_DOG_CLASSES)
        self._dog_labels = [self._labels[int(i)] for i in self._dog_indices]
        self._breed_labels = breed_labels
        if breed_labels is not None:
            _check_breed_outputs(session, len(breed_labels))

    @classmethod
    def load(
        cls, onnx_path: str | Path, name: str = DEFAULT_MODEL_NAME, breed_labels: list[str] | None = None
    ) -> "DogBreedModel":
        """Open the exported ONNX file on the CPU provider."""
        session = ort.InferenceSession(
            str(onnx_path), sess_options=_session_options(), providers=["CPUExecutionProvider"]
        )
        return cls(session, name, breed_labels)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits of the first output for a float32 batch of shape (N, 3, 224, 224): ImageNet's (N, 1000)
        for the default model, the breed logits (N, labels) for a trained one."""
        return self.session.run(None, {self._input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    def predict_bytes(self, data: bytes, top_k: int = 5) -> dict[str, Any]:
        """Classify an uploaded file; raises ``ImageError`` for anything that is not a usable image."""
        start = time.perf_counter()
        image = load_image(data)
        return self.predict_image(image, top_k, decode_ms=_ms(start, time.perf_counter()))

    def predict_image(self, image: Image.Image, top_k: int = 5, *, decode_ms: float = 0.0) -> dict[str, Any]:
        """Classify a decoded image. ``decode_ms`` is time the caller already spent getting the image
        (download, decode); it is added to the reported decode and total latency."""
        classes = len(self._dog_indices) if self._breed_labels is None else len(self._breed_labels)
        if not 1 <= top_k <= classes:
            raise ValueError(f"top_k must be between 1 and {classes}, got {top_k}.")
        start = time.perf_counter()
        batch = to_model_input(image)
        preprocessed = time.perf_counter()
        if self._breed_labels is None:
            probabilities = _softmax(self.logits(batch)[0])
            breed_probabilities = probabilities[self._dog_indices]
            dog_score = float(breed_probabilities.sum())
            labels = self._dog_labels
        else:
            breed_logits, imagenet_logits = self.session.run(list(BREED_OUTPUTS), {self._input_name: batch})
            breed_probabilities = _softmax(breed_logits[0])
            dog_score = float(_softmax(imagenet_logits[0])[self._dog_indices].sum())
            labels = self._breed_labels
        best = np.argsort(breed_probabilities)[::-1][:top_k]
        done = time.perf_counter()

        decode = round(decode_ms + _ms(start, preprocessed), 2)
        inference = _ms(preprocessed, done)
        return {
            "predictions": [{"label": labels[int(i)], "score": round(float(breed_probabilities[i]), 6)} for i in best],
            "is_dog": dog_score >= DOG_THRESHOLD,
            "dog_score": round(dog_score, 6),
            "model": self.name,
            "model_latency_ms": {"decode": decode, "inference": inference, "total": round(decode + inference, 2)},
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    values = logits.astype(np.float64)
    probabilities = np.exp(values - values.max())
    return probabilities / probabilities.sum()


def _check_breed_outputs(session: ort.InferenceSession, classes: int) -> None:
    """A trained model must have both outputs and one breed logit per label, or answers would be mislabelled."""
    outputs = {output.name: output.shape for output in session.get_outputs()}
    missing = [name for name in BREED_OUTPUTS if name not in outputs]
    if missing:
        raise ValueError(
            f"A model with breed labels needs ONNX outputs {' and '.join(BREED_OUTPUTS)}; "
            f"this one has {', '.join(outputs)}."
        )
    width = outputs["logits"][-1]
    if width != classes:
        raise ValueError(f"The model's logits output has {width} classes but model.json names {classes} labels.")
