"""The HTTP transport: one loopback port; bytes in, a `Request` to the cloud, bytes out.

It guards the door before any service sees a request: a head must arrive whole within
`read_timeout` (a client dripping its headers a byte a second is cut off), headers are
capped in total size, a body must match its Content-Length and stay under the size cap,
and nothing a client sends can take the server down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from localcloud.core.log import log
from localcloud.core.protocol import Request, Response

MAX_BODY_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 32 * 1024  # all header lines together; AWS refuses far less (S3: 8 KB)
IDLE_TIMEOUT = 60.0  # a kept-alive connection may wait this long for its next request
MIN_BODY_RATE = 1024 * 1024  # bytes a second a body must at least arrive at, after read_timeout


class Cloud(Protocol):
    """What the server hands a request to: localcloud.cloud.LocalCloud, given to `CloudServer.cloud` once the
    port it listens on (which the cloud needs for its endpoint URL) is known."""

    def handle(self, request: Request) -> Response: ...

    def refuse(self, request: Request, reason: str, detail: str = "") -> Response:
        """A refusal at the door, in the protocol of the service the request meant."""


class Watchdog:
    """Cuts the read side of connections whose deadline passed (one thread for all of them)."""

    def __init__(self) -> None:
        self._deadlines: dict[_Handler, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="localcloud-watchdog", daemon=True).start()

    def arm(self, handler: _Handler, seconds: float) -> None:
        with self._lock:
            self._deadlines[handler] = time.monotonic() + seconds

    def disarm(self, handler: _Handler) -> None:
        with self._lock:
            self._deadlines.pop(handler, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                late = [h for h, deadline in self._deadlines.items() if deadline <= now]
                for handler in late:
                    del self._deadlines[handler]
            for handler in late:
                handler.cut_off()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CloudServer
    timeout = IDLE_TIMEOUT
    timed_out = False

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # request lines would leak nothing secret, but they drown the log

    def cut_off(self) -> None:
        """Stop reading from a client that is too slow; we can still answer it."""
        self.timed_out = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RD)

    def handle_one_request(self) -> None:
        self.server.watchdog.arm(self, IDLE_TIMEOUT)
        try:
            super().handle_one_request()
        finally:
            self.server.watchdog.disarm(self)

    def parse_request(self) -> bool:
        self.server.watchdog.arm(self, self.server.read_timeout)  # the request line is in: now the headers
        if not super().parse_request():
            return False
        if self.timed_out:
            self.send_error(408, "Request Timeout", "The request's headers did not arrive in time.")
            return False
        size = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if size > MAX_HEADER_BYTES:
            self.send_error(431, "Request Header Fields Too Large", f"Headers may total {MAX_HEADER_BYTES} bytes.")
            return False
        return True

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, headers, b"")
        refusal = self._read_body(request)
        self.server.watchdog.disarm(self)
        if refusal is not None:
            self.close_connection = True
            self._send(self.server.cloud.refuse(request, *refusal))
            return
        self._send(self.server.cloud.handle(request))

    def _read_body(self, request: Request) -> tuple[str, str] | None:
        """Read exactly Content-Length bytes into the request; a (reason, detail) refusal if not."""
        if "transfer-encoding" in request.headers:
            return "bad_request", "localcloud needs a Content-Length; Transfer-Encoding is not supported."
        text = request.headers.get("content-length") or "0"
        if not text.isdigit():
            return "bad_request", f"Content-Length must be a number of bytes, not {text[:32]!r}."
        length = int(text)
        if length > MAX_BODY_BYTES:
            return "too_large", f"The body is {length} bytes; localcloud accepts up to {MAX_BODY_BYTES}."
        if not length:
            return None
        self.server.watchdog.arm(self, self.server.read_timeout + length / MIN_BODY_RATE)
        chunks, received = [], 0
        while received < length:
            try:
                chunk = self.rfile.read1(min(length - received, 1 << 20))
            except OSError:
                chunk = b""
            if not chunk:
                if self.timed_out:
                    return "timeout", "The request body did not arrive in time."
                return "incomplete_body", f"The body ended after {received} of {length} bytes (Content-Length)."
            chunks.append(chunk)
            received += len(chunk)
        request.body = b"".join(chunks)
        return None

    def _send(self, response: Response) -> None:
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        head.append(f"x-amzn-RequestId: {time.time_ns():x}")
        if "Content-Length" not in response.headers:
            head.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode()
        try:
            self.wfile.write(data if self.command == "HEAD" else data + response.body)
        except OSError:
            self.close_connection = True  # the client went away; nothing to tell it

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve


class CloudServer(ThreadingHTTPServer):
    """Binds 127.0.0.1 only: localcloud is never reachable from another machine."""

    daemon_threads = True
    cloud: Cloud

    def __init__(self, port: int, *, read_timeout: float = 20.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.read_timeout = read_timeout
        self.watchdog = Watchdog()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that breaks is the client's business: one line, and serve on."""
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            log(f"error serving a request: {type(error).__name__}: {error}")
