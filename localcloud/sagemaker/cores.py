"""Endpoint instances as capacity: each gets its own share of the machine's cores, as an AWS instance brings
its own vCPUs.

An instance type's vCPUs (`ml.m5.large` 2, `ml.m5.xlarge` 4, `ml.m5.2xlarge` 8: AWS's sizes, `medium` 2 and
`small` 1 as for the burstable types) map onto this machine's cores at `vcpus_per_core` (a localcloud option:
2 by default, so a 2-vCPU instance gets one core). The instance's process is pinned to its cores
(sched_setaffinity, which its inference threads follow). Cores go to the instances that hold the fewest; when
the instances want more cores than the machine has, they share, and `oversubscribed` says so, for the
Endpoints page to show instead of pretending each instance is a machine of its own.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter

_SIZE = re.compile(r"^(\d*)xlarge$")


def vcpus(instance_type: str) -> int:
    """The vCPUs AWS gives an instance of this type, from its size: large 2, xlarge 4, Nxlarge 4·N."""
    size = instance_type.rsplit(".", 1)[-1]
    if size in ("large", "medium"):
        return 2
    if size in ("small", "micro", "nano"):
        return 1
    match = _SIZE.match(size)
    return 4 * int(match.group(1) or 1) if match else 2


class Cores:
    """Which of the machine's cores each endpoint instance runs on."""

    def __init__(self, vcpus_per_core: int = 2, cores: list[int] | None = None) -> None:
        self.vcpus_per_core = max(1, vcpus_per_core)
        self.cores = sorted(cores if cores is not None else os.sched_getaffinity(0))
        self._held: dict[int, list[int]] = {}  # instance id -> its cores
        self._lock = threading.Lock()
        self._next_id = 0

    def take(self, instance_type: str) -> tuple[int, list[int]]:
        """(an id to give the cores back with, the cores) for a new instance of `instance_type`."""
        wanted = min(len(self.cores), max(1, vcpus(instance_type) // self.vcpus_per_core))
        with self._lock:
            load = Counter(core for held in self._held.values() for core in held)
            chosen = sorted(sorted(self.cores, key=lambda core: (load[core], core))[:wanted])
            self._next_id += 1
            self._held[self._next_id] = chosen
            return self._next_id, chosen

    def give(self, holder: int) -> None:
        with self._lock:
            self._held.pop(holder, None)

    def report(self) -> dict[str, object]:
        """What health shows: the machine's cores, the cores the instances hold, and whether they share."""
        with self._lock:
            wanted = sum(len(held) for held in self._held.values())
        return {
            "machine_cores": len(self.cores),
            "instance_cores": wanted,
            "vcpus_per_core": self.vcpus_per_core,
            "oversubscribed": wanted > len(self.cores),
        }
