"""Debugger's rules on synthetic recordings: each fires where its condition first holds and not before, and
bad parameters are refused with a sentence."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.recording.reader import Recording, Series
from classifier.rules.debugger_rules import DEBUG_RULES, RuleParameterError, evaluate_rule, status_details


def series(values: list[float], start: int = 0) -> Series:
    return Series(np.arange(start, start + len(values)), np.asarray(values, dtype=float))


def falling(n: int, start: float = 3.0) -> list[float]:
    return [start * 0.97**i for i in range(n)]


def test_a_steadily_falling_loss_fires_no_loss_rule() -> None:
    rec = Recording(scalars={"Loss/train": series(falling(60)), "GradientMeanAbs/head": series([1e-3] * 60)})
    for name in ("LossNotDecreasing", "ExplodingTensor", "VanishingGradient"):
        assert evaluate_rule(name, rec).status == "NoIssuesFound"
    assert evaluate_rule("LossNotDecreasing", rec, finished=False).status == "InProgress"


def test_loss_not_decreasing_fires_at_the_window_where_the_loss_leaps_or_stalls() -> None:
    leap = falling(20) + [50.0] * 20
    result = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": series(leap)}))
    assert (result.status, result.step) == ("IssuesFound", 20)
    assert "rose" in result.details
    stall = falling(21) + [1.5] * 30
    result = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": series(stall)}))
    assert (result.status, result.step) == ("IssuesFound", 40)
    assert "fell only" in result.details
    # a looser threshold on the same data: re-evaluation with other parameters
    loose = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": series(stall)}), {"num_steps": "50"})
    assert loose.status == "NoIssuesFound"


@given(
    first=st.floats(min_value=0.5, max_value=10.0),
    rise_percent=st.floats(min_value=0.01, max_value=4.99),
)
def test_a_loss_that_rises_less_than_the_threshold_is_said_to_rise(first: float, rise_percent: float) -> None:
    """Under increase_threshold_percent (5) a rise still fails diff_percent: it reads "rose", never "fell -3%"."""
    later = first * (1 + rise_percent / 100)
    result = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": series([first] + [later] * 10)}))
    assert (result.status, result.step) == ("IssuesFound", 10)
    said = re.match(r"Loss/train rose ([0-9.]+)% over 10 steps \(mean ", result.details)
    assert said and abs(float(said[1]) - rise_percent) <= 0.006, result.details
    assert "fell" not in result.details


def test_exploding_tensor_fires_at_the_first_nan_or_infinity() -> None:
    values = falling(10) + [float("inf"), float("nan")]
    rec = Recording(scalars={"Loss/train": series(values)})
    assert evaluate_rule("ExplodingTensor", rec).step == 10
    assert evaluate_rule("ExplodingTensor", rec, {"only_nan": "True"}).step == 11


def test_strided_data_is_judged_at_its_recorded_steps() -> None:
    """Gradients every record_interval steps (and each of the first steps) fire at the step recorded; a loss
    recorded every 10th step is windowed by step number, as the same loss recorded every step would be."""
    steps = np.array([*range(10), 100, 200, 300])
    gradients = Series(steps, np.array([1e-3] * 11 + [1e-9, 1e-9]))
    result = evaluate_rule("VanishingGradient", Recording(scalars={"GradientMeanAbs/head": gradients}))
    assert (result.status, result.step) == ("IssuesFound", 200)
    every_step = falling(201) + [50.0] * 100
    strided = Series(np.arange(0, 301, 10), np.asarray(every_step[::10]))
    parameters = {"num_steps": "100"}
    whole = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": series(every_step)}), parameters)
    thinned = evaluate_rule("LossNotDecreasing", Recording(scalars={"Loss/train": strided}), parameters)
    assert (whole.status, whole.step) == ("IssuesFound", 300)
    assert (thinned.status, thinned.step) == ("IssuesFound", 300)  # the same window (by value count: none)


def test_vanishing_gradient_and_missing_data() -> None:
    rec = Recording(scalars={"GradientMeanAbs/head": series([1e-3, 1e-5, 1e-8, 1e-9])})
    result = evaluate_rule("VanishingGradient", rec)
    assert (result.status, result.step) == ("IssuesFound", 2)
    assert evaluate_rule("VanishingGradient", rec, {"threshold": "1e-10"}).status == "NoIssuesFound"
    empty = evaluate_rule("VanishingGradient", Recording())
    assert empty.status == "Error" and "no gradients" in empty.details
    assert status_details(empty).startswith("InternalServerError:")


def test_overfit_and_overtraining_read_validation_per_epoch() -> None:
    train = series(falling(40, 2.0))
    valid = Series(np.array([9, 19, 29, 39]), np.array([1.9, 1.9, 1.9, 1.9]))
    rec = Recording(scalars={"Loss/train": train, "Loss/valid": valid})
    overfit = evaluate_rule("Overfit", rec)
    assert overfit.status == "IssuesFound" and overfit.step == 19
    assert evaluate_rule("Overfit", rec, {"patience": "5"}).status == "NoIssuesFound"
    overtraining = evaluate_rule("Overtraining", rec, {"patience_validation": "2", "patience_train": "3"})
    assert (overtraining.status, overtraining.step) == ("IssuesFound", 29)
    assert evaluate_rule("Overtraining", rec).status == "NoIssuesFound"  # the default patience is 10 evaluations


def test_poor_weight_initialization_compares_layer_variances() -> None:
    rec = Recording(scalars={"WeightStd/a": series([1.0]), "WeightStd/b": series([0.1])})
    result = evaluate_rule("PoorWeightInitialization", rec)
    assert (result.status, result.step) == ("IssuesFound", 0)
    assert evaluate_rule("PoorWeightInitialization", rec, {"threshold": "200"}).status == "NoIssuesFound"


def test_dead_relu_and_class_imbalance_read_the_timeline() -> None:
    dead = {"Record": "relu_activity", "Step": 12, "Layer": "trunk_features", "Active": [0.0] * 6 + [0.5] * 4}
    assert evaluate_rule("DeadRelu", Recording(timeline=[dead])).step == 12
    assert evaluate_rule("DeadRelu", Recording(timeline=[dead]), {"threshold_layer": "70"}).status == "NoIssuesFound"
    assert evaluate_rule("DeadRelu", Recording()).status == "Error"
    classes = {"Record": "classes", "Step": 5, "TrainSamples": [100, 5, 0], "Samples": [10, 10], "Correct": [9, 9]}
    assert evaluate_rule("ClassImbalance", Recording(timeline=[classes])).step == 5
    assert evaluate_rule("ClassImbalance", Recording(timeline=[classes]), {"threshold_imbalance": "50"}).status == (
        "NoIssuesFound"
    )


@pytest.mark.parametrize(
    ("rule", "parameters", "message"),
    [
        ("LossNotDecreasing", {"num_steps": "ten"}, "num_steps must be an integer, got 'ten'."),
        ("LossNotDecreasing", {"num_steps": "0"}, "num_steps must be at least 1, got '0'."),
        ("LossNotDecreasing", {"diff_percent": "101"}, "diff_percent must be at least 0 and at most 100, got '101'."),
        ("LossNotDecreasing", {"mode": "TEST"}, "mode must be one of TRAIN, EVAL, GLOBAL or empty, got 'TEST'."),
        ("VanishingGradient", {"threshold": "0"}, "threshold must be above 0, got '0'."),
        ("VanishingGradient", {"threshold": "nan"}, "threshold must be a number, got 'nan'."),
        ("ExplodingTensor", {"only_nan": "maybe"}, "only_nan must be True or False, got 'maybe'."),
        ("Overfit", {"ratio": "0.2"}, "Overfit has no parameter 'ratio'; its parameters are"),
        ("Nonsense", {}, "Unknown rule 'Nonsense'"),
        (
            "VanishingGradient",
            {"collection_names": "gradients"},
            "VanishingGradient has no parameter 'collection_names'",
        ),
        (
            "ClassImbalance",
            {"argmax": "True"},
            "ClassImbalance has no parameter 'argmax' (the job records per-class counts of training samples and of "
            "right argmax predictions, not label and prediction tensors); its parameters are samples, "
            "threshold_imbalance, threshold_misprediction.",
        ),
        (
            "ExplodingTensor",
            {"collection_names": "losses,inputs"},
            "collection_names must be a comma-separated list of all, gradients, losses, metrics, weights or empty",
        ),
        ("ExplodingTensor", {"tensor_regex": "Loss/(train"}, "tensor_regex holds 'Loss/(train', which is not a"),
        (
            "LossNotDecreasing",
            {"use_losses_collection": "False"},
            "LossNotDecreasing needs tensor_regex or collection_names when use_losses_collection is False.",
        ),
    ],
)
def test_bad_parameters_are_refused(rule: str, parameters: dict[str, str], message: str) -> None:
    with pytest.raises(RuleParameterError) as refused:
        evaluate_rule(rule, Recording(), parameters)
    assert str(refused.value).startswith(message)


def test_rule_to_invoke_is_left_and_names_come_back_spelt_as_debugger_spells_them() -> None:
    spec, _ = DEBUG_RULES["LossNotDecreasing"]
    parsed = spec.parse(
        {"rule_to_invoke": "LossNotDecreasing", "collection_names": "Losses, metrics", "num_steps": "20"}
    )
    assert (
        parsed["num_steps"] == 20 and parsed["diff_percent"] == 0.1 and parsed["collection_names"] == "losses,metrics"
    )
    assert spec.parse({"mode": ""})["mode"] == "" and spec.parse({"mode": "eval"})["mode"] == "EVAL"


def test_collections_and_regexes_choose_what_a_rule_reads() -> None:
    """tensor_regex (comma-separated expressions) and collection_names name tags together; where a rule has a
    losses collection, use_losses_collection and mode pick its tag."""
    nan_at_39 = series([1.0] * 39 + [float("nan")])
    rec = Recording(scalars={"Loss/train": series(falling(40)), "GradientNorm/head": nan_at_39})
    rec.scalars["Accuracy/train"] = series([0.1] * 40)
    assert evaluate_rule("ExplodingTensor", rec).step == 39  # every tag when none is named
    assert evaluate_rule("ExplodingTensor", rec, {"collection_names": "losses"}).status == "NoIssuesFound"
    assert evaluate_rule("ExplodingTensor", rec, {"collection_names": "losses,gradients"}).step == 39
    assert evaluate_rule("ExplodingTensor", rec, {"tensor_regex": "^Loss/,^Accuracy/"}).status == "NoIssuesFound"
    assert evaluate_rule("LossNotDecreasing", rec).status == "NoIssuesFound"  # Loss/train falls
    flat = evaluate_rule("LossNotDecreasing", rec, {"collection_names": "metrics"})
    assert (flat.status, flat.step) == ("IssuesFound", 10) and flat.details.startswith("Accuracy/train fell only")
    alone = evaluate_rule("LossNotDecreasing", rec, {"use_losses_collection": "False", "tensor_regex": "^Loss/"})
    assert alone.status == "NoIssuesFound"
    epochs = Recording(scalars={"Loss/train": series(falling(40)), "Loss/valid": series([2.0, 2.0, 2.0])})
    assert evaluate_rule("LossNotDecreasing", epochs, {"mode": "EVAL", "num_steps": "1"}).details.startswith(
        "Loss/valid fell only"
    )
    overfit = evaluate_rule("Overfit", epochs, {"tensor_regex": "Accuracy"})
    assert overfit.status == "Error" and "matches neither Loss/train nor Loss/valid" in overfit.details
    assert evaluate_rule("Overfit", epochs, {"tensor_regex": "valid"}).status != "Error"


def test_a_rule_that_raises_ends_in_error_with_the_reason() -> None:
    damaged = {"Record": "classes", "Step": 5, "TrainSamples": ["many", 3], "Samples": [], "Correct": []}
    result = evaluate_rule("ClassImbalance", Recording(timeline=[damaged]), finished=False)
    assert result.status == "Error"
    assert result.details.startswith("Cannot evaluate ClassImbalance: it raised ValueError: could not convert")
    assert status_details(result).startswith("InternalServerError: Cannot evaluate ClassImbalance: it raised")


def test_a_rule_waits_for_its_data_while_the_job_runs() -> None:
    rec = Recording(scalars={"Loss/train": series(falling(5))})
    running = evaluate_rule("Overfit", rec, finished=False)
    assert (running.status, running.details) == ("InProgress", "Waiting for data: Loss/valid was not recorded.")
    assert status_details(running) == ""
    assert evaluate_rule("Overfit", rec).status == "Error"  # once the job has ended it never came


def test_status_details_use_sagemakers_wording() -> None:
    rec = Recording(scalars={"Loss/train": series(falling(10) + [float("nan")])})
    details = status_details(evaluate_rule("ExplodingTensor", rec))
    assert details.startswith("RuleEvaluationConditionMet: Evaluation of the rule ExplodingTensor at step 10 resulted")
