"""Endpoint instances: real worker processes behind InvokeEndpoint.

Each instance is `python -m localcloud.sagemaker.model_server` on its own Unix domain socket (in a private
directory; a model with EnableNetworkIsolation runs with no network, see model_server.py). A fleet sends
each request to the instance with the fewest outstanding requests (SageMaker's "least outstanding
requests" routing; ties in turn), keeps connections to them open, and replaces an instance that
dies; the request that found it dead gets a clear error, the next succeeds. `resize` adds
instances that take traffic once they answer, and removes instances only after they drain.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import itertools
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcloud.core.log import log
from localcloud.core.memory import SERVING_ENV
from localcloud.core.process import without_credentials, without_network
from localcloud.core.protocol import AwsError
from localcloud.sagemaker.cores import Cores
from localcloud.sagemaker.instance_connection import Connection

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVOCATION_TIMEOUT_S = 60.0  # SageMaker's limit for a real-time invocation
START_TIMEOUT_S = 120.0


def extract_model(archive: Path, cache_dir: Path) -> Path:
    """Unpack model.tar.gz once per distinct archive; instances share the directory."""
    stat = archive.stat()
    digest = hashlib.sha256(f"{archive}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / digest
    if target.exists():
        return target
    tmp = cache_dir / f".tmp-{digest}-{os.getpid()}-{threading.get_ident()}"
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise RuntimeError(f"ModelDataUrl is not a valid model.tar.gz: {exc}") from exc
    with contextlib.suppress(OSError):  # another thread may have won the race
        tmp.rename(target)
    return target


@functools.cache
def _socket_dir() -> Path:
    """This localcloud's private directory for its instances' sockets (a socket's path may be 107 bytes at
    most, too few for one under a data dir), removed when it exits."""
    path = Path(tempfile.mkdtemp(prefix="localcloud-sockets-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    model_s: float = 0.0  # time the instance took, as SageMaker's ModelLatency measures it


class Instance:
    """One worker process and a pool of keep-alive connections to it.

    With `network_isolation` (the model's EnableNetworkIsolation) the process has no network and no AWS
    credentials, as SageMaker runs such a container; it is reached on its socket all the same.
    """

    def __init__(
        self,
        model_dir: Path,
        log_path: Path,
        environment: dict[str, str],
        *,
        network_isolation: bool = False,
        cores: list[int] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(SERVING_ENV)
        env.update(environment)
        env["PYTHONPATH"] = str(_PROJECT_ROOT)
        env.setdefault("OMP_NUM_THREADS", str(len(cores)) if cores else "2")
        self.log_path = log_path
        self.socket_path = str(_socket_dir() / f"{uuid.uuid4().hex}.sock")
        command = [sys.executable, "-m", "localcloud.sagemaker.model_server", "--model-dir", str(model_dir)]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                without_network([*command, "--socket", self.socket_path], isolate=network_isolation),
                stdout=subprocess.PIPE,
                stderr=log,
                env=without_credentials(env, isolate=network_isolation),
                cwd=model_dir,
                # Its own cores (cores.py): the instance's inference threads run there and nowhere else.
                preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
            )
        self._on_stop = on_stop  # gives its cores back
        self.outstanding = 0  # requests in flight; guarded by the fleet's lock
        self.draining = False
        self._idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.connections_opened = 0  # keep-alive: one per request in flight at once, not one per request

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("LISTENING "):
            self.process.wait(timeout=10)
            self._remove_socket()
            raise RuntimeError(
                f"Instance failed to start (exit code {self.process.returncode}): {self.last_log_lines()}"
            )

    def last_log_lines(self, n: int = 5) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, body: bytes, content_type: str, accept: str, timeout: float = INVOCATION_TIMEOUT_S) -> Response:
        """One request on an idle keep-alive connection, or a new one, waiting at most `timeout` seconds for
        the instance (a transform's InvocationsTimeoutInSeconds); a connection that fails is closed (the fleet
        retries a stale one once, on a fresh connection)."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = Connection(self.socket_path, timeout=timeout)
            self.connections_opened += 1
        try:
            if conn.sock.gettimeout() != timeout:  # a kept connection may have served another timeout
                conn.sock.settimeout(timeout)
            started = time.perf_counter()
            status, kind, content = conn.exchange(body, content_type, accept)
            response = Response(status, kind, content, time.perf_counter() - started)
        except BaseException:
            conn.close()
            raise
        if conn.reusable:
            self._idle.put(conn)
        else:
            conn.close()
        return response

    def stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()
            self._on_stop = None
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        while not self._idle.empty():
            self._idle.get_nowait().close()
        self._remove_socket()

    def _remove_socket(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)


class Fleet:
    """The instances of one endpoint variant."""

    def __init__(
        self,
        endpoint: str,
        variant: str,
        model_dir: Path,
        count: int,
        log_dir: Path,
        environment: dict[str, str],
        *,
        network_isolation: bool = False,
        cores: Cores | None = None,
        instance_type: str = "ml.m5.large",
    ) -> None:
        self.endpoint, self.variant = endpoint, variant
        self.model_dir, self.log_dir, self.environment = model_dir, log_dir, environment
        self.network_isolation = network_isolation  # the model's EnableNetworkIsolation
        self.cores, self.instance_type = cores, instance_type  # each instance's share of the machine
        self._instances: list[Instance] = []
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._round_robin = itertools.count()
        self._serial = itertools.count(1)
        self.desired = count
        self.retiring = False  # replaced by an update: serves what reaches it, then stops (`retire`)

    def _spawn(self) -> Instance:
        log = self.log_dir / f"{self.variant}-{next(self._serial)}.log"
        holder, cores = self.cores.take(self.instance_type) if self.cores else (0, None)
        instance = Instance(
            self.model_dir,
            log,
            self.environment,
            network_isolation=self.network_isolation,
            cores=cores,
            on_stop=(lambda: self.cores.give(holder)) if self.cores else None,
        )
        try:
            instance.wait_ready()
        except Exception:
            instance.stop()
            raise
        return instance

    def start(self) -> None:
        """Start all instances in parallel; raise with the first failure's reason."""
        try:
            self._grow(self.desired)
        except RuntimeError:
            self.stop()
            raise

    def _grow(self, count: int) -> None:
        """Start `count` instances in parallel; each takes traffic as soon as it answers."""
        errors: list[Exception] = []

        def start_one() -> None:
            try:
                instance = self._spawn()
            except Exception as exc:
                errors.append(exc)
                return
            with self._ready:
                self._instances.append(instance)
                self._ready.notify_all()

        threads = [threading.Thread(target=start_one) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(str(errors[0]))

    def resize(self, count: int) -> None:
        """Grow to `count` serving instances, or shrink: the ones removed take no new request and stop
        once their requests in flight have answered (scale-in drains, it never cuts a request)."""
        with self._ready:
            self.desired = count
            serving = [i for i in self._instances if not i.draining]
            leaving = serving[count:]
            for instance in leaving:
                instance.draining = True
        if len(serving) < count:
            self._grow(count - len(serving))
        deadline = time.monotonic() + INVOCATION_TIMEOUT_S
        with self._ready:
            while any(i.outstanding for i in leaving) and time.monotonic() < deadline:
                self._ready.wait(timeout=max(0.0, deadline - time.monotonic()))
            self._instances = [i for i in self._instances if i not in leaving]
        for instance in leaving:
            instance.stop()

    @property
    def instance_count(self) -> int:
        with self._lock:
            return sum(1 for i in self._instances if i.alive and not i.draining)

    def pids(self) -> list[int]:
        with self._lock:
            return [i.process.pid for i in self._instances if i.alive]

    def _pick(self) -> Instance:
        deadline = time.monotonic() + START_TIMEOUT_S
        with self._ready:
            dead = [i for i in self._instances if not i.alive]
            live = [i for i in self._instances if i.alive]
        for instance in dead:
            self._replace(instance)
        if dead and not live:
            raise self._crashed(dead[0], "before the request arrived")
        with self._ready:
            while True:
                live = [i for i in self._instances if i.alive and (self.retiring or not i.draining)]
                if live:
                    first = next(self._round_robin) % len(live)
                    chosen = min(live[first:] + live[:first], key=lambda i: i.outstanding)
                    chosen.outstanding += 1
                    return chosen
                if not self._ready.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AwsError("ServiceUnavailable", f"Endpoint {self.endpoint} has no running instance", 503)

    def _crashed(self, instance: Instance, when: str) -> AwsError:
        return AwsError(
            "ModelError",
            f"The endpoint instance serving {self.endpoint} crashed {when} (exit code "
            f"{instance.process.poll()}); it is being restarted. Retry the request.",
            424,
            OriginalStatusCode=500,
            OriginalMessage="instance crashed",
        )

    def _replace(self, dead: Instance) -> None:
        with self._lock:
            if dead not in self._instances:
                return
            self._instances.remove(dead)
        dead.stop()  # what is left of it, and its cores back
        if dead.draining:  # it was leaving anyway
            return

        def restart() -> None:
            try:
                instance = self._spawn()
            except Exception as exc:  # keep serving with the instances left
                log(f"could not restart an instance of {self.endpoint}: {exc}")
                return
            with self._ready:
                self._instances.append(instance)
                self._ready.notify_all()

        threading.Thread(target=restart, daemon=True).start()

    def invoke(self, body: bytes, content_type: str, accept: str) -> Response:
        instance = self._pick()
        try:
            return self._invoke_on(instance, body, content_type, accept)
        finally:
            with self._ready:
                instance.outstanding -= 1
                self._ready.notify_all()

    def _invoke_on(self, instance: Instance, body: bytes, content_type: str, accept: str) -> Response:
        for attempt in range(2):
            try:
                return instance.invoke(body, content_type, accept)
            except TimeoutError as exc:
                raise AwsError(
                    "ModelError",
                    f"Your invocation timed out while waiting for a response from container {self.variant}.",
                    424,
                    OriginalStatusCode=0,
                    OriginalMessage="timed out",
                ) from exc
            except (ConnectionError, ValueError, OSError) as exc:
                if instance.alive and attempt == 0:
                    continue  # a stale keep-alive connection: try once more on a fresh one
                self._replace(instance)
                raise self._crashed(instance, "while handling the request") from exc
        raise AssertionError("unreachable")

    def retire(self, grace_s: float = 0.5) -> None:
        """Stop once the requests in flight have answered: an endpoint update never cuts a request.

        A request that chose this fleet just before it was replaced still gets served during `grace_s`.
        """
        self.retiring = True
        time.sleep(grace_s)
        deadline = time.monotonic() + INVOCATION_TIMEOUT_S
        with self._ready:
            while any(i.outstanding for i in self._instances) and time.monotonic() < deadline:
                self._ready.wait(timeout=max(0.0, deadline - time.monotonic()))
        self.stop()

    def stop(self) -> None:
        with self._lock:
            instances, self._instances = self._instances, []
        for instance in instances:
            instance.stop()
