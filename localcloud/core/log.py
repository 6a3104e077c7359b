"""localcloud's own log: one timestamped line on stderr per event (the server, the CLI and the wiring write it);
its own module so that the server can log without knowing the cloud it serves."""

from __future__ import annotations

import sys
import threading
import time

_log_lock = threading.Lock()


def log(message: str) -> None:
    with _log_lock:
        print(f"{time.strftime('%H:%M:%S')} localcloud: {message}", file=sys.stderr, flush=True)
