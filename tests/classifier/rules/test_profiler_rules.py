"""ProfilerReport's rules on synthetic system records: triggers counted, GPU rules quiet without GPUs, every
parameter read, and a rule that raises makes the report an Error."""

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
        ({"StepOutlier_mode": "EVAL"}, "mode must be one of TRAIN, GLOBAL or empty"),  # only train steps are timed
        ({"IOBottleneck_scan_interval_us": "60000000"}, "IOBottleneck has no parameter 'scan_interval_us'"),
    ],
)
def test_bad_report_parameters(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(RuleParameterError, match=message):
        evaluate_profiler_report(Recording(), parameters)


def system(samples: int = 1200, **dimensions: float) -> Recording:
    """One host's constant samples: ``CPUUtilization=20, GPUUtilization=2, ...`` (cpu0's, gpu0's)."""
    times = np.arange(float(samples))
    kinds = {
        "CPUUtilization": "cpu",
        "I/OWaitPercentage": "cpu",
        "GPUUtilization": "gpu",
        "GPUMemoryUtilization": "gpu",
    }
    return Recording(
        system={
            ("algo-1", kinds[name], f"{kinds[name]}0", name): Series(times, np.full(samples, value))
            for name, value in dimensions.items()
        }
    )


def test_io_bottleneck_reads_the_recorded_io_wait() -> None:
    stalled = system(CPUUtilization=20, **{"I/OWaitPercentage": 80}, GPUUtilization=2)
    found = by_rule(stalled)["IOBottleneck"]
    assert (found.triggered, found.checked) == (1200, 1200)
    assert found.details == "100% of samples had a GPU below 10% while I/O wait was above 50%"
    for parameter, value in (
        ("io_threshold", "90"),
        ("gpu_threshold", "1"),
        ("threshold", "100"),
        ("patience", "1200"),
    ):
        assert by_rule(stalled, {f"IOBottleneck_{parameter}": value})["IOBottleneck"].triggered == 0, parameter
    busy_gpu = system(CPUUtilization=20, **{"I/OWaitPercentage": 80}, GPUUtilization=95)
    assert by_rule(busy_gpu)["IOBottleneck"].triggered == 0
    cpu_only = by_rule(system(CPUUtilization=20, **{"I/OWaitPercentage": 80}))["IOBottleneck"]
    assert cpu_only.triggered == 0 and cpu_only.details.endswith("I/O wait was above 50% in 1200 of 1200 samples")
    assert "not recorded" in by_rule(system(CPUUtilization=20))["IOBottleneck"].details


def test_io_wait_is_not_counted_as_cpu_use() -> None:
    waiting = system(CPUUtilization=85, **{"I/OWaitPercentage": 99}, GPUUtilization=2)
    assert by_rule(waiting)["CPUBottleneck"].triggered == 0  # 85 % busy, below cpu_threshold 90


def test_windows_and_patience_are_read() -> None:
    gpu = np.r_[np.full(1000, 95.0), np.full(500, 5.0)]  # busy, then idle for the last 500 samples
    times = np.arange(1500.0)
    idle_at_the_end = Recording(
        system={
            ("algo-1", "gpu", "gpu0", "GPUUtilization"): Series(times, gpu),
            ("algo-1", "gpu", "gpu0", "GPUMemoryUtilization"): Series(times, np.full(1500, 5.0)),
            ("algo-1", "cpu", "cpu0", "CPUUtilization"): Series(times, np.full(1500, 5.0)),
        }
    )
    assert by_rule(idle_at_the_end)["BatchSize"].triggered == 1  # its window: the last 500 samples
    assert by_rule(idle_at_the_end, {"BatchSize_window": "1500"})["BatchSize"].triggered == 0
    two = {
        ("algo-1", "gpu", f"gpu{i}", "GPUUtilization"): Series(np.arange(20.0), np.full(20, load))
        for i, load in enumerate((90.0, 10.0))
    }
    assert by_rule(Recording(system=two), {"LoadBalancing_patience": "10"})["LoadBalancing"].triggered == 1
    waiting = by_rule(Recording(system=two))["LoadBalancing"]  # patience 1000: too few samples yet
    assert waiting.triggered == 0 and "fewer than patience" in waiting.details


def test_a_rule_that_raises_makes_the_report_an_error() -> None:
    damaged = Recording(timeline=[{"Record": "config", "DataloaderWorkers": "many", "Cores": 2}])
    results = evaluate_profiler_report(damaged)
    broken = next(r for r in results if r.rule == "Dataloader")
    assert broken.failed and broken.details.startswith("Cannot evaluate Dataloader: it raised ValueError")
    status, details = report_status(results, finished=True)
    assert status == "Error" and details.startswith("InternalServerError: Cannot evaluate Dataloader: it raised")
