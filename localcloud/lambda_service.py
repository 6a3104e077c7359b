"""Lambda functions and their execution environments.

An invocation takes an idle environment of the function (warm) or starts a new one (cold
start, reported as Init Duration), up to the concurrency limit; beyond it the call is
throttled with TooManyRequestsException, as on AWS. Changing code or configuration retires
the environments, so the next invocation is cold again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from localcloud.keys import AccessKey, client_env
from localcloud.protocol import ACCOUNT_ID, AwsError
from localcloud.registry import Call, Service
from localcloud.s3 import S3
from localcloud.state import Store

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6 MB for synchronous Invoke, request and response
LOG_TAIL_BYTES = 4096


def _not_found(name: str, region: str) -> AwsError:
    return AwsError(
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}",
        404,
    )


def function_name(value: str) -> str:
    """Accept a name, a partial ARN or a full ARN (optionally qualified), as AWS does."""
    if ":function:" in value:
        value = value.split(":function:", 1)[1]
    elif value.count(":") == 2:  # 123456789012:function:name
        value = value.split(":")[-1]
    return value.split(":")[0]


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _extract_zip(data: bytes, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise AwsError(
            "InvalidParameterValueException",
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
            400,
        ) from exc
    root = target.resolve()
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if not destination.is_relative_to(root):
            raise AwsError(
                "InvalidParameterValueException", f"Zip entry {member.filename!r} points outside the package.", 400
            )
    archive.extractall(target)


class Environment:
    """One execution environment process."""

    def __init__(
        self, config: dict[str, Any], code_dir: Path, log_path: Path, cloud_env: dict[str, str], generation: int
    ) -> None:
        self.generation = generation
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALCLOUD_"))}
        env.update((config.get("Environment") or {}).get("Variables") or {})
        region = config["FunctionArn"].split(":")[3]
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
                "LOCALCLOUD_FUNCTION_ARN": config["FunctionArn"],
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                # The endpoint and the credentials the handler's own AWS calls sign with.
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
                [sys.executable, "-m", "localcloud.lambda_runtime"],
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

    def invoke(self, event_json: bytes, request_id: str, timeout: float) -> dict[str, Any] | None:
        """Send one event (the caller's UTF-8 JSON, already checked to parse) and wait for the reply.

        The event travels as sent rather than decoded and encoded again (re-encoding a photo's base64 costs
        about 0.2 ms). JSON allows a raw line break only between tokens, so a space in its place keeps the
        meaning and the request on one line."""
        assert self.process.stdin is not None
        head = json.dumps({"id": request_id, "deadline": time.time() + timeout})[:-1].encode()
        self.process.stdin.write(head + b', "event": ' + event_json.replace(b"\n", b" ") + b"}\n")
        self.process.stdin.flush()
        return self._reply(timeout)

    @property
    def alive(self) -> bool:
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


class FunctionPool:
    """Execution environments of one function: idle ones for reuse, a count of busy ones."""

    def __init__(self) -> None:
        self.idle: list[Environment] = []
        self.busy = 0
        self.generation = 0
        self.lock = threading.Lock()

    def retire(self) -> None:
        with self.lock:
            self.generation += 1
            idle, self.idle = self.idle, []
        for env in idle:
            env.stop()


class Lambda(Service):
    model_name = "lambda"
    iam_actions = {"Invoke": "InvokeFunction"}

    def resource_arns(self, operation: str, params: dict[str, Any], call: Call) -> list[str]:
        if "FunctionName" not in params:
            return ["*"]
        arn = f"arn:aws:lambda:{call.region}:{call.identity.account}:function:{function_name(params['FunctionName'])}"
        return [f"{arn}:{params['Qualifier']}" if params.get("Qualifier") else arn]

    def __init__(self, store: Store, s3: S3, endpoint_url: str, root_key: AccessKey, concurrency_limit: int) -> None:
        self.store = store
        self.s3 = s3
        self.endpoint_url = endpoint_url
        self.cloud_env = client_env(endpoint_url, root_key)
        self.concurrency_limit = concurrency_limit
        self.code_root = store.data_dir / "lambda"
        self.log_dir = store.data_dir / "logs" / "lambda"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    # functions ------------------------------------------------------------------
    def _function(self, name: str, region: str) -> dict[str, Any]:
        record = self.store.get("function", function_name(name))
        if record is None:
            raise _not_found(function_name(name), region)
        return record

    def _code_bytes(self, code: dict[str, Any]) -> bytes:
        if "ZipFile" in code:
            return code["ZipFile"]
        if "S3Bucket" in code and "S3Key" in code:
            try:
                return self.s3.object_path(code["S3Bucket"], code["S3Key"]).read_bytes()
            except AwsError as exc:
                raise AwsError(
                    "InvalidParameterValueException",
                    f"Error occurred while GetObject. S3 Error Code: NoSuchKey. {exc.message}",
                ) from exc
        raise AwsError("InvalidParameterValueException", "Please provide a source for function code.", 400)

    def _install_code(self, name: str, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).digest()
        target = self.code_root / name / digest.hex()[:16]
        if not target.exists():
            tmp = target.with_name(target.name + f".tmp-{uuid.uuid4().hex}")
            tmp.mkdir(parents=True)
            _extract_zip(data, tmp)
            tmp.rename(target)
        return {"CodeSha256": base64.b64encode(digest).decode(), "CodeSize": len(data), "code_dir": str(target)}

    def op_CreateFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["FunctionName"]
        if self.store.get("function", name) is not None:
            raise AwsError("ResourceConflictException", f"Function already exist: {name}", 409)
        if not p.get("Runtime", "").startswith("python3"):
            raise AwsError(
                "InvalidParameterValueException",
                f"The runtime parameter of {p.get('Runtime')} is not supported by localcloud; use a python3.x runtime.",
                400,
            )
        code = self._install_code(name, self._code_bytes(p["Code"]))
        record = {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:{call.region}:{ACCOUNT_ID}:function:{name}",
            "Runtime": p["Runtime"],
            "Role": p["Role"],
            "Handler": p.get("Handler", "lambda_function.lambda_handler"),
            "Description": p.get("Description", ""),
            "Timeout": p.get("Timeout", 3),
            "MemorySize": p.get("MemorySize", 128),
            "LastModified": _timestamp(),
            "Version": "$LATEST",
            "Environment": {"Variables": (p.get("Environment") or {}).get("Variables", {})},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": p.get("Architectures", ["x86_64"]),
            **code,
        }
        if not self.store.insert("function", name, record):
            raise AwsError("ResourceConflictException", f"Function already exist: {name}", 409)
        return self._configuration(record)

    @staticmethod
    def _configuration(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "code_dir"}

    def op_GetFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        return {
            "Configuration": self._configuration(record),
            "Code": {
                "RepositoryType": "S3",
                "Location": f"{self.endpoint_url}/_localcloud/lambda-code/{record['FunctionName']}",
            },
        }

    def op_GetFunctionConfiguration(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._configuration(self._function(p["FunctionName"], call.region))

    def op_ListFunctions(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        functions = [self._configuration(f) for f in self.store.all("function")]
        start = int(p.get("Marker") or 0)
        size = p.get("MaxItems", 50)
        result: dict[str, Any] = {"Functions": functions[start : start + size]}
        if start + size < len(functions):
            result["NextMarker"] = str(start + size)
        return result

    def op_UpdateFunctionCode(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        code = self._install_code(record["FunctionName"], self._code_bytes(p))
        record = self.store.update("function", record["FunctionName"], LastModified=_timestamp(), **code)
        self._pool(record["FunctionName"]).retire()
        return self._configuration(record)

    def op_UpdateFunctionConfiguration(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        changes = {k: p[k] for k in ("Handler", "Timeout", "MemorySize", "Description", "Runtime", "Role") if k in p}
        if "Environment" in p:
            changes["Environment"] = {"Variables": p["Environment"].get("Variables", {})}
        record = self.store.update("function", record["FunctionName"], LastModified=_timestamp(), **changes)
        self._pool(record["FunctionName"]).retire()
        return self._configuration(record)

    def op_DeleteFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        self._pool(record["FunctionName"]).retire()
        self.store.delete("function", record["FunctionName"])
        return {}

    # invocation -----------------------------------------------------------------
    def _pool(self, name: str) -> FunctionPool:
        with self._lock:
            return self.pools.setdefault(name, FunctionPool())

    def _in_flight(self) -> int:
        with self._lock:
            pools = list(self.pools.values())
        return sum(pool.busy for pool in pools)

    def op_Invoke(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        payload: bytes = p.get("Payload") or b"{}"
        if len(payload) > MAX_SYNC_PAYLOAD_BYTES:
            raise AwsError(
                "RequestTooLargeException",
                f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
                413,
            )
        try:
            json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AwsError(
                "InvalidRequestContentException", f"Could not parse request body into json: {exc}", 400
            ) from exc
        invocation_type = p.get("InvocationType", "RequestResponse")
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event":
            threading.Thread(target=self._run, args=(record, payload), daemon=True).start()
            return {"StatusCode": 202}
        outcome = self._run(record, payload)
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": outcome["payload"],
            "FunctionError": outcome.get("function_error"),
        }
        if p.get("LogType") == "Tail":
            tail = outcome["log"].encode()[-LOG_TAIL_BYTES:]
            response["LogResult"] = base64.b64encode(tail).decode()
        return response

    def _acquire(self, record: dict[str, Any]) -> tuple[Environment | None, FunctionPool, int]:
        pool = self._pool(record["FunctionName"])
        with pool.lock:
            while pool.idle:
                env = pool.idle.pop()
                if env.alive:
                    pool.busy += 1
                    return env, pool, pool.generation
                env.stop()
            if self._in_flight() >= self.concurrency_limit:
                raise AwsError(
                    "TooManyRequestsException", "Rate Exceeded.", 429, Reason="ConcurrentInvocationLimitExceeded"
                )
            pool.busy += 1
            return None, pool, pool.generation

    def _release(self, pool: FunctionPool, env: Environment | None, generation: int) -> None:
        with pool.lock:
            pool.busy -= 1
            if env is not None and env.alive and generation == pool.generation:
                pool.idle.append(env)
                return
        if env is not None:
            env.stop()

    def _run(self, record: dict[str, Any], event_json: bytes) -> dict[str, Any]:
        """Run one invocation; returns the payload, function error and log text."""
        request_id = str(uuid.uuid4())
        env, pool, generation = self._acquire(record)
        timeout = float(record["Timeout"])
        init_ms: float | None = None
        lines = [f"START RequestId: {request_id} Version: $LATEST\n"]
        started = time.perf_counter()
        reply: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        try:
            if env is None:
                env = Environment(
                    record,
                    Path(record["code_dir"]),
                    self.log_dir / f"{record['FunctionName']}.log",
                    self.cloud_env,
                    generation,
                )
                error = env.start(timeout=max(timeout, 10.0))
                init_ms = env.init_ms
            if error is None:
                reply = env.invoke(event_json, request_id, timeout)
                if reply is None:
                    error = {
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                        f"exit status {env.process.wait(timeout=10)}",
                        "errorType": "Runtime.ExitError",
                    }
        except TimeoutError:
            elapsed = time.perf_counter() - started
            error = {"errorMessage": f"{_timestamp()} {request_id} Task timed out after {elapsed:.2f} seconds"}
            if env is not None:
                env.stop()
        finally:
            self._release(pool, env, generation)
        duration = reply["duration_ms"] if reply else (time.perf_counter() - started) * 1000
        if reply:
            lines.append(reply["logs"])
            error = reply.get("error")
        payload = json.dumps(error).encode() if error else reply["result"].encode()
        if len(payload) > MAX_SYNC_PAYLOAD_BYTES:
            error = {
                "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed "
                f"payload size ({MAX_SYNC_PAYLOAD_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            payload = json.dumps(error).encode()
        memory = reply["max_memory_mb"] if reply else 0
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: "
            f"{math.ceil(duration + (init_ms or 0))} ms\tMemory Size: {record['MemorySize']} MB\t"
            f"Max Memory Used: {memory} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        lines += [f"END RequestId: {request_id}\n", report + "\n"]
        log = "".join(lines)
        with open(self.log_dir / f"{record['FunctionName']}.log", "a") as f:
            f.write(log)
        return {"payload": payload, "function_error": "Unhandled" if error else None, "log": log}

    def stop_all(self) -> None:
        with self._lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.retire()

    def environment_pids(self) -> dict[str, list[int]]:
        with self._lock:
            pools = dict(self.pools)
        return {name: [env.process.pid for env in pool.idle if env.alive] for name, pool in pools.items()}
