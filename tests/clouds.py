"""Localcloud processes for the tests' fixtures and the benchmarks: started in a folder, stopped on leaving."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from localcloud.core.process import LocalCloudProcess


@contextlib.contextmanager
def running_localcloud(
    data_dir: Path, args: Sequence[str] = (), *, endpoint: str | None = None
) -> Iterator[LocalCloudProcess]:
    """A localcloud started in `data_dir` with `args`, handed over once `endpoint` (if named) is in service."""
    cloud = LocalCloudProcess(data_dir, list(args)).start()
    try:
        if endpoint:
            cloud.wait_endpoint(endpoint)
        yield cloud
    finally:
        cloud.stop()
