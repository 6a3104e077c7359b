"""One endpoint instance: the SageMaker inference-toolkit contract in a process.

Serves `GET /ping` and `POST /invocations`, loading the handler module from `<model_dir>/code/`
(model_fn / input_fn / predict_fn / output_fn) exactly as the SageMaker framework containers do,
so a model.tar.gz that works here deploys unchanged on AWS. Started by localcloud/sagemaker/fleet.py;
prints `LISTENING <socket>` once the model is loaded.

Like the toolkit's model server, it runs at most SAGEMAKER_MODEL_SERVER_WORKERS invocations at once (default:
the cores the instance holds, as the toolkit defaults to the instance's vCPUs); more wait their turn, in the
order they came (`Turns`). Letting every request run at once only made them share the cores, and their
latencies spread (p99 over p50).

It listens on a Unix domain socket that fleet.py names, not on a loopback port: a model with
EnableNetworkIsolation runs in a network namespace of its own with no network at all
(core/process.py `without_network`), where a port could not be reached from localcloud, while a
socket file can, from any namespace. Serving stays reachable; nothing else goes in or out.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingUnixStreamServer
from types import ModuleType
from typing import Any


def _default_input_fn(body: bytes, content_type: str) -> Any:
    if content_type == "application/json":
        return json.loads(body)
    return body


def _default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return json.dumps(prediction).encode(), "application/json"


class Handlers:
    """The user module's functions, with the toolkit's defaults where it has none."""

    def __init__(self, module: ModuleType, model_dir: str) -> None:
        self.input_fn = getattr(module, "input_fn", _default_input_fn)
        self.predict_fn = getattr(module, "predict_fn", lambda data, model: model(data))
        self.output_fn = getattr(module, "output_fn", _default_output_fn)
        self.model = module.model_fn(model_dir)

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        data = self.input_fn(body, content_type)
        prediction = self.predict_fn(data, self.model)
        result = self.output_fn(prediction, accept)
        if isinstance(result, tuple):
            payload, produced = result
        else:
            payload, produced = result, accept
        return (payload.encode() if isinstance(payload, str) else payload), produced


def load_handlers(model_dir: str) -> Handlers:
    code_dir = os.path.join(model_dir, "code")
    sys.path.insert(0, code_dir)
    program = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    module = importlib.import_module(program.removesuffix(".py"))
    return Handlers(module, model_dir)


def model_server_workers(environ: Mapping[str, str] = os.environ) -> int:
    """SAGEMAKER_MODEL_SERVER_WORKERS if set to a positive number, else the cores this process may run on."""
    value = environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "")
    return int(value) if value.isdigit() and int(value) > 0 else len(os.sched_getaffinity(0))


class Turns:
    """At most `workers` holders at once, the others served first come, first served: a finishing holder hands
    its place straight to the longest waiter. A semaphore lets a request that just arrived take a freed place
    ahead of one that has waited, which is what stretches a queue's slowest answers."""

    def __init__(self, workers: int) -> None:
        self._lock = threading.Lock()
        self._free = workers
        self._waiting: deque[threading.Lock] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append(gate)
        gate.acquire()  # released by the holder that hands its place over

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1


def make_server(handlers: Handlers, socket_path: str, workers: int) -> ThreadingUnixStreamServer:
    turns = Turns(workers)

    class InvocationHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            head = (
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            self.wfile.write(head + body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._reply(200, b"", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != "/invocations":
                self._reply(404, b"not found", "text/plain")
                return
            content_type = self.headers.get("Content-Type") or "application/octet-stream"
            accept = self.headers.get("Accept") or "application/json"
            try:
                with turns:
                    payload, produced = handlers.invoke(body, content_type.split(";")[0].strip(), accept)
            except ValueError as exc:  # the handler's verdict on bad input: a client error
                self._reply(400, str(exc).encode(), "text/plain")
            except Exception as exc:
                traceback.print_exc()
                self._reply(500, f"{type(exc).__name__}: {exc}".encode(), "text/plain")
            else:
                self._reply(200, payload, produced)

    server = ThreadingUnixStreamServer(socket_path, InvocationHandler)
    server.daemon_threads = True
    return server


def _exit_with_parent(parent: int) -> None:
    """An instance never outlives localcloud, even when localcloud is killed outright."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--socket", required=True, help="path of the Unix domain socket to serve on")
    args = parser.parse_args()
    handlers = load_handlers(args.model_dir)
    server = make_server(handlers, args.socket, model_server_workers())
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    print(f"LISTENING {args.socket}", flush=True)
    os.dup2(2, 1)  # from here on, anything printed goes to the instance log
    program = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    print(f"Model loaded from {args.model_dir} with code/{program}; serving /ping and /invocations", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
