"""Where the next trial's hyperparameters come from, and when a running trial should stop.

Grid walks every combination once, in order. Random and Hyperband draw with Optuna's RandomSampler,
Bayesian asks Optuna's TPE sampler, a model-based search fitted on the trials so far (warm-start parents'
included); each draw is seeded from the job's RandomSeed and the trial's index, so a job with a seed
suggests the same configurations every time, and a restarted one carries on where it was.

Stopping rules, as AWS describes them: early stopping `Auto` is the median rule (stop a trial whose
objective after an epoch is worse than the median of the other trials' running averages up to that
epoch); Hyperband is asynchronous successive halving (at each rung, MinResource × 3^k epochs, a trial
carries on only if it is among the best third of the trials that reached that rung). HyperbandStrategyConfig
says a trial is not stopped before MinResource and is stopped once it reaches MaxResource; AWS's announcement
describes asynchronous successive halving and documents no bracket assignment, so one bracket of rungs runs
(as in AWS's own open-source asynchronous Hyperband, AutoGluon's and Syne Tune's HyperbandScheduler, whose
default is one bracket).
"""

from __future__ import annotations

import functools
import itertools
import statistics
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from localcloud.sagemaker.tuning.definition import Plan, Range

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

REDUCTION_FACTOR = 3  # Hyperband's η: a third of the trials at a rung go on to the next
MEDIAN_RULE_MIN_TRIALS = 3  # other trials that must have reached an epoch before the median rule judges it


@functools.cache
def _optuna() -> ModuleType:
    """Optuna, imported when a tuning job first draws: a localcloud that only serves never pays for it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _distribution(r: Range) -> BaseDistribution:
    """ReverseLogarithmic ranges are searched as log(1 - x), dense near 1 as AWS describes."""
    distributions = _optuna().distributions
    if r.kind == "Categorical":
        return distributions.CategoricalDistribution(list(r.values))
    log = r.scaling == "Logarithmic"
    if r.kind == "Integer":
        return distributions.IntDistribution(int(r.low), int(r.high), log=log)
    if r.scaling == "ReverseLogarithmic":
        return distributions.FloatDistribution(1.0 - r.high, 1.0 - r.low, log=True)
    return distributions.FloatDistribution(r.low, r.high, log=log)


def _to_wire(r: Range, value: Any) -> str:
    """As AWS passes tuned values: numbers bare, categorical values exactly as given."""
    if r.kind == "Categorical":
        return str(value)
    if r.kind == "Integer":
        return str(int(value))
    return repr(1.0 - value if r.scaling == "ReverseLogarithmic" else float(value))


def _from_wire(r: Range, text: str) -> Any:
    if r.kind == "Categorical":
        return text
    if r.kind == "Integer":
        return int(float(text))
    value = float(text)
    return 1.0 - value if r.scaling == "ReverseLogarithmic" else value


def _inside(r: Range, value: Any) -> bool:
    if r.kind == "Categorical":
        return value in r.values
    if r.scaling == "ReverseLogarithmic":
        value = 1.0 - value
    return r.low <= value <= r.high


def seed_for(seed: int, index: int) -> int:
    """One seed per trial index, so a draw does not depend on how many draws came before it in this process."""
    return (seed * 1_000_003 + index) % 2**32


def suggest(plan: Plan, seed: int, index: int, history: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The tuned hyperparameters of trial `index` (1-based), as strings. `history` holds earlier trials
    (this job's and warm-start parents') as {"params": {...}, "value": float | None, "state": str}."""
    if plan.strategy == "Grid":
        combo = list(itertools.product(*(r.values for r in plan.ranges)))[index - 1]
        return {r.name: value for r, value in zip(plan.ranges, combo, strict=True)}
    optuna = _optuna()
    distributions = {r.name: _distribution(r) for r in plan.ranges}
    if plan.strategy == "Bayesian":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
            seed=seed_for(seed, index),
            n_startup_trials=max(2, min(10, plan.max_jobs // 3)),
            multivariate=True,
            constant_liar=True,
        )
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed_for(seed, index))
    study = optuna.create_study(direction="maximize" if plan.maximize else "minimize", sampler=sampler)
    if plan.strategy == "Bayesian":
        study.add_trials(_known_trials(plan, distributions, history))
    trial = study.ask(distributions)
    return {r.name: _to_wire(r, trial.params[r.name]) for r in plan.ranges}


def _known_trials(
    plan: Plan, distributions: dict[str, BaseDistribution], history: Sequence[dict[str, Any]]
) -> list[optuna.trial.FrozenTrial]:
    """Earlier trials as Optuna trials; ones outside today's ranges (a warm-start parent's) are left out."""
    optuna = _optuna()
    known = []
    for item in history:
        try:
            params = {r.name: _from_wire(r, item["params"][r.name]) for r in plan.ranges}
            if not all(_inside(r, params[r.name]) for r in plan.ranges):
                continue
        except (KeyError, ValueError):
            continue
        state = optuna.trial.TrialState[item["state"]]
        value = item["value"] if state == optuna.trial.TrialState.COMPLETE else None
        known.append(optuna.trial.create_trial(state=state, value=value, params=params, distributions=distributions))
    return known


def worse(value: float, than: float, maximize: bool) -> bool:
    return value < than if maximize else value > than


def median_rule_stops(values: Sequence[float], others: Sequence[Sequence[float]], maximize: bool) -> bool:
    """AWS's median rule after epoch len(values): stop when the latest value is worse than the median of the
    other trials' running averages up to that epoch (only once enough others reached it)."""
    epoch = len(values)
    averages = [statistics.fmean(series[:epoch]) for series in others if len(series) >= epoch]
    if epoch == 0 or len(averages) < MEDIAN_RULE_MIN_TRIALS:
        return False
    return worse(values[-1], statistics.median(averages), maximize)


def rungs(plan: Plan) -> list[int]:
    """Epochs at which Hyperband judges a trial: MinResource × η^k below MaxResource."""
    out, resource = [], plan.min_resource
    while resource < plan.max_resource:
        out.append(resource)
        resource *= REDUCTION_FACTOR
    return out


def hyperband_stops(plan: Plan, values: Sequence[float], others: Sequence[Sequence[float]]) -> bool:
    """Successive halving at the rung the trial just reached: carry on only if its value at that epoch is
    among the best 1/η of every trial's value there (the first to arrive always carries on); none trains
    beyond MaxResource."""
    epoch = len(values)
    if epoch >= plan.max_resource:
        return plan.trial_epochs > plan.max_resource  # a trial set to train longer is cut at MaxResource
    if epoch not in rungs(plan):
        return False
    competing = sorted(
        [values[-1], *(series[epoch - 1] for series in others if len(series) >= epoch)], reverse=plan.maximize
    )
    cutoff = competing[max(len(competing) // REDUCTION_FACTOR - 1, 0)]
    return worse(values[-1], cutoff, plan.maximize)
