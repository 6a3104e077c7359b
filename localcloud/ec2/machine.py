"""What an EC2 instance is on this machine: its user data run as a process group in a home of its own.

localcloud/ec2/provider.py keeps the API and the states; this module starts the user data the way cloud-init
would (through its shebang, else bash), with `shutdown`/`poweroff`/`halt` that end the instance,
copies its output to the console, and makes sure nothing of it outlives localcloud.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psutil

STOP_GRACE_SECONDS = 5.0  # SIGTERM, then SIGKILL: an OS shutdown does not wait forever either
_SHUTDOWN_SHIM = (
    "#!/bin/sh\n# localcloud: an instance shuts itself down by ending its user data's process group.\nkill -TERM 0\n"
)

ConsoleSink = Callable[[list[tuple[int, str]]], None]
"""Receives batches of (epoch ms, line) of console output: CloudWatch Logs, for GetConsoleOutput."""


def _die_with_parent() -> None:
    """Runs in the child before exec: an instance's shell never outlives localcloud."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def prepare(home: Path, user_data: bytes) -> tuple[list[str], Path]:
    """Write the user data and the shutdown commands into the instance's home: (command, shims dir)."""
    shims = home / ".localcloud-bin"
    shims.mkdir(parents=True, exist_ok=True)
    for name in ("shutdown", "poweroff", "halt"):
        (shims / name).write_text(_SHUTDOWN_SHIM)
        (shims / name).chmod(0o755)
    script = home / "user-data"
    script.write_bytes(user_data)
    script.chmod(0o755)
    # cloud-init executes a user-data script through its shebang; without one, bash runs it.
    command = [str(script)] if user_data.startswith(b"#!") else ["bash", str(script)]
    return command, shims


def environment(home: Path, shims: Path, instance_env: dict[str, str]) -> dict[str, str]:
    """localcloud's environment less its own and AWS's variables, the shims and the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALCLOUD_"))}
    env.update(
        {
            "PATH": os.pathsep.join([str(shims), str(Path(sys.executable).parent), env.get("PATH", "")]),
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            **instance_env,
        }
    )
    return env


def start(command: list[str], home: Path, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    """Start the user data as the leader of a new process group: (process, its start time)."""
    process = subprocess.Popen(
        command,
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    return process, psutil.Process(process.pid).create_time()


def pump_console(process: subprocess.Popen, console: IO[bytes], sink: ConsoleSink) -> None:
    """Copy output to the console file as it comes, and to `sink` in batches, until the output ends."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    partial, pending, flushed = b"", [], time.monotonic()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.25)
        chunk = os.read(fd, 65536) if ready else None
        if chunk == b"":
            break
        if chunk:
            console.write(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            now = int(time.time() * 1000)
            pending += [(now, line.decode(errors="replace")) for line in lines]
        if pending and (not ready or len(pending) >= 1000 or time.monotonic() - flushed > 0.5):
            sink(pending)
            pending, flushed = [], time.monotonic()
    if partial:
        pending.append((int(time.time() * 1000), partial.decode(errors="replace")))
    if pending:
        sink(pending)


def shut_down(process: subprocess.Popen) -> None:
    """What an OS shutdown does to the user data: SIGTERM to the group, SIGKILL after a grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def kill_now(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def kill_leftover(pid: int | None, started: float | None) -> None:
    """Kill what is left of an instance's process group after localcloud died.

    The user data's shell dies with localcloud, its children do not. While any of them
    lives, the kernel does not hand the group's id to a new process; a leader with that
    pid and another start time means the group is gone and the pid was reused.
    """
    if pid is None:
        return
    try:
        reused = abs(psutil.Process(pid).create_time() - (started or 0)) >= 1
    except psutil.NoSuchProcess:
        reused = False
    if not reused:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
