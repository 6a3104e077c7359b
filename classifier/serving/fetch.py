"""Download the image behind a ``{"url": ...}`` request without letting the caller reach inside our
network (SSRF): only http(s), only public addresses, and we connect to the very address we vetted so a
second DNS answer cannot swap in 169.254.169.254 or 127.0.0.1."""

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 3
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


class FetchError(ValueError):
    """The URL could not be fetched safely; the message names the URL and the reason."""


def check_public_address(ip: str) -> None:
    """Raise ``ValueError("<ip> is a <kind> address")`` unless ``ip`` is a publicly routable address.

    IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) are judged by the IPv4 address they carry.
    """
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    for kind, matches in kinds:
        if matches:
            raise ValueError(f"{ip} is a {kind} address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a vetted IP; the Host header still carries the URL's host name. ``pinned_sock`` stays
    reachable after http.client hands the socket to the response, so read timeouts can be re-armed."""

    pinned_sock: socket.socket

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = self.pinned_sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a vetted IP; SNI and certificate checks use the URL's host name."""

    pinned_sock: socket.socket

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self.pinned_sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def fetch_image(url: str, *, timeout: float = 5.0, max_bytes: int = 20 * 1024 * 1024) -> bytes:
    """Return the body of ``url`` (following up to 3 redirects), or raise ``FetchError``.

    ``timeout`` bounds the whole download, connect and read together; ``max_bytes`` bounds its size.
    """
    deadline = time.monotonic() + timeout
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = _get_once(current, deadline, max_bytes)
            if status not in _REDIRECT_STATUSES:
                return body
            if not location:
                raise FetchError(f"{current} answered HTTP {status} without a Location to follow.")
            current = urljoin(current, location)
    except TimeoutError:
        raise FetchError(f"Timed out after {timeout:g} s fetching {url}.") from None
    raise FetchError(f"Gave up fetching {url}: more than {MAX_REDIRECTS} redirects.")


def _get_once(url: str, deadline: float, max_bytes: int) -> tuple[int, str | None, bytes]:
    """One GET to a vetted address: (status, Location header, body); the body only for a 200."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"Refusing to fetch {url}: only http and https URLs are allowed.")
    host = parts.hostname
    if not host:
        raise FetchError(f"Refusing to fetch {url}: the URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"Refusing to fetch {url}: the port is not a number between 0 and 65535.") from None

    addresses = _resolve(url, host, port)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: OSError | None = None
    for ip in addresses:
        connection = connection_class(host, port, ip, timeout=_remaining(deadline))
        try:
            connection.request(
                "GET",
                path,
                headers={"User-Agent": "dog-breed-classifier", "Accept": "image/*", "Accept-Encoding": "identity"},
            )
            connection.pinned_sock.settimeout(_remaining(deadline))
            response = connection.getresponse()
            if response.status in _REDIRECT_STATUSES:
                return response.status, response.getheader("Location"), b""
            if response.status != 200:
                raise FetchError(f"Fetching {url} failed: HTTP {response.status} {response.reason}.")
            return response.status, None, _read_limited(url, connection, response, deadline, max_bytes)
        except (TimeoutError, FetchError):
            raise
        except (OSError, http.client.HTTPException) as exc:
            last_error = OSError(str(exc) or type(exc).__name__)
        finally:
            connection.close()
    raise FetchError(f"Could not fetch {url}: {last_error}.")


def _resolve(url: str, host: str, port: int) -> list[str]:
    """All addresses of ``host``; every one must be public, or a later request could reach a private one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"Could not fetch {url}: cannot resolve host {host!r} ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for ip in addresses:
        try:
            check_public_address(ip)
        except ValueError as exc:
            raise FetchError(f"Refusing to fetch {url}: {exc}.") from None
    return addresses


def _read_limited(
    url: str,
    connection: "_PinnedHTTPConnection | _PinnedHTTPSConnection",
    response: http.client.HTTPResponse,
    deadline: float,
    max_bytes: int,
) -> bytes:
    """Read the body in chunks, re-arming the socket timeout so the deadline covers the whole read."""
    declared = response.getheader("Content-Length")
    limit_mb = f"{max_bytes / (1024 * 1024):g} MB"
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"Refusing to fetch {url}: it is {int(declared):,} bytes, over the {limit_mb} limit.")
    chunks: list[bytes] = []
    received = 0
    while True:
        connection.pinned_sock.settimeout(_remaining(deadline))
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(f"Refusing to fetch {url}: the download passed the {limit_mb} limit.")
        chunks.append(chunk)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    return remaining
