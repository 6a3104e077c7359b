"""System use of one training host, sampled in a background thread and written as JSON lines in the record
format of SageMaker's system monitor, so tools written for Debugger's profiler output read it unchanged.

One record per line::

    {"Type": "cpu", "Name": "cpu0", "Dimension": "CPUUtilization", "Value": 4.76, "NodeId": "algo-1",
     "Timestamp": 1700000000.5}

Types, names and dimensions written: ``cpu``/``cpu<i>``/``CPUUtilization`` (percent, per core);
``memory``/``memory``/``MemoryUsedPercent`` and ``ProcessRSSBytes``; ``disk``/``disk``/``ReadBytesPerSecond``
and ``WriteBytesPerSecond``; ``network``/``network``/``BytesSentPerSecond`` and ``BytesReceivedPerSecond``;
``gpu``/``gpu<i>``/``GPUUtilization`` and ``GPUMemoryUtilization`` (percent) where NVML is importable.
"""

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil

PROFILING_INTERVALS_MS = (100, 200, 500, 1000, 5000, 60000)
"""The intervals SageMaker's ProfilerConfig allows; 500 ms is its default."""
DEFAULT_INTERVAL_MS = 500


class SystemMonitor:
    """Samples this host every ``interval_ms`` into ``path`` until ``stop``; each line is flushed so a sync
    of the directory while the job runs uploads whole records."""

    def __init__(self, path: Path, node_id: str, interval_ms: int = DEFAULT_INTERVAL_MS) -> None:
        if interval_ms not in PROFILING_INTERVALS_MS:
            raise ValueError(f"interval_ms must be one of {PROFILING_INTERVALS_MS}, got {interval_ms}.")
        self.path, self.node_id, self.interval = path, node_id, interval_ms / 1000
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="system-monitor", daemon=True)
        self._process = psutil.Process(os.getpid())
        self._gpus = _nvml_handles()

    def start(self) -> "SystemMonitor":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        disk, net, last = psutil.disk_io_counters(), psutil.net_io_counters(), time.monotonic()
        with self.path.open("a", encoding="utf-8") as out:
            while not self._stopped.wait(self.interval):
                now_disk, now_net, now = psutil.disk_io_counters(), psutil.net_io_counters(), time.monotonic()
                elapsed = max(now - last, 1e-6)
                records = self._sample(time.time(), elapsed, disk, now_disk, net, now_net)
                disk, net, last = now_disk, now_net, now
                out.write("".join(system_record_line(*r[:4], self.node_id, r[4]) for r in records))
                out.flush()

    def _sample(
        self, timestamp: float, elapsed: float, disk: Any, now_disk: Any, net: Any, now_net: Any
    ) -> list[tuple[str, str, str, float, float]]:
        records = [("cpu", f"cpu{i}", "CPUUtilization", v) for i, v in enumerate(psutil.cpu_percent(percpu=True))]
        records.append(("memory", "memory", "MemoryUsedPercent", psutil.virtual_memory().percent))
        with contextlib.suppress(psutil.Error):
            records.append(("memory", "memory", "ProcessRSSBytes", float(self._process.memory_info().rss)))
        if disk is not None and now_disk is not None:
            records.append(("disk", "disk", "ReadBytesPerSecond", (now_disk.read_bytes - disk.read_bytes) / elapsed))
            records.append(("disk", "disk", "WriteBytesPerSecond", (now_disk.write_bytes - disk.write_bytes) / elapsed))
        if net is not None and now_net is not None:
            records.append(
                ("network", "network", "BytesSentPerSecond", (now_net.bytes_sent - net.bytes_sent) / elapsed)
            )
            records.append(
                ("network", "network", "BytesReceivedPerSecond", (now_net.bytes_recv - net.bytes_recv) / elapsed)
            )
        records.extend(_gpu_records(self._gpus))
        return [(kind, name, dimension, round(value, 3), timestamp) for kind, name, dimension, value in records]


def system_record_line(kind: str, name: str, dimension: str, value: float, node_id: str, timestamp: float) -> str:
    """One record in SageMaker's system-monitor format, as a JSON line."""
    record = {"Type": kind, "Name": name, "Dimension": dimension, "Value": value, "NodeId": node_id}
    return json.dumps({**record, "Timestamp": round(timestamp, 3)}) + "\n"


def _nvml_handles() -> list[Any]:
    """GPU handles through NVML (package nvidia-ml-py) where a GPU and the package are present."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no package, no driver or no GPU: the host is recorded without GPU records
        return []


def _gpu_records(handles: list[Any]) -> list[tuple[str, str, str, float]]:
    if not handles:
        return []
    import pynvml  # type: ignore[import-not-found]

    records = []
    for i, handle in enumerate(handles):
        with contextlib.suppress(Exception):
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            records.append(("gpu", f"gpu{i}", "GPUUtilization", float(rates.gpu)))
            records.append(("gpu", f"gpu{i}", "GPUMemoryUtilization", 100.0 * memory.used / max(memory.total, 1)))
    return records
