"""One Lambda execution environment: a process that imports the handler once (its init) and then
serves invocations one at a time, spoken to in JSON lines (see `localcloud.awslambda.runtime`)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
ON_DEMAND, PROVISIONED = "on-demand", "provisioned-concurrency"
RENEW_BEFORE_S = 300.0


class Environment:
    """One execution environment process of one function version."""

    def __init__(
        self,
        config: dict[str, Any],
        log_path: Path,
        cloud_env: dict[str, str],
        generation: int,
        *,
        initialization_type: str = ON_DEMAND,
        credentials_expire: float | None = None,
    ) -> None:
        self.generation = generation
        self.credentials_expire = credentials_expire
        self.idle_since = time.monotonic()  # when it last finished an invocation (pool.py reaps the long idle)
        self.version = config["Version"]
        self.initialization_type = initialization_type
        # Each environment writes its own stream of the function's log group, as on AWS.
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[{self.version}]{uuid.uuid4().hex}"
        code_dir = Path(config["code_dir"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALCLOUD_"))}
        env.update((config.get("Environment") or {}).get("Variables") or {})
        region = config["FunctionArn"].split(":")[3]
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
                "AWS_LAMBDA_FUNCTION_VERSION": self.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                # AWS sets it before init, so module-level code can tell a provisioned start from a cold one.
                "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                # The endpoint, and the execution role's temporary credentials the handler's own AWS calls
                # sign with (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
                **cloud_env,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "_HANDLER": config["Handler"],
                "PYTHONPATH": str(_PROJECT_ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localcloud.awslambda.runtime"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=code_dir,
            )
        _widen_pipe(self.process.stdin)
        self._replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        threading.Thread(target=self._read_replies, daemon=True).start()
        self.init_ms: float | None = None

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(json.loads(line))
        self._replies.put(None)  # the process exited

    def _reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty as exc:
            raise TimeoutError from exc

    def start(self, timeout: float) -> dict[str, Any] | None:
        """Wait for the handler import; returns an init error, if any."""
        reply = self._reply(timeout)
        if reply is None:
            return {"errorMessage": "Runtime exited during init", "errorType": "Runtime.ExitError"}
        if "init_error" in reply:
            return reply["init_error"]
        self.init_ms = reply["init_ms"]
        return None

    def invoke(self, event_json: bytes, request_id: str, invoked_arn: str, timeout: float) -> dict[str, Any] | None:
        """Send one event (the caller's UTF-8 JSON, already checked to parse) and wait for the reply.

        The event travels as sent rather than decoded and encoded again (re-encoding a photo's base64 costs
        about 0.2 ms). JSON allows a raw line break only between tokens, so a space in its place keeps the
        meaning and the request on one line."""
        assert self.process.stdin is not None
        head = json.dumps({"id": request_id, "deadline": time.time() + timeout, "arn": invoked_arn})[:-1].encode()
        self.process.stdin.write(head + b', "event": ' + event_json.replace(b"\n", b" ") + b"}\n")
        self.process.stdin.flush()
        return self._reply(timeout)

    @property
    def alive(self) -> bool:
        """Running, with role credentials that do not run out within RENEW_BEFORE_S: an environment
        whose credentials are about to expire is replaced by one with fresh ones."""
        if self.credentials_expire is not None and time.time() > self.credentials_expire - RENEW_BEFORE_S:
            return False
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait()


def _widen_pipe(pipe: Any) -> None:
    """Let a photo's event into the environment in one write: through a default 64 KB pipe a 140 KB event
    takes three wake-ups of each side. 1 MB is Linux's ceiling for unprivileged processes; where the
    ceiling is lower, the pipe keeps its size."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
