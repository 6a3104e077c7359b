import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from classifier.serving import fetch
from classifier.serving.fetch import FetchError, check_public_address, fetch_image


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/x", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/x", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8080/x", "::1 is a loopback address"),
        ("http://localhost/x", "is a loopback address"),
        ("http://0.0.0.0/x", "0.0.0.0 is a unspecified address"),
        ("http://[::ffff:10.1.2.3]/x", "::ffff:10.1.2.3 is a private address"),
    ],
)
def test_refuses_non_public_addresses(url: str, reason: str) -> None:
    with pytest.raises(FetchError, match=f"Refusing to fetch {re.escape(url)}: .*{re.escape(reason)}"):
        fetch_image(url)


def test_refuses_other_schemes() -> None:
    with pytest.raises(FetchError, match="Refusing to fetch file:///etc/passwd: only http and https"):
        fetch_image("file:///etc/passwd")


def test_public_addresses_pass_the_check() -> None:
    check_public_address("93.184.215.14")
    check_public_address("2606:4700:4700::1111")
    with pytest.raises(ValueError, match="224.0.0.1 is a multicast address"):
        check_public_address("224.0.0.1")
    with pytest.raises(ValueError, match="100.64.0.1 is a non-public address"):
        check_public_address("100.64.0.1")


class _Handler(BaseHTTPRequestHandler):
    routes = {
        "/dog.jpg": (200, {"Content-Type": "image/jpeg"}, b"JPEGDATA"),
        "/hop1": (302, {"Location": "/dog.jpg"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/big": (200, {}, b"x" * 5000),
        "/missing": (404, {}, b"nope"),
    }

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/slow":
            time.sleep(1.5)
        status, headers, body = self.routes.get(self.path, (200, {}, b"late"))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.server.seen_hosts.append(self.headers["Host"])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    """A local HTTP server, with the public-address rule relaxed for 127.0.0.1 only."""
    real_check = fetch.check_public_address
    monkeypatch.setattr(fetch, "check_public_address", lambda ip: None if ip == "127.0.0.1" else real_check(ip))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen_hosts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def base(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_fetches_and_follows_redirects(local_server: ThreadingHTTPServer) -> None:
    assert fetch_image(base(local_server) + "/hop1") == b"JPEGDATA"
    assert local_server.seen_hosts[-1] == f"127.0.0.1:{local_server.server_address[1]}"


def test_too_many_redirects(local_server: ThreadingHTTPServer) -> None:
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch_image(base(local_server) + "/loop")


def test_size_limit(local_server: ThreadingHTTPServer) -> None:
    with pytest.raises(FetchError, match="over the .* limit"):
        fetch_image(base(local_server) + "/big", max_bytes=1000)


def test_http_error_status(local_server: ThreadingHTTPServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_image(base(local_server) + "/missing")


def test_timeout(local_server: ThreadingHTTPServer) -> None:
    url = base(local_server) + "/slow"
    start = time.monotonic()
    with pytest.raises(FetchError, match=f"Timed out after 0.3 s fetching {url}"):
        fetch_image(url, timeout=0.3)
    assert time.monotonic() - start < 1.0


def test_redirect_to_a_private_address_is_refused(local_server: ThreadingHTTPServer) -> None:
    _Handler.routes["/to-metadata"] = (302, {"Location": "http://169.254.169.254/latest/"}, b"")
    with pytest.raises(FetchError, match="169.254.169.254 is a link-local address"):
        fetch_image(base(local_server) + "/to-metadata")
