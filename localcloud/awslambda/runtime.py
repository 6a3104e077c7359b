"""A Lambda execution environment: one process that imports the handler once (the cold
start) and then runs invocations one at a time (warm reuse), as AWS's Python runtime does.

Speaks JSON lines with localcloud on its original stdout; whatever the handler prints is
captured per invocation for `LogType=Tail` and appended to the function's log file.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The `context` argument, with the attributes AWS's Python runtime provides."""

    def __init__(self, request_id: str, deadline: float, invoked_arn: str) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = invoked_arn  # the ARN the caller named: with its alias or version, if any
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.aws_request_id = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class _Tee(io.TextIOBase):
    """Collects one invocation's output and passes it on to the function's log."""

    def __init__(self, log: Any) -> None:
        self.buffer_text = io.StringIO()
        self._log = log

    def write(self, text: str) -> int:
        self.buffer_text.write(text)
        self._log.write(text)
        return len(text)

    def flush(self) -> None:
        self._log.flush()


def _max_memory_mb() -> int:
    """Peak resident memory of this environment (VmHWM; ru_maxrss would count the forking parent)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    channel = os.fdopen(os.dup(1), "w", buffering=1)  # protocol to localcloud
    os.dup2(2, 1)  # fd 1 now goes to the function's log file, like fd 2
    log = sys.stderr
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        channel.write(
            json.dumps(
                {
                    "init_error": {
                        "errorMessage": f"Unable to import module '{module_name}': {exc}",
                        "errorType": "Runtime.ImportModuleError",
                    },
                }
            )
            + "\n"
        )
        return
    channel.write(json.dumps({"ready": True, "init_ms": (time.perf_counter() - started) * 1000}) + "\n")

    for line in sys.stdin.buffer:  # bytes: the event is the caller's UTF-8 JSON as sent
        request = json.loads(line)
        tee = _Tee(log)
        sys.stdout = sys.stderr = tee
        started = time.perf_counter()
        reply: dict[str, Any] = {}
        try:
            result = handler(request["event"], Context(request["id"], request["deadline"], request["arn"]))
            reply["result"] = json.dumps(result)
        except Exception as exc:
            traceback.print_exc()
            reply["error"] = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
        finally:
            sys.stdout = sys.stderr = log
        reply.update(
            duration_ms=(time.perf_counter() - started) * 1000,
            max_memory_mb=_max_memory_mb(),
            logs=tee.buffer_text.getvalue(),
        )
        channel.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
