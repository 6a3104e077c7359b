"""Debugger's built-in training rules, evaluated here on a job's own recording (numpy only), with
SageMaker's names, parameters and defaults. The job evaluates them as it trains; the dashboard re-evaluates
them with other parameters; localcloud reports them on DescribeTrainingJob.

LossNotDecreasing compares the mean loss of each num_steps window with the window before, the first window
with the loss of the first step (before any update), so a loss that leaps at once is caught. Where the
recording differs from smdebug's tensors: validation loss is one value per epoch (``Loss/valid``),
so Overfit and Overtraining count epochs, and LossNotDecreasing's EVAL mode compares epochs; the others read
per-step values. Losses are recorded every step, gradient statistics every ``record_interval`` steps (and on
each of the first steps): a rule fires at the first recorded step where its condition holds, and
LossNotDecreasing windows by step number, so strided data is judged over the same spans of training.

Every parameter a rule takes changes what it reads or judges (classifier/rules/tensors.py maps Debugger's
``collection_names`` and ``tensor_regex`` onto the recording's tags). A rule whose data has not arrived yet is
InProgress while the job runs and Error once it has ended; a rule that raises ends Error with the reason, as a
rule evaluation job that fails does on SageMaker.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.recording.reader import Recording
from classifier.rules.rule_params import Parameter, RuleParameterError, RuleSpec
from classifier.rules.tensors import (
    Finding,
    MissingData,
    collections_parameter,
    earliest,
    first,
    matches,
    needs,
    regex_parameter,
    tags_named,
)

__all__ = ["DEBUG_RULES", "RuleParameterError", "RuleResult", "evaluate_rule", "status_details"]


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: str
    """InProgress, NoIssuesFound, IssuesFound or Error."""
    step: int | None
    """The step where the rule fired (IssuesFound), else None."""
    details: str
    advice: str
    parameters: dict[str, Any]


def _vanishing_gradient(rec: Recording, p: dict[str, Any]) -> Finding:
    tags = rec.tags("GradientMeanAbs/")
    if not tags:
        raise MissingData("no gradients were recorded")
    return first(
        (
            rec.scalars[tag],
            lambda v: v < p["threshold"],
            f"the mean absolute gradient of {tag.split('/', 1)[1]} fell below {p['threshold']:g}",
        )
        for tag in tags
    )


def _exploding_tensor(rec: Recording, p: dict[str, Any]) -> Finding:
    chosen = p["tensor_regex"] or p["collection_names"]
    tags = tags_named(rec, p["tensor_regex"], p["collection_names"]) if chosen else sorted(rec.scalars)
    if not tags:
        raise MissingData(
            "no recorded tag matches tensor_regex or collection_names" if chosen else "nothing was recorded"
        )
    bad = np.isnan if p["only_nan"] else (lambda v: ~np.isfinite(v))
    return first((rec.scalars[tag], bad, f"{tag} is not finite") for tag in tags)


def _overfit(rec: Recording, p: dict[str, Any]) -> Finding:
    pair = ("Loss/train", "Loss/valid")  # the losses Overfit compares; tensor_regex may only leave them out
    if p["tensor_regex"] and not any(matches(tag, p["tensor_regex"]) for tag in pair):
        raise MissingData(f"tensor_regex {p['tensor_regex']!r} matches neither {' nor '.join(pair)}")
    train, valid = needs(rec, pair[0]), needs(rec, pair[1])
    streak, previous = 0, -1
    for step, value in zip(valid.steps, valid.values, strict=True):
        window = train.values[(train.steps > previous) & (train.steps < step) & (train.steps >= p["start_step"])]
        previous = step
        if step < p["start_step"] or window.size == 0:
            continue
        mean_train = float(window.mean())
        ratio = (value - mean_train) / mean_train if mean_train > 0 else math.inf
        streak = streak + 1 if ratio > p["ratio_threshold"] else 0
        if streak >= p["patience"]:
            return int(step), (
                f"validation loss {value:.4f} is {ratio:.0%} above the mean training loss {mean_train:.4f} "
                f"for {streak} evaluation(s)"
            )
    return None


def _overtraining(rec: Recording, p: dict[str, Any]) -> Finding:
    train, valid = needs(rec, "Loss/train"), needs(rec, "Loss/valid")
    best, stalled = math.inf, 0
    for step, value in zip(valid.steps, valid.values, strict=True):
        if value < best - p["delta"]:
            best, stalled = value, 0
            continue
        stalled += 1
        recent = train.values[train.steps < step][-p["patience_train"] :]
        before = train.values[train.steps < step][: -p["patience_train"]]
        still_learning = recent.size and before.size and recent.min() < before.min() - p["delta"]
        if stalled >= p["patience_validation"] and still_learning:
            return int(step), (
                f"validation loss has not improved by {p['delta']} for {stalled} evaluations while training loss "
                "still falls"
            )
    return None


def _poor_weight_initialization(rec: Recording, p: dict[str, Any]) -> Finding:
    regex = p["activation_inputs_regex"]
    stds = {tag.split("/", 1)[1]: rec.scalars[tag] for tag in rec.tags("WeightStd/")}
    stds = {layer: s for layer, s in stds.items() if not regex or matches(layer, regex)}
    spreads = [tag for tag in rec.tags("GradientSpread/") if not regex or matches(tag.split("/", 1)[1], regex)]
    if not stds and not spreads:
        raise MissingData("no weight statistics or gradient percentiles were recorded")
    initial = [float(s.values[0]) ** 2 for s in stds.values() if s.values.size and s.values[0] > 0]
    if len(initial) > 1 and max(initial) / min(initial) > p["threshold"]:
        ratio = max(initial) / min(initial)
        return int(min(s.steps[0] for s in stds.values())), (
            f"the largest initial weight variance is {ratio:.1f} times the smallest, across layers"
        )
    narrow = 0
    for step in sorted({int(s) for tag in spreads for s in rec.scalars[tag].steps if s < p["steps"]}):
        values = [rec.scalars[tag].values[rec.scalars[tag].steps == step] for tag in spreads]
        if any(v.size and v[0] < p["distribution_range"] for v in values):
            narrow += 1
            if narrow >= p["patience"]:
                return step, (
                    f"the 5th-95th percentile spread of the gradients stayed below {p['distribution_range']} "
                    f"for {narrow} of the first steps"
                )
    return None


def _loss_not_decreasing(rec: Recording, p: dict[str, Any]) -> Finding:
    """Each tag judged (the losses collection's, by mode, and those tensor_regex and collection_names name); the
    earliest finding."""
    tags = [("Loss/valid" if p["mode"] == "EVAL" else "Loss/train")] if p["use_losses_collection"] else []
    tags += [tag for tag in tags_named(rec, p["tensor_regex"], p["collection_names"]) if tag not in tags]
    recorded = [tag for tag in tags if rec.series(tag) is not None and rec.series(tag).values.size]
    if not recorded:
        raise MissingData(f"{tags[0]} was not recorded" if tags else "no recorded tag matches tensor_regex")
    return earliest([_loss_windows(tag, needs(rec, tag), p) for tag in recorded])


def _loss_windows(tag: str, losses: Any, p: dict[str, Any]) -> Finding:
    n = p["num_steps"]
    values, steps = losses.values, losses.steps
    previous = float(values[0])  # the loss before any update is the first baseline
    # Windows of num_steps steps (not values, so a strided tag is windowed by step too); each one judged
    # once it is complete, i.e. the recording reaches its last step.
    bounds = np.searchsorted(steps, np.arange(int(steps[0]) + 1, int(steps[-1]) + 2, n))
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        if high == low:
            continue
        current = float(values[low:high].mean())
        step = int(steps[high - 1])
        if not math.isfinite(current):
            return step, f"{tag} is not a number over the steps up to {step}"
        if previous > 0:
            change = (previous - current) / previous * 100
            if -change > p["increase_threshold_percent"]:
                return step, f"{tag} rose {-change:.1f}% over {n} steps (mean {previous:.4f} to {current:.4f})"
            if change < p["diff_percent"]:  # a small rise lands here too: say it rose, not "fell -3%"
                moved = f"fell only {change:.2f}%" if change >= 0 else f"rose {-change:.2f}%"
                return step, (
                    f"{tag} {moved} over {n} steps (mean {previous:.4f} to {current:.4f}); "
                    f"it should fall at least {p['diff_percent']:g}%"
                )
        previous = current
    return None


def _something_to_judge(p: dict[str, Any]) -> None:
    if not (p["use_losses_collection"] or p["tensor_regex"] or p["collection_names"]):
        raise RuleParameterError(
            "LossNotDecreasing needs tensor_regex or collection_names when use_losses_collection is False."
        )


def _dead_relu(rec: Recording, p: dict[str, Any]) -> Finding:
    records = rec.records("relu_activity")
    if not records:
        raise MissingData("no ReLU outputs were recorded (only head fine-tuning records the features' ReLU)")
    for record in records:
        active = np.asarray(record.get("Active", []), dtype=float)
        if not active.size or (p["tensor_regex"] and not matches(str(record.get("Layer")), p["tensor_regex"])):
            continue
        dead = float((active * 100 < p["threshold_inactivity"]).mean() * 100)
        if dead > p["threshold_layer"]:
            return int(record.get("Step", 0)), f"{dead:.0f}% of the units of {record.get('Layer')} are inactive"
    return None


def _class_imbalance(rec: Recording, p: dict[str, Any]) -> Finding:
    records = rec.records("classes")
    if not records:
        raise MissingData("no per-class counts were recorded")
    for record in records:
        train = np.asarray(record.get("TrainSamples", []), dtype=float)
        seen = train[train > 0]
        if seen.size > 1 and seen.max() / seen.min() > p["threshold_imbalance"]:
            return int(record.get("Step", 0)), (
                f"the largest class has {seen.max() / seen.min():.1f} times the training samples of the smallest"
            )
        samples = np.asarray(record.get("Samples", []), dtype=float)
        correct = np.asarray(record.get("Correct", []), dtype=float)
        if samples.sum() < p["samples"] or samples.size != correct.size:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            wrong = np.where(samples > 0, 1 - correct / samples, 0.0)
        if wrong.max() > p["threshold_misprediction"]:
            worst = int(wrong.argmax())
            return int(
                record.get("Step", 0)
            ), f"class index {worst} is mispredicted in {wrong.max():.0%} of validation samples"
    return None


CLASS_COUNTS = (
    "the job records per-class counts of training samples and of right argmax predictions, not label and "
    "prediction tensors"
)

DEBUG_RULES: dict[str, tuple[RuleSpec, Callable[[Recording, dict[str, Any]], Finding]]] = {
    "VanishingGradient": (
        RuleSpec(
            "VanishingGradient",
            (Parameter("threshold", float, 1e-7, low=0, low_open=True),),
            "Gradients this small stop learning: raise the learning rate, check the initialisation, use "
            "batch normalisation or residual connections, or fine-tune fewer layers.",
            "The mean absolute gradient of a layer falls below threshold.",
        ),
        _vanishing_gradient,
    ),
    "ExplodingTensor": (
        RuleSpec(
            "ExplodingTensor",
            (regex_parameter(), collections_parameter(), Parameter("only_nan", bool, False)),
            "A loss or gradient became NaN or infinite: lower the learning rate, clip gradients, or check the "
            "input data for invalid values.",
            "A recorded value (of the tags tensor_regex and collection_names name, else any) is NaN (or "
            "infinite, unless only_nan).",
        ),
        _exploding_tensor,
    ),
    "Overfit": (
        RuleSpec(
            "Overfit",
            (
                regex_parameter(),
                Parameter("start_step", int, 0, low=0),
                Parameter("patience", int, 1, low=1),
                Parameter("ratio_threshold", float, 0.1, low=0, low_open=True),
            ),
            "Validation loss runs well above training loss: add data or augmentation, regularise (dropout, "
            "weight decay), or stop earlier.",
            "(mean validation loss - mean training loss) / mean training loss stays above ratio_threshold "
            "(Loss/valid against Loss/train; a tensor_regex matching neither leaves nothing to compare).",
        ),
        _overfit,
    ),
    "Overtraining": (
        RuleSpec(
            "Overtraining",
            (
                Parameter("patience_train", int, 5, low=1),
                Parameter("patience_validation", int, 10, low=1),
                Parameter("delta", float, 0.01, low=0),
            ),
            "Validation loss stopped improving while training loss still falls: stop training earlier "
            "(keep the best epoch's model) or regularise.",
            "Validation loss does not improve by delta for patience_validation evaluations.",
        ),
        _overtraining,
    ),
    "PoorWeightInitialization": (
        RuleSpec(
            "PoorWeightInitialization",
            (
                Parameter("activation_inputs_regex", str, "", pattern=True),
                Parameter("threshold", float, 10.0, low=0, low_open=True),
                Parameter("distribution_range", float, 0.001, low=0, low_open=True),
                Parameter("patience", int, 5, low=1),
                Parameter("steps", int, 10, low=1),
            ),
            "Initial weights or gradients are badly scaled: use a standard initialisation (Xavier/He) or "
            "pretrained weights, and normalise the inputs.",
            "Layer weight variances differ by more than threshold, or gradients are too narrow early on.",
        ),
        _poor_weight_initialization,
    ),
    "LossNotDecreasing": (
        RuleSpec(
            "LossNotDecreasing",
            (
                regex_parameter(),
                collections_parameter(),
                Parameter("use_losses_collection", bool, True),
                Parameter("num_steps", int, 10, low=1),
                Parameter("diff_percent", float, 0.1, low=0, high=100),
                Parameter("increase_threshold_percent", float, 5.0, low=0, high=100),
                Parameter("mode", str, "", choices=("TRAIN", "EVAL", "GLOBAL")),
            ),
            "The loss does not fall: lower the learning rate if it jumps or rises, raise it if it crawls; "
            "check the labels and the data pipeline.",
            "The mean loss over num_steps falls by less than diff_percent, or rises more than "
            "increase_threshold_percent (the losses collection's Loss/train, or Loss/valid in EVAL mode, and any "
            "tags tensor_regex and collection_names name).",
            check=_something_to_judge,
        ),
        _loss_not_decreasing,
    ),
    "DeadRelu": (
        RuleSpec(
            "DeadRelu",
            (
                regex_parameter(),
                Parameter("threshold_inactivity", float, 1.0, low=0, high=100),
                Parameter("threshold_layer", float, 50.0, low=0, high=100),
            ),
            "Most ReLUs never fire: lower the learning rate, use LeakyReLU, or check the initialisation.",
            "More than threshold_layer % of a layer's units are active in under threshold_inactivity % of samples.",
        ),
        _dead_relu,
    ),
    "ClassImbalance": (
        RuleSpec(
            "ClassImbalance",
            (
                Parameter("threshold_imbalance", float, 10.0, low=0, low_open=True),
                Parameter("threshold_misprediction", float, 0.7, low=0, high=1),
                Parameter("samples", int, 500, low=1),
            ),
            "Classes are unevenly represented or one is mostly wrong: collect more photos of the small "
            "classes, oversample them, or weight the loss by class.",
            "Class sizes differ by more than threshold_imbalance, or a class is mispredicted more than "
            "threshold_misprediction of the time.",
            refused=dict.fromkeys(("argmax", "labels_regex", "predictions_regex"), CLASS_COUNTS),
        ),
        _class_imbalance,
    ),
}


def evaluate_rule(
    name: str, recording: Recording, raw_parameters: Mapping[str, object] | None = None, *, finished: bool = True
) -> RuleResult:
    """Evaluate one rule. Bad parameters raise RuleParameterError (before anything is read). Missing data
    leaves the rule InProgress while the job runs and gives Error once it has ended; a rule that raises gives
    Error with the reason; a rule that has not fired is InProgress while the job runs, NoIssuesFound after."""
    if name not in DEBUG_RULES:
        raise RuleParameterError(f"Unknown rule {name!r}; the rules are {', '.join(DEBUG_RULES)}.")
    spec, check = DEBUG_RULES[name]
    parameters = spec.parse(raw_parameters or {})
    try:
        finding = check(recording, parameters)
    except MissingData as exc:
        if not finished:
            return RuleResult(name, "InProgress", None, f"Waiting for data: {exc}.", spec.advice, parameters)
        return RuleResult(name, "Error", None, f"Cannot evaluate {name}: {exc}.", spec.advice, parameters)
    except Exception as exc:  # noqa: BLE001 - whatever breaks in a rule is its Error, never the caller's crash
        details = f"Cannot evaluate {name}: it raised {type(exc).__name__}: {exc}."
        return RuleResult(name, "Error", None, details, spec.advice, parameters)
    if finding is None:
        status = "NoIssuesFound" if finished else "InProgress"
        return RuleResult(name, status, None, "", spec.advice, parameters)
    step, what = finding
    return RuleResult(name, "IssuesFound", step, what, spec.advice, parameters)


def status_details(result: RuleResult) -> str:
    """StatusDetails as SageMaker words them (at most 1,024 characters)."""
    if result.status == "IssuesFound":
        return (
            f"RuleEvaluationConditionMet: Evaluation of the rule {result.rule} at step {result.step} resulted in "
            f"the condition being met: {result.details}."
        )[:1024]
    if result.status == "Error":
        return f"InternalServerError: {result.details}"[:1024]
    return ""
