"""ProfilerReport's rules on synthetic system records: triggers counted, GPU rules quiet without GPUs."""

import numpy as np
import pytest

from classifier.recording.reader import Recording, Series
from classifier.rules.profiler_rules import (
    RuleParameterError,
    evaluate_profiler_report,
    report_status,
    system_usage,
)


def by_rule(recording: Recording, parameters: dict[str, str] | None = None) -> dict:
    return {r.rule: r for r in evaluate_profiler_report(recording, parameters)}


def test_step_outliers_are_counted_and_the_threshold_is_adjustable() -> None:
    durations = np.full(200, 0.1)
    durations[[50, 90, 130]] = 5.0
    rec = Recording(scalars={"Timing/step_s": Series(np.arange(200), durations)})
    assert by_rule(rec)["StepOutlier"].triggered == 0  # 3 outliers, 10 allowed
    fired = by_rule(rec, {"StepOutlier_n_outliers": "2"})["StepOutlier"]
    assert fired.triggered == 3 and fired.checked == 200
    assert report_status(evaluate_profiler_report(rec, {"StepOutlier_n_outliers": "2"}), True)[0] == "IssuesFound"


def test_gpu_rules_need_gpu_records() -> None:
    cpu = {("algo-1", "cpu", "cpu0", "CPUUtilization"): Series(np.arange(1200.0), np.full(1200, 95.0))}
    quiet = by_rule(Recording(system=cpu))
    assert quiet["CPUBottleneck"].triggered == 0 and "no GPU" in quiet["CPUBottleneck"].details
    gpu = {("algo-1", "gpu", "gpu0", "GPUUtilization"): Series(np.arange(1200.0), np.full(1200, 2.0))}
    starved = by_rule(Recording(system={**cpu, **gpu}))
    assert starved["CPUBottleneck"].triggered == 1200
    assert starved["LowGPUUtilization"].triggered == 1


def test_initialisation_time_and_usage_table() -> None:
    rec = Recording(
        timeline=[{"Record": "phase", "Phase": "initialisation", "Seconds": 1500.0}],
        system={("algo-2", "memory", "memory", "MemoryUsedPercent"): Series(np.arange(3.0), np.array([1.0, 2.0, 9.0]))},
    )
    assert by_rule(rec)["MaxInitializationTime"].triggered == 1
    assert by_rule(rec, {"MaxInitializationTime_threshold": "30"})["MaxInitializationTime"].triggered == 0
    (row,) = system_usage(rec)
    assert (row.node, row.metric, row.max, row.unit) == ("algo-2", "MemoryUsedPercent", 9.0, "%")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"CPUBottleneck_threshold": "150"}, "threshold must be at least 0 and at most 100"),
        ({"threshold": "1"}, "ProfilerReport has no parameter 'threshold'"),
        ({"StepOutlier_stddev": "abc"}, "stddev must be a number"),
    ],
)
def test_bad_report_parameters(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(RuleParameterError, match=message):
        evaluate_profiler_report(Recording(), parameters)
