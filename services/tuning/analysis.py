"""What an operator would miss in a table of trials: objectives that are NaN, infinite or no better than
chance, trials that never printed the objective, and an objective that tracks the batch size (a metric
summed per batch instead of averaged per sample, as the original project's "Test Loss" was)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from services.tuning.tuning_records import Trial, TuningJob

BATCH_RHO = 0.9
"""|Spearman rank correlation| between batch size and objective from which the metric is suspect."""
MIN_POINTS_FOR_RHO = 4


@dataclass(frozen=True)
class Finding:
    """One warning: a headline and the trials it concerns."""

    message: str
    trials: tuple[str, ...] = ()


def _is_loss(metric: str) -> bool:
    return "loss" in metric.lower()


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Rank correlation of two equally long lists (None when either is constant or too short)."""
    if len(xs) < MIN_POINTS_FOR_RHO:
        return None
    frame = pd.DataFrame({"x": xs, "y": ys}).rank()
    if frame["x"].nunique() < 2 or frame["y"].nunique() < 2:
        return None
    return float(frame["x"].corr(frame["y"]))


def findings(job: TuningJob, trials: list[Trial], *, classes: int | None) -> list[Finding]:
    """The warnings for a tuning job's trials, most serious first."""
    out: list[Finding] = []
    broken = [t.name for t in trials if t.objective is not None and not math.isfinite(t.objective)]
    if broken:
        out.append(
            Finding(f"{_trials(broken)} ended with a NaN or infinite objective: training diverged.", tuple(broken))
        )
    if classes and classes > 1 and _is_loss(job.objective_metric):
        chance = math.log(classes)
        weak = [
            t.name for t in trials if t.objective is not None and math.isfinite(t.objective) and t.objective >= chance
        ]
        if weak:
            out.append(
                Finding(
                    f"{_trials(weak)} {'is' if len(weak) == 1 else 'are'} no better than chance: "
                    f"{job.objective_metric} ≥ ln({classes}) = "
                    f"{chance:.3f}, the cross-entropy of a uniform guess over {classes} classes.",
                    tuple(weak),
                )
            )
    silent = [t.name for t in trials if t.objective_status == "Failed" and t.status in {"Completed", "Stopped"}]
    if silent:
        out.append(
            Finding(
                f"{_trials(silent)} ended without printing the objective '{job.objective_metric}': its metric "
                "definition's regex matched no log line, so they count as failed objectives.",
                tuple(silent),
            )
        )
    sized = [
        t
        for t in trials
        if t.objective is not None and math.isfinite(t.objective) and _number(t.tuned.get("batch_size"))
    ]
    rho = spearman([float(t.tuned["batch_size"]) for t in sized], [t.objective or 0.0 for t in sized])
    if rho is not None and abs(rho) >= BATCH_RHO:
        out.append(
            Finding(
                f"The objective tracks the batch size almost perfectly (Spearman ρ = {rho:+.2f} over {len(sized)} "
                "trials). The metric is probably not averaged per sample: a loss summed per batch or divided by the "
                'number of batches (as the original project\'s "Test Loss" was) changes with the batch size '
                "itself, so the search optimises the batch size, not the model."
            )
        )
    return out


def _trials(names: list[str]) -> str:
    """`1 trial` / `3 trials`."""
    return "1 trial" if len(names) == 1 else f"{len(names)} trials"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
