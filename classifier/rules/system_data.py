"""The system monitor's records (classifier/recording/system_monitor.py) as the profiler rules read them: per
host and device, per sample, and OverallSystemUsage's percentile table."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from classifier.recording.reader import Recording


@dataclass(frozen=True)
class UsageRow:
    """OverallSystemUsage: one metric of one host."""

    node: str
    metric: str
    unit: str
    p50: float
    p95: float
    p99: float
    max: float


def device_values(rec: Recording, kind: str, dimension: str) -> dict[tuple[str, str], np.ndarray]:
    """(host, device) -> values of one dimension ("gpu", "GPUUtilization"), in sample order."""
    return {(k[0], k[2]): s.values for k, s in rec.system.items() if k[1] == kind and k[3] == dimension}


def sample_times(
    rec: Recording, kind: str, dimension: str, condition: Callable[[np.ndarray], np.ndarray]
) -> dict[str, set[float]]:
    """host -> the sample timestamps at which some device of ``kind`` met ``condition`` on ``dimension``. A sample's
    records share one timestamp (the monitor writes them together), so hosts' devices line up by it."""
    times: dict[str, set[float]] = {}
    for (node, device_kind, _, device_dimension), series in rec.system.items():
        if device_kind == kind and device_dimension == dimension:
            times.setdefault(node, set()).update(series.steps[condition(series.values)].tolist())
    return times


def cpu_total(rec: Recording) -> dict[str, np.ndarray]:
    """Mean CPU utilisation over the cores of each host, per sample."""
    per_node: dict[str, list[np.ndarray]] = {}
    for (node, _), values in device_values(rec, "cpu", "CPUUtilization").items():
        per_node.setdefault(node, []).append(values)
    return {node: np.mean(_aligned(cores), axis=0) for node, cores in per_node.items()}


def _aligned(arrays: list[np.ndarray]) -> np.ndarray:
    n = min(len(a) for a in arrays)
    return np.stack([a[:n] for a in arrays])


def system_usage(recording: Recording) -> list[UsageRow]:
    """OverallSystemUsage's table: p50/p95/p99/max of each recorded metric per host."""
    rows = []
    for (node, kind, name, dimension), series in sorted(recording.system.items()):
        if series.values.size:
            v = series.values
            unit = "%" if "Utilization" in dimension or "Percent" in dimension else "bytes/s"
            unit = "bytes" if dimension.endswith("Bytes") else unit
            p50, p95, p99 = (float(x) for x in np.percentile(v, [50, 95, 99]))
            rows.append(
                UsageRow(
                    node, f"{name} {dimension}" if kind != name else dimension, unit, p50, p95, p99, float(v.max())
                )
            )
    return rows
