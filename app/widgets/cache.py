"""Per-session memory of cloud answers, so a Streamlit rerun (any widget change) does not call the cloud
again for a photo it has already classified.

Only successes are remembered: after a failure (cloud down, throttled) the next rerun tries again. A
remembered prediction comes back marked as such, so the page can say its figures are not new, and
`forget` lets "run again" really call the cloud.
"""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import streamlit as st

from services.core.clients import CloudSettings
from services.serving.explanation import Explanation, ExplanationService, ModelIdentity, Progress
from services.serving.prediction import Prediction, PredictionService, Targets, Via

T = TypeVar("T")

_MAX_ENTRIES = 64  # a session that classifies more photos forgets the oldest
_TARGETS_TTL_S = 30  # endpoints and functions change rarely; a deploy shows within half a minute


def image_key(data: bytes) -> str:
    """The content hash a photo is remembered by (the same photo uploaded twice is one entry)."""
    return hashlib.sha256(data).hexdigest()


def prediction_key(*, data: bytes | None, url: str | None, via: Via, target: str, settings: CloudSettings) -> Hashable:
    """What a prediction is remembered by: the photo's content hash (or the URL), the path and the target."""
    return (
        ("image", image_key(data), via, target, settings) if data is not None else ("url", url, via, target, settings)
    )


def predict(
    service: PredictionService, *, data: bytes | None, url: str | None, via: Via, target: str, settings: CloudSettings
) -> tuple[Prediction, bool]:
    """The prediction for a photo's bytes or a URL, and whether it is a remembered one (True) rather than
    measured just now."""
    key = prediction_key(data=data, url=url, via=via, target=target, settings=settings)
    if data is not None:
        return _remember(key, lambda: service.predict_image(data, via=via, target=target))
    return _remember(key, lambda: service.predict_url(url or "", via=via, target=target))


def explanation_key(*, data: bytes, label: str, model: ModelIdentity, settings: CloudSettings) -> Hashable:
    """What a heat map is remembered by: the photo's content hash, the breed it explains, and the model (the
    target and what it served: endpoint config, function revision)."""
    return ("explanation", image_key(data), label, model, settings)


def explain(
    service: ExplanationService,
    *,
    data: bytes,
    label: str,
    model: ModelIdentity,
    settings: CloudSettings,
    progress: Progress | None = None,
) -> tuple[Explanation, bool]:
    """The heat map for a photo and model, and whether it is a remembered one. Only a complete map is
    remembered: one cut short by a failing target is computed again on the next click."""
    key = explanation_key(data=data, label=label, model=model, settings=settings)
    entry = _store().get(key)
    if entry is not None:
        _store().move_to_end(key)
        return entry[0], True
    explanation = service.explain(data, via=model.via, target=model.target, label=label, model=model, progress=progress)
    if explanation.complete:
        _put(key, explanation)
    return explanation, False


def remembered(key: Hashable) -> bool:
    """Whether an answer for `key` is remembered (showing it again calls no cloud)."""
    return key in _store()


def forget(key: Hashable) -> None:
    """Drop one remembered answer, so the next run calls the cloud for it again."""
    _store().pop(key, None)


def list_targets(service: PredictionService, settings: CloudSettings) -> Targets:
    """Endpoint and function names, re-read after 30 s, or at once while the last read had errors."""
    key = ("targets", settings)
    entry = _store().get(key)
    if entry is not None and time.monotonic() - entry[1] < _TARGETS_TTL_S:
        return entry[0]
    targets = service.list_targets()
    if not targets.errors:
        _put(key, targets)
    return targets


def _remember(key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
    entry = _store().get(key)
    if entry is not None:
        _store().move_to_end(key)
        return entry[0], True
    value = compute()  # raises on failure, so failures are never remembered
    _put(key, value)
    return value, False


def _put(key: Hashable, value: Any) -> None:
    store = _store()
    store[key] = (value, time.monotonic())
    while len(store) > _MAX_ENTRIES:
        store.popitem(last=False)


def _store() -> "OrderedDict[Hashable, tuple[Any, float]]":
    return st.session_state.setdefault("cloud_answers", OrderedDict())
