"""Why this breed: occlusion sensitivity, measured against the endpoint or Lambda function that answered.

One reference call with the photo as the copies are sent (downscaled once), then one call per masked copy
(services/serving/occlusion.py). The model servers here take one image per request (classifier/serving/
inference.py's `input_fn` decodes a single image, and so does the original deployment's), so the copies go
as separate calls, at most `WORKERS` at once: a small pool that a real endpoint or a Lambda function's
concurrency takes without throttling. Nothing here needs more than InvokeEndpoint / InvokeFunction and the
read-only Describe/Get calls a viewer may make, so demo visitors get the same map against AWS.

An answer lists the top 5 breeds only. When covering a patch pushes the named breed out of them, its score
is at most the fifth one's: that bound stands in for it, so such a patch's drop is, if anything, understated.
"""

import math
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from services.core.errors import BOTO_ERRORS, ServiceError
from services.core.pricing import HOSTING_HOURLY_USD, lambda_invocations_cost
from services.serving.occlusion import GRID, Patch, heat_map, jpeg, masked_copy, patches, working_copy
from services.serving.prediction import Prediction, PredictionService, Via, _check_target

WORKERS = 4
"""Masked copies in flight at once."""


@dataclass(frozen=True)
class ModelIdentity:
    """What a target served when asked, so a heat map is remembered per model: a redeploy (new endpoint
    config) or a function update (new revision) makes a new map. Also what its calls cost by."""

    via: Via
    target: str
    revision: str | None
    """The endpoint's config name; for a function, its revision and its endpoint's config name."""
    instance_type: str | None = None
    instance_count: int | None = None
    memory_mb: int | None = None
    architecture: str | None = None


@dataclass(frozen=True)
class Cost:
    """What a heat map took: calls sent, wall time, bytes sent, and a notional price with how it was reckoned
    (or why there is none)."""

    calls: int
    wall_s: float
    sent_bytes: int
    workers: int
    usd: float | None
    basis: str


@dataclass(frozen=True)
class Explanation:
    """A heat map over `photo` (the JPEG the copies were cut from, `width` × `height`): `heat[r, c]` is how much
    covering cell (r, c) lowered the score of `label` (probability points, -1 to 1; NaN where no covering patch
    answered). `answered` of `total` masked copies came back; `error` says why the rest did not. `bounded`
    counts copies where `label` left the top 5 (see the module docstring)."""

    label: str
    base_score: float
    is_dog: bool | None
    heat: np.ndarray
    grid: int
    photo: bytes
    width: int
    height: int
    answered: int
    total: int
    bounded: int
    error: str | None
    cost: Cost

    @property
    def complete(self) -> bool:
        """Every masked copy answered: only such a map may be shown as the model's view (and remembered)."""
        return self.error is None and self.answered == self.total


Progress = Callable[[int, int], None]
"""Called with (answered, total) as masked copies come back, in the caller's thread."""


class ExplanationService(PredictionService):
    """Heat maps of where the classifier looked, from real calls to the target that classified the photo."""

    def identify(self, via: Via, target: str) -> ModelIdentity:
        """What `target` serves now (Describe/Get calls only). A refusal to describe (a narrow role) leaves
        the parts unknown rather than failing: the map can still be drawn, only less precisely remembered."""
        _check_target(via, target)
        if via == "endpoint":
            return self._endpoint_identity(target)
        try:
            function = self._client("lambda").get_function_configuration(FunctionName=target)
        except BOTO_ERRORS:
            return ModelIdentity(via, target, None)
        # Only the endpoint's name is read from the environment: other variables may hold secrets.
        endpoint = ((function.get("Environment") or {}).get("Variables") or {}).get("ENDPOINT_NAME")
        behind = self._endpoint_identity(endpoint).revision if endpoint else None
        return ModelIdentity(
            via,
            target,
            f"{function.get('RevisionId') or function.get('LastModified')} → {endpoint}/{behind}",
            memory_mb=function.get("MemorySize"),
            architecture=(function.get("Architectures") or ["x86_64"])[0],
        )

    def _endpoint_identity(self, endpoint: str) -> ModelIdentity:
        client = self._client("sagemaker")
        try:
            described = client.describe_endpoint(EndpointName=endpoint)
            config_name = described["EndpointConfigName"]
            config = client.describe_endpoint_config(EndpointConfigName=config_name)
        except BOTO_ERRORS:
            return ModelIdentity("endpoint", endpoint, None)
        running = (described.get("ProductionVariants") or [{}])[0]
        variant = (config.get("ProductionVariants") or [{}])[0]
        return ModelIdentity(
            "endpoint",
            endpoint,
            config_name,
            instance_type=variant.get("InstanceType"),
            instance_count=running.get("CurrentInstanceCount"),
        )

    def explain(
        self,
        data: bytes,
        *,
        via: Via,
        target: str,
        label: str | None = None,
        model: ModelIdentity | None = None,
        grid: int = GRID,
        workers: int = WORKERS,
        progress: Progress | None = None,
    ) -> Explanation:
        """The heat map for `label` (default: the breed the reference call names). Raises `ServiceError` when
        the reference call fails; a failure among the masked copies stops the rest and comes back as a
        partial `Explanation` with `error` set."""
        model = model or self.identify(via, target)
        photo = working_copy(data)
        boxes = patches(photo.width, photo.height, grid)
        reference_bytes = jpeg(photo)
        start = time.perf_counter()
        reference = self.predict_image(reference_bytes, via=via, target=target)
        if not reference.breeds:
            raise ServiceError(f"The {via} '{target}' named no breed, so there is nothing to explain.")
        label = label or reference.breeds[0].label
        base_score, _ = score_of(label, reference)

        answers: list[Prediction] = [reference]
        drops: dict[tuple[int, int], float] = {}
        bounded = 0
        error: str | None = None
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="occlusion") as pool:
            copies = {patch: jpeg(masked_copy(photo, patch)) for patch in boxes}
            pending: dict[Future[Prediction], Patch] = {
                pool.submit(self.predict_image, copy, via=via, target=target): patch for patch, copy in copies.items()
            }
            while pending and error is None:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    patch = pending.pop(future)
                    try:
                        answer = future.result()
                    except ServiceError as exc:
                        error = error or exc.message
                        continue
                    score, was_bounded = score_of(label, answer)
                    drops[(patch.row, patch.col)] = base_score - score
                    bounded += was_bounded
                    answers.append(answer)
                if progress is not None:
                    progress(len(drops), len(boxes))
            # After a failure nothing more is sent; copies already in flight finish but do not count.
            unsent = [patch for future, patch in pending.items() if future.cancel()]
        wall_s = time.perf_counter() - start
        calls = 1 + len(boxes) - len(unsent)
        sent_bytes = len(reference_bytes) + sum(len(copies[patch]) for patch in boxes if patch not in unsent)
        return Explanation(
            label=label,
            base_score=base_score,
            is_dog=reference.is_dog,
            heat=heat_map(drops, grid),
            grid=grid,
            photo=reference_bytes,
            width=photo.width,
            height=photo.height,
            answered=len(drops),
            total=len(boxes),
            bounded=bounded,
            error=error,
            cost=cost_of(model, answers, calls=calls, wall_s=wall_s, sent_bytes=sent_bytes, workers=workers),
        )


def score_of(label: str, prediction: Prediction) -> tuple[float, bool]:
    """`label`'s score in an answer, and whether it is only a bound (the breed is not among those listed:
    its score is at most the lowest listed one)."""
    for breed in prediction.breeds:
        if breed.label == label:
            return breed.score, False
    return (min(breed.score for breed in prediction.breeds) if prediction.breeds else 0.0), True


def cost_of(
    model: ModelIdentity, answers: list[Prediction], *, calls: int, wall_s: float, sent_bytes: int, workers: int
) -> Cost:
    """A notional price at list prices: through Lambda, requests plus billed duration × memory (the endpoint
    behind it bills as below, on top); an endpoint bills per instance hour whether called or not, so its
    figure is the instances' time the heat map took."""
    if model.via == "lambda":
        durations = [answer.model_ms for answer in answers]
        if model.memory_mb is None or any(duration is None for duration in durations):
            usd, basis = None, "no price: the function's memory or its billed durations could not be read"
        else:
            billed_ms = sum(math.ceil(duration) for duration in durations if duration is not None)
            usd = lambda_invocations_cost(calls, billed_ms, model.memory_mb, model.architecture or "x86_64")
            basis = (
                f"Lambda: {calls} requests and {billed_ms / 1000:.2f} s billed at {model.memory_mb} MB "
                "(the endpoint behind it bills its instance hours on top)"
            )
        return Cost(calls, wall_s, sent_bytes, workers, usd, basis)
    hourly = HOSTING_HOURLY_USD.get(model.instance_type or "")
    if hourly is None or not model.instance_count:
        usd, basis = None, "no price: the endpoint's instance type is not one the dashboard prices"
    else:
        usd = hourly * model.instance_count * wall_s / 3600
        basis = (
            f"endpoint: {model.instance_count} × {model.instance_type} for {wall_s:.1f} s at ${hourly:.3f}/h "
            "(it bills per instance hour, called or not)"
        )
    return Cost(calls, wall_s, sent_bytes, workers, usd, basis)
