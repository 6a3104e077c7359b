"""The HTTP transport: one loopback port; bytes in, a `Request` to the cloud, bytes out.

It guards the door before any service sees a request: a head must arrive whole within
`read_timeout` (a client dripping its headers a byte a second is cut off), headers are
capped in total size, a body must match its Content-Length, and nothing a client sends can
take the server down. What it holds is bounded, and a refusal comes in the words of the
service the request was signed for (the cloud's `refuse`), before the body is read:

- a body longer than the operation accepts on AWS (the cloud's `body_limit`: S3's 5 GiB single
  PUT, Lambda's 6 MB invocation, ...) is refused on its Content-Length alone; a client that
  sent `Expect: 100-continue` is never told to send it;
- bodies held in memory at once are capped (`max_buffered_bytes`; one body alone always fits),
  and connections served at once too (`max_connections`, each a thread): beyond either, the
  service's throttling answer (S3's 503 SlowDown, ThrottlingException, Lambda's 429 ...), which
  SDKs retry with backoff. Past the cap, a few more connections are read far enough to be told
  so; any beyond those are closed at once.

A refused connection is closed, after reading and dropping (briefly) what the client still sends,
so that it reads the answer instead of a connection reset.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol

from localcloud.core.codecs.limits import BodyLimit
from localcloud.core.log import log
from localcloud.core.protocol import Request, Response

MAX_HEADER_BYTES = 32 * 1024  # all header lines together; AWS refuses far less (S3: 8 KB)
IDLE_TIMEOUT = 60.0  # a kept-alive connection may wait this long for its next request
MIN_BODY_RATE = 1024 * 1024  # bytes a second a body must at least arrive at, after read_timeout
# Connections served at once. Kept-alive ones count until they close: the dashboard's clients (10 each
# at most), every Lambda environment's and training job's SDK, a load test's callers stay far below it.
MAX_CONNECTIONS = 256
OVERFLOW_CONNECTIONS = 16  # past the cap: connections read only far enough to be answered "slow down"
MAX_BUFFERED_BYTES = 1024**3  # request bodies held at once, all connections together
LINGER_SECONDS = 2.0  # how long a refused client may go on sending before its connection is closed


class Cloud(Protocol):
    """What the server hands a request to: localcloud.cloud.LocalCloud, given to `CloudServer.cloud` once the
    port it listens on (which the cloud needs for its endpoint URL) is known."""

    def handle(self, request: Request) -> Response: ...

    def refuse(self, request: Request, reason: str, detail: str = "") -> Response:
        """A refusal at the door, in the protocol of the service the request meant."""

    def body_limit(self, request: Request) -> BodyLimit:
        """What AWS accepts in this request's body, known from its head."""


class Budget:
    """Bytes of request bodies held in memory at once, all connections together."""

    def __init__(self, total: int) -> None:
        self.total, self.used = total, 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve `size` bytes; False when they do not fit beside the bodies already held (a body
        alone always fits: no request AWS accepts is refused for good; no body always fits)."""
        with self._lock:
            if size and self.used and self.used + size > self.total:
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.used -= size


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
    over_capacity = False  # a connection past the server's cap: each request on it is answered "slow down"
    request_id = ""

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

    def handle_expect_100(self) -> bool:
        """Hold back the 100 Continue until the body is admitted (`_read_body`): a client refused on its
        head never sends the body at all."""
        return True

    def _serve(self) -> None:
        self.request_id = f"{time.time_ns():x}"
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, headers, b"")
        refusal = self._admission(request)
        if refusal is not None:
            self.server.watchdog.disarm(self)
            self._refuse(request, *refusal, body_unread=True)
            return
        length = int(request.headers.get("content-length") or 0)
        try:
            refusal = self._read_body(request, length)
            self.server.watchdog.disarm(self)
            if refusal is not None:
                self._refuse(request, *refusal, body_unread=False)
                return
            self._send(self.server.cloud.handle(request))
        finally:
            self.server.buffered.give(length)

    def _admission(self, request: Request) -> tuple[str, str] | None:
        """A (reason, detail) refusal from the head alone; None once the body's bytes are reserved."""
        if self.over_capacity:
            return self.server.overloaded(f"it serves {self.server.max_connections} connections at once")
        if "transfer-encoding" in request.headers:
            return "bad_request", "localcloud needs a Content-Length; Transfer-Encoding is not supported."
        text = request.headers.get("content-length") or "0"
        if not text.isdigit():
            return "bad_request", f"Content-Length must be a number of bytes, not {text[:32]!r}."
        length = int(text)
        if length:
            limit = self.server.cloud.body_limit(request)
            if length > limit.max_bytes:
                return "too_large", limit.detail(length, self.request_id)
        if not self.server.buffered.take(length):
            return self.server.overloaded(f"it holds at most {self.server.buffered.total} bytes of bodies at once")
        return None

    def _refuse(self, request: Request, reason: str, detail: str, *, body_unread: bool) -> None:
        self.close_connection = True
        self._send(self.server.cloud.refuse(request, reason, detail))
        if body_unread:
            self._linger()

    def _linger(self) -> None:
        """Drop what the client still sends, for a moment, before the connection closes: closing a socket
        with unread bytes resets it, and a client still sending would see the reset, not the answer."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            while time.monotonic() < deadline and self.connection.recv(1 << 16):
                pass

    def _read_body(self, request: Request, length: int) -> tuple[str, str] | None:
        """Read exactly `length` (Content-Length) bytes into the request; a (reason, detail) refusal if not."""
        if not length:
            return None
        if (request.header("expect") or "").lower() == "100-continue":
            super().handle_expect_100()
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
        head.append(f"x-amzn-RequestId: {self.request_id}")
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


class _OverCapacityHandler(_Handler):
    over_capacity = True


class CloudServer(HTTPServer):
    """Binds 127.0.0.1 only: localcloud is never reachable from another machine.

    Each connection is served on a thread of its own, `max_connections` at most at once (see the
    module's docstring for what happens past them).
    """

    request_queue_size = 128  # connections the kernel holds until they are accepted
    cloud: Cloud

    def __init__(
        self,
        port: int,
        *,
        read_timeout: float = 20.0,
        max_connections: int = MAX_CONNECTIONS,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.watchdog = Watchdog()
        self.buffered = Budget(max_buffered_bytes)
        self._serving = threading.BoundedSemaphore(max_connections)
        self._turning_away = threading.BoundedSemaphore(OVERFLOW_CONNECTIONS)
        self._last_overload_note = 0.0

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a thread of its own while there is room; past the cap, on one that
        answers throttling; past those too, close it at once."""
        if self._serving.acquire(blocking=False):
            slots, handler = self._serving, _Handler
        elif self._turning_away.acquire(blocking=False):
            slots, handler = self._turning_away, _OverCapacityHandler
        else:
            self.shutdown_request(request)
            return
        threading.Thread(
            target=self._serve_connection, args=(request, client_address, handler, slots), daemon=True
        ).start()

    def overloaded(self, why: str) -> tuple[str, str]:
        """The refusal that tells a client to slow down; the log says so, once a minute at most."""
        now = time.monotonic()
        if now - self._last_overload_note > 60:
            self._last_overload_note = now
            log(f"answering throttling: {why} (clients retry; raise the limit if this is normal use)")
        return "throttled", f"localcloud is at its limit: {why}."

    def _serve_connection(
        self, request: Any, client_address: Any, handler: type[_Handler], slots: threading.BoundedSemaphore
    ) -> None:
        try:
            handler(request, client_address, self)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            slots.release()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that breaks is the client's business: one line, and serve on."""
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            log(f"error serving a request: {type(error).__name__}: {error}")
