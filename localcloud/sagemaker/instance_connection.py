"""Keep-alive HTTP/1.1 to an endpoint instance's Unix domain socket (localcloud/sagemaker/model_server.py), lean:
what a request costs localcloud between the caller and the model is kept small."""

from __future__ import annotations

import socket


class Connection:
    """One keep-alive HTTP/1.1 connection to an instance's Unix domain socket.

    The request goes out in one write (http.client writes the head and the body apart: two wake-ups of the
    instance) and the answer is read by its Content-Length without the email parser http.client parses
    headers with: what a request costs localcloud between the caller and the model, kept small."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except OSError:
            sock.close()
            raise
        self.sock, self.reader = sock, sock.makefile("rb")
        self.reusable = True

    def exchange(self, body: bytes, content_type: str, accept: str) -> tuple[int, str, bytes]:
        """(status, Content-Type, body) of the instance's answer to POST /invocations."""
        head = (
            f"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: {_one_line(content_type)}\r\n"
            f"Accept: {_one_line(accept)}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1", "replace")
        self.sock.sendall(head + body)
        status_line = self.reader.readline(_MAX_LINE)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():  # b"" when the instance closed the connection
            raise ConnectionError(f"the instance answered {status_line[:80]!r}")
        headers = {}
        while (line := self.reader.readline(_MAX_LINE)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length")
        if length is None or headers.get("connection", "").lower() == "close":
            self.reusable = False
        content = self.reader.read(int(length)) if length is not None else self.reader.read()
        if length is not None and len(content) < int(length):
            raise ConnectionError("the instance closed the connection in the middle of its answer")
        return int(parts[1]), headers.get("content-type", "application/octet-stream"), content

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


_MAX_LINE = 65536


def _one_line(value: str) -> str:
    """A header value as one line (a caller's folded header must not become a second header)."""
    return value.replace("\r", " ").replace("\n", " ")
