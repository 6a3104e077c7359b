"""Processes: running a container's process with no network (SageMaker's EnableNetworkIsolation), and
starting and stopping a real localcloud process on a free port in a temp dir, for tests and benchmarks."""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from localcloud.core.profile import PROFILE, profile_paths

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
ISOLATION_NOT_ENFORCED = (
    "localcloud: network isolation is not enforced: this machine refuses a network namespace "
    "(unshare --map-root-user --net), so the container runs with the host's network."
)
# Run in the new namespace before the command: bring its loopback up (SIOCSIFFLAGS: IFF_UP | IFF_LOOPBACK |
# IFF_RUNNING), as a container without network has one, then become the command.
_LOOPBACK_UP = (
    "import fcntl, os, socket, struct, sys\n"
    "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:\n"
    "    fcntl.ioctl(s, 0x8914, struct.pack('16sH22x', b'lo', 0x1 | 0x8 | 0x40))\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def without_network(command: list[str], *, isolate: bool, peers: Sequence[subprocess.Popen] = ()) -> list[str]:
    """`command` as it runs in a container with EnableNetworkIsolation: in a network namespace of its
    own (made in a user namespace, so no privilege is needed) with nothing but a loopback, or in that of
    the first of its `peers` (the hosts of the same training job started before it: they reach each other,
    nothing else). Where the machine refuses namespaces, the command runs anyway and first says so on
    stderr, which the job's or instance's log receives. `command` unchanged when not `isolate`.

    The prefixes exec the command: its process id, process group and parent stay the same.
    """
    if not isolate:
        return command
    if not namespaces_allowed():
        return ["sh", "-c", 'echo "$0" >&2; exec "$@"', ISOLATION_NOT_ENFORCED, *command]
    if peers:
        join = peers[0].pid
        if not _namespace_made_by(join):  # never the host's network instead: the host fails, and says why
            return ["sh", "-c", 'echo "$0" >&2; exit 1', f"localcloud: process {join}'s network namespace never came"]
        namespaces = [f"--user=/proc/{join}/ns/user", f"--net=/proc/{join}/ns/net"]
        return ["nsenter", *namespaces, "--preserve-credentials", "--", *command]
    return ["unshare", "--map-root-user", "--net", "--", sys.executable, "-c", _LOOPBACK_UP, *command]


def without_credentials(env: dict[str, str], *, isolate: bool) -> dict[str, str]:
    """`env` less the AWS credentials when `isolate`: SageMaker makes none available to a container with
    network isolation (it downloads and uploads the container's data itself, as the execution role)."""
    if not isolate:
        return env
    return {k: v for k, v in env.items() if k not in AWS_CREDENTIALS}


@functools.cache
def namespaces_allowed() -> bool:
    """Whether this machine lets this user make (and enter) a network namespace; asked once."""
    if shutil.which("nsenter") is None:
        return False
    try:
        probe = ["unshare", "--map-root-user", "--net", "true"]
        return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _namespace_made_by(pid: int, timeout: float = 10.0) -> bool:
    """Wait until `pid` (just started under `unshare`) is in a network namespace other than ours; False if
    it never is (or is gone)."""
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{pid}/ns/net") != ours:
                return True
        except OSError:
            return False
        time.sleep(0.01)
    return False


@dataclass
class LocalCloudProcess:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    endpoint_url: str = ""
    _clients_session: boto3.Session | None = field(default=None, init=False, repr=False)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "localcloud.log"

    def start(self, timeout: float = 120.0, *, ready: bool = True) -> LocalCloudProcess:
        """Start and wait until it listens and (with `ready`) its default resources are in place."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localcloud", "--port", "0", "--data-dir", str(self.data_dir), *self.extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localcloud exited: {self.log_path.read_text()[offset:]}")
            text = self.log_path.read_text()[offset:]
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if match:
                self.endpoint_url = match.group(1)
                if not ready:
                    return self
                health = self.health()
                if health.get("status") == "ok":
                    return self
                if health.get("status") == "degraded":
                    raise RuntimeError(f"localcloud could not create its defaults: {health['defaults']}")
            time.sleep(0.05)
        raise TimeoutError(f"localcloud did not start: {self.log_path.read_text()[offset:]}")

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/_localcloud/health", timeout=2) as response:
                return json.load(response)
        except OSError:
            return {}

    @property
    def credentials(self) -> dict[str, str]:
        """The root key localcloud wrote to its data dir, as AWS_* environment variables."""
        parser = configparser.ConfigParser()
        parser.read(profile_paths(self.data_dir)[0])
        section = parser[PROFILE]
        return {
            "AWS_ACCESS_KEY_ID": section["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": section["aws_secret_access_key"],
        }

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=REGION, **{k.lower(): v for k, v in self.credentials.items()})

    def client(self, service: str, **kwargs):
        """A client signed with the root key. They come from one kept session: a new session loads
        botocore's service models again (about 100 ms a client, against 4 ms from a warm one)."""
        with self._clients_lock:  # a boto3 session is not thread-safe; the clients it makes are
            if self._clients_session is None:
                self._clients_session = self.session()
            return self._clients_session.client(service, endpoint_url=self.endpoint_url, **kwargs)

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": REGION, **self.credentials}

    def wait_endpoint(self, name: str, status: str = "InService", timeout: float = 120.0) -> dict:
        sagemaker = self.client("sagemaker")
        deadline = time.monotonic() + timeout
        while True:
            description = sagemaker.describe_endpoint(EndpointName=name)
            if description["EndpointStatus"] == status or time.monotonic() > deadline:
                return description
            time.sleep(0.1)

    def wait_health(self, *statuses: str, timeout: float = 120.0) -> dict:
        """Poll /_localcloud/health until its status is one of `statuses` (the last answer on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health.get("status") in statuses or time.monotonic() > deadline:
                return health
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
