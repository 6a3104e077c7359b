"""The ProfilerReport rules of SageMaker's profiler, evaluated on a job's own recording (numpy only), with
their default thresholds: how often each triggered, and what to do about it. Rules that judge GPUs find
nothing to say on hosts that recorded none, as on AWS's CPU instances.

Parameters of the report's rules are named ``<Rule>_<parameter>`` in RuleParameters (as the SageMaker SDK's
``ProfilerReport(CPUBottleneck_threshold=...)`` sends them).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.recording.reader import Recording
from classifier.rules.rule_params import Parameter, RuleParameterError, RuleSpec
from classifier.rules.system_data import UsageRow, cpu_total, device_values, sample_times, system_usage


@dataclass(frozen=True)
class ProfilerRuleResult:
    rule: str
    triggered: int
    """Times the rule's condition held (the report's "number of times rule triggered")."""
    checked: int
    """How many data points were checked."""
    details: str
    recommendation: str
    parameters: dict[str, Any]
    failed: bool = False
    """The rule raised: ``details`` says how (the report's status is then Error)."""

    @property
    def fired(self) -> bool:
        return self.triggered > 0


Check = Callable[[Recording, dict[str, Any]], tuple[int, int, str]]


def _gpu(rec: Recording, dimension: str) -> dict[tuple[str, str], np.ndarray]:
    return device_values(rec, "gpu", dimension)


NO_GPU = "no GPU was recorded on these hosts"


def _cpu_bottleneck(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    gpus = _gpu(rec, "GPUUtilization")
    if not gpus:
        return 0, 0, NO_GPU
    cpu = cpu_total(rec)
    triggered = checked = 0
    for (node, _), util in gpus.items():
        load = cpu.get(node, np.zeros(0))
        n = min(len(util), len(load))
        checked += n
        triggered += int(((util[:n] < p["gpu_threshold"]) & (load[:n] > p["cpu_threshold"])).sum())
    share = 100 * triggered / max(checked, 1)
    return (
        (triggered if share > p["threshold"] and checked >= p["patience"] else 0),
        checked,
        f"{share:.0f}% of samples",
    )


def _io_bottleneck(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    """smdebug's IOBottleneck: the samples where a GPU ran below gpu_threshold while a core waited on I/O more
    than io_threshold, as a share of the samples; it fires above threshold, after patience samples."""
    high_io = sample_times(rec, "cpu", "I/OWaitPercentage", lambda v: v > p["io_threshold"])
    if not high_io:
        return 0, 0, "I/O wait was not recorded (the system monitor reads it on Linux hosts)"
    gpus = sample_times(rec, "gpu", "GPUUtilization", lambda v: np.ones(v.shape, bool))
    if not gpus:
        waits = sample_times(rec, "cpu", "I/OWaitPercentage", lambda v: np.ones(v.shape, bool))
        samples = sum(len(times) for times in waits.values())
        waiting = sum(len(times) for times in high_io.values())
        return 0, 0, f"{NO_GPU}; I/O wait was above {p['io_threshold']:g}% in {waiting} of {samples} samples"
    low_gpu = sample_times(rec, "gpu", "GPUUtilization", lambda v: v < p["gpu_threshold"])
    datapoints = sum(len(times) for times in gpus.values())
    bottlenecks = sum(len(times & high_io.get(node, set())) for node, times in low_gpu.items())
    share = 100 * bottlenecks / max(datapoints, 1)
    fired = bottlenecks if datapoints > p["patience"] and share > p["threshold"] else 0
    return (
        fired,
        datapoints,
        f"{share:.0f}% of samples had a GPU below {p['gpu_threshold']:g}% while I/O wait was above "
        f"{p['io_threshold']:g}%",
    )


def _low_gpu(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    gpus = _gpu(rec, "GPUUtilization")
    if not gpus:
        return 0, 0, NO_GPU
    triggered = 0
    for util in gpus.values():
        window = util[-p["window"] :]
        if len(util) < p["patience"]:
            continue
        idle = np.percentile(window, 95) < p["threshold_p95"]
        fluctuating = np.percentile(window, 5) < p["threshold_p5"] and not idle
        triggered += int(idle or fluctuating)
    p95 = max(float(np.percentile(u, 95)) for u in gpus.values())
    return triggered, sum(len(u) for u in gpus.values()), f"highest p95 GPU utilisation {p95:.0f}%"


def _batch_size(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    gpus, memory = _gpu(rec, "GPUUtilization"), _gpu(rec, "GPUMemoryUtilization")
    if not gpus:
        return 0, 0, NO_GPU
    cpu = cpu_total(rec)
    triggered = 0
    window = p["window"]
    for key, util in gpus.items():
        mem = memory.get(key, np.zeros(1))[-window:]
        load = cpu.get(key[0], np.zeros(1))[-window:]
        low = (
            np.percentile(util[-window:], 95) < p["gpu_threshold_p95"]
            and np.percentile(mem, 95) < p["gpu_memory_threshold_p95"]
            and np.percentile(load, 95) < p["cpu_threshold_p95"]
        )
        triggered += int(low and len(util) >= p["patience"])
    return triggered, len(gpus), "GPUs, GPU memory and CPUs all lightly used" if triggered else ""


def _gpu_memory_increase(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    memory = _gpu(rec, "GPUMemoryUtilization")
    if not memory:
        return 0, 0, NO_GPU
    triggered = 0
    for values in memory.values():
        if len(values) >= max(p["patience"], 2 * p["window"]):
            before, after = values[-2 * p["window"] : -p["window"]].mean(), values[-p["window"] :].mean()
            triggered += int(after - before > p["increase"])
    return triggered, len(memory), ""


def _load_balancing(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    gpus = _gpu(rec, "GPUUtilization")
    if len(gpus) < 2:
        return 0, len(gpus), NO_GPU if not gpus else "one GPU: nothing to balance"
    samples = min(len(u) for u in gpus.values())
    if samples < p["patience"]:
        return 0, len(gpus), f"{samples} sample(s) per GPU, fewer than patience ({p['patience']})"
    means = np.array([u.mean() for u in gpus.values()])
    spread = (means.max() - means.min()) / max(means.max(), 1e-9)
    return int(spread > p["threshold"]), len(gpus), f"GPU workloads differ by {spread:.0%}"


def _dataloader(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    configs = rec.records("config")
    if not configs:
        return 0, 0, "the data loader's processes were not recorded"
    workers, cores = int(configs[-1].get("DataloaderWorkers", 0)), max(int(configs[-1].get("Cores", 1)), 1)
    share = 100 * workers / cores
    fired = share < p["min_threshold"] or share > p["max_threshold"]
    return int(fired), 1, f"{workers} data loader process(es) for {cores} core(s) ({share:.0f}%)"


def _max_initialization(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    phases = [r for r in rec.records("phase") if r.get("Phase") == "initialisation"]
    if not phases:
        return 0, 0, "the initialisation was not recorded"
    longest = max(float(r.get("Seconds", 0)) for r in phases)
    return int(longest > p["threshold"] * 60), len(phases), f"initialisation took {longest:.1f} s"


def _step_outlier(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    steps = rec.series("Timing/step_s")
    if steps is None or steps.values.size < 2:
        return 0, 0, "no step durations were recorded"
    outliers = int((steps.values > outlier_threshold(steps.values, p["stddev"])).sum())
    fired = outliers if outliers > p["n_outliers"] else 0
    return fired, int(steps.values.size), f"{outliers} step(s) longer than mean + {p['stddev']:g} standard deviations"


def outlier_threshold(durations: np.ndarray, stddev: float) -> float:
    return float(durations.mean() + stddev * durations.std())


def _overall(rec: Recording, p: dict[str, Any]) -> tuple[int, int, str]:
    return 0, len(rec.system), "system usage table (this rule never triggers)"


def _spec(name: str, parameters: tuple[Parameter, ...], recommendation: str) -> RuleSpec:
    return RuleSpec(name, parameters, recommendation)


def _percent(name: str, default: float) -> Parameter:
    return Parameter(name, float, default, low=0, high=100)


PROFILER_RULES: dict[str, tuple[RuleSpec, Check]] = {
    "BatchSize": (
        _spec(
            "BatchSize",
            (
                _percent("cpu_threshold_p95", 70),
                _percent("gpu_threshold_p95", 70),
                _percent("gpu_memory_threshold_p95", 70),
                Parameter("patience", int, 1000, low=0),
                Parameter("window", int, 500, low=1),
            ),
            "The instance is underused: run on a smaller instance or raise the batch size.",
        ),
        _batch_size,
    ),
    "CPUBottleneck": (
        _spec(
            "CPUBottleneck",
            (
                _percent("threshold", 50),
                _percent("gpu_threshold", 10),
                _percent("cpu_threshold", 90),
                Parameter("patience", int, 1000, low=0),
            ),
            "The GPU waits on the CPU: use more data loader processes, prefetch, or move preprocessing to the GPU.",
        ),
        _cpu_bottleneck,
    ),
    "Dataloader": (
        _spec(
            "Dataloader",
            (Parameter("min_threshold", float, 70, low=0), Parameter("max_threshold", float, 200, low=0)),
            "Match the data loader processes to the cores: too few starve the model, too many fight for cores.",
        ),
        _dataloader,
    ),
    "GPUMemoryIncrease": (
        _spec(
            "GPUMemoryIncrease",
            (
                _percent("increase", 5),
                Parameter("patience", int, 1000, low=0),
                Parameter("window", int, 10, low=1),
            ),
            "GPU memory keeps growing: look for tensors kept across steps, or choose a GPU with more memory.",
        ),
        _gpu_memory_increase,
    ),
    "IOBottleneck": (
        _spec(
            "IOBottleneck",
            (
                _percent("threshold", 50),
                _percent("gpu_threshold", 10),
                _percent("io_threshold", 50),
                Parameter("patience", int, 1000, low=0),
            ),
            "Input waits on storage: prefetch, use larger files or a faster data source (FSx, Pipe mode).",
        ),
        _io_bottleneck,
    ),
    "LoadBalancing": (
        _spec(
            "LoadBalancing",
            (Parameter("threshold", float, 0.5, low=0, high=1), Parameter("patience", int, 1000, low=0)),
            "GPUs do unequal work: check the data-parallel sharding and the batch split.",
        ),
        _load_balancing,
    ),
    "LowGPUUtilization": (
        _spec(
            "LowGPUUtilization",
            (
                _percent("threshold_p95", 70),
                _percent("threshold_p5", 10),
                Parameter("window", int, 500, low=1),
                Parameter("patience", int, 1000, low=0),
            ),
            "The GPU is mostly idle: raise the batch size, fix input bottlenecks, or use a smaller instance.",
        ),
        _low_gpu,
    ),
    "MaxInitializationTime": (
        _spec(
            "MaxInitializationTime",
            (Parameter("threshold", float, 20, low=0, low_open=True),),
            "Start-up is slow: cache the dataset or features, install packages in the image, or use Pipe mode.",
        ),
        _max_initialization,
    ),
    "OverallSystemUsage": (
        _spec("OverallSystemUsage", (), "Read the usage table: a resource near 100% is the bottleneck."),
        _overall,
    ),
    "StepOutlier": (
        _spec(
            "StepOutlier",
            (
                Parameter("stddev", float, 3, low=0, low_open=True),
                # Only training steps are timed (Timing/step_s): EVAL would judge nothing, so it is refused.
                Parameter("mode", str, "", choices=("TRAIN", "GLOBAL")),
                Parameter("n_outliers", int, 10, low=0),
            ),
            "Some steps take far longer than the rest: look for checkpoints, evaluation or data stalls at those steps.",
        ),
        _step_outlier,
    ),
}


def parse_report_parameters(raw: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    """Each report rule's parameters from ``<Rule>_<parameter>`` keys; anything else is refused."""
    grouped: dict[str, dict[str, object]] = {name: {} for name in PROFILER_RULES}
    for key, value in raw.items():
        if key == "rule_to_invoke":
            continue
        rule, _, parameter = key.partition("_")
        if rule not in PROFILER_RULES or not parameter:
            raise RuleParameterError(
                f"ProfilerReport has no parameter {key!r}; name one as <Rule>_<parameter>, with a rule of "
                f"{', '.join(PROFILER_RULES)}."
            )
        grouped[rule][parameter] = value
    return {name: PROFILER_RULES[name][0].parse(values) for name, values in grouped.items()}


def evaluate_profiler_report(
    recording: Recording, raw_parameters: Mapping[str, object] | None = None
) -> list[ProfilerRuleResult]:
    """Every report rule, most triggered first (as the report sorts them). Bad parameters raise."""
    parameters = parse_report_parameters(raw_parameters or {})
    results = []
    for name, (spec, check) in PROFILER_RULES.items():
        try:
            triggered, checked, details = check(recording, parameters[name])
        except Exception as exc:  # noqa: BLE001 - a rule that breaks is reported, the others still run
            details = f"Cannot evaluate {name}: it raised {type(exc).__name__}: {exc}."
            results.append(ProfilerRuleResult(name, 0, 0, details, spec.advice, parameters[name], failed=True))
            continue
        results.append(ProfilerRuleResult(name, triggered, checked, details, spec.advice, parameters[name]))
    return sorted(results, key=lambda r: (-r.triggered, r.rule))


def report_status(results: list[ProfilerRuleResult], finished: bool) -> tuple[str, str]:
    """(RuleEvaluationStatus, StatusDetails) of the ProfilerReport rule: Error when one of its rules raised (as
    the report's processing job fails), else IssuesFound when one triggered."""
    failed = [r for r in results if r.failed]
    if failed:
        return "Error", f"InternalServerError: {' '.join(r.details for r in failed)}"[:1024]
    fired = [r for r in results if r.fired]
    if fired:
        names = ", ".join(f"{r.rule} ({r.triggered})" for r in fired)
        return "IssuesFound", f"RuleEvaluationConditionMet: rules triggered: {names}."[:1024]
    return ("NoIssuesFound" if finished else "InProgress"), ""


__all__ = [
    "PROFILER_RULES",
    "ProfilerRuleResult",
    "RuleParameterError",
    "UsageRow",
    "evaluate_profiler_report",
    "outlier_threshold",
    "parse_report_parameters",
    "report_status",
    "system_usage",
]
