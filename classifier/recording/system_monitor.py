"""System use of one training host, sampled in a background thread and written as JSON lines in the record
format of SageMaker's system monitor, so tools written for Debugger's profiler output read it unchanged. The
lines go to a directory of parts (classifier/recording/parts.py), a new file every ROLL_BYTES or ROLL_SECONDS.

One record per line::

    {"Type": "cpu", "Name": "cpu0", "Dimension": "CPUUtilization", "Value": 4.76, "NodeId": "algo-1",
     "Timestamp": 1700000000.5}

Types, names and dimensions written: ``cpu``/``cpu<i>``/``CPUUtilization`` and, where the kernel reports it
(Linux), ``I/OWaitPercentage`` (percent of the core's time, per core, as SageMaker records it);
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

from classifier.recording.parts import ROLL_BYTES, ROLL_SECONDS, RollingParts, text_file

PROFILING_INTERVALS_MS = (100, 200, 500, 1000, 5000, 60000)
"""The intervals SageMaker's ProfilerConfig allows; 500 ms is its default."""
DEFAULT_INTERVAL_MS = 500


class SystemMonitor:
    """Samples this host every ``interval_ms`` into parts under ``directory`` until ``stop``; each sample is
    flushed whole, so a file holds whole records when it is closed."""

    def __init__(
        self,
        directory: Path,
        node_id: str,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        *,
        roll_bytes: int = ROLL_BYTES,
        roll_seconds: float = ROLL_SECONDS,
    ) -> None:
        if interval_ms not in PROFILING_INTERVALS_MS:
            raise ValueError(f"interval_ms must be one of {PROFILING_INTERVALS_MS}, got {interval_ms}.")
        self.directory, self.node_id, self.interval = directory, node_id, interval_ms / 1000
        self.roll = {"roll_bytes": roll_bytes, "roll_seconds": roll_seconds}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="system-monitor", daemon=True)
        self._process = psutil.Process(os.getpid())
        self._gpus = _nvml_handles()

    def start(self) -> "SystemMonitor":
        self._parts = RollingParts(self.directory, text_file, suffix=".json", **self.roll)
        psutil.cpu_times_percent(percpu=True)  # the first call only sets the baseline
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        disk, net, last = psutil.disk_io_counters(), psutil.net_io_counters(), time.monotonic()
        try:
            while not self._stopped.wait(self.interval):
                now_disk, now_net, now = psutil.disk_io_counters(), psutil.net_io_counters(), time.monotonic()
                elapsed = max(now - last, 1e-6)
                records = self._sample(time.time(), elapsed, disk, now_disk, net, now_net)
                disk, net, last = now_disk, now_net, now
                text = "".join(system_record_line(*r[:4], self.node_id, r[4]) for r in records)
                self._parts.write(text, len(text.encode()))
                self._parts.flush()
        finally:
            self._parts.close()

    def _sample(
        self, timestamp: float, elapsed: float, disk: Any, now_disk: Any, net: Any, now_net: Any
    ) -> list[tuple[str, str, str, float, float]]:
        records = []
        for i, times in enumerate(psutil.cpu_times_percent(percpu=True)):
            io_wait = getattr(times, "iowait", None)  # psutil has it on Linux only
            # busy = neither idle nor waiting on I/O: what psutil.cpu_percent reports, from the same sample
            records.append(("cpu", f"cpu{i}", "CPUUtilization", max(0.0, 100.0 - times.idle - (io_wait or 0.0))))
            if io_wait is not None:
                records.append(("cpu", f"cpu{i}", "I/OWaitPercentage", io_wait))
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
