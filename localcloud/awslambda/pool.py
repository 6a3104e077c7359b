"""The execution environments of each function version: idle on-demand ones kept warm for reuse, and the
ones a provisioned-concurrency configuration keeps initialised ahead of traffic.

Provisioned environments run their init (the handler's import, with `AWS_LAMBDA_INITIALIZATION_TYPE=
provisioned-concurrency`) before the configuration is READY, and an invocation takes one of them before
any on-demand environment. One that dies is replaced, as AWS does.

Changing a configuration's count keeps the environments already warm, as AWS does: a larger count starts
only the difference, a smaller one stops the surplus, idle environments first and busy ones only once
their invocation has ended. Only a new configuration (or none) starts from scratch.

An on-demand environment idle for longer than `idle_limit_s` is stopped, as AWS reclaims idle environments
after a while: a burst that started more of them than the steady load needs does not keep their memory
for as long as localcloud runs. The idle list is kept oldest first (an invocation takes the newest), so the
surplus is what ages out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from localcloud.awslambda.environment import ON_DEMAND, Environment

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"
IDLE_LIMIT_S = 300.0
"""How long an idle on-demand environment is kept. AWS keeps one for an undocumented while (minutes), then
reclaims it; localcloud's `--lambda-idle-seconds` sets this."""


class InitFailed(Exception):
    """A provisioned environment whose init failed; the message is the configuration's StatusReason."""


Factory = Callable[[int], Environment]  # starts an environment of the given epoch and waits for its init


@dataclass
class Lease:
    """What an invocation runs on: an environment (None until a cold start makes one), whether it is provisioned,
    how many provisioned environments are busy with it, and the generation a new environment gets."""

    env: Environment | None
    provisioned: bool
    provisioned_busy: int
    generation: int


class VersionPool:
    """Environments of one function version."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[Environment] = []
        self.generation = 0  # bumped when code or configuration changes: older environments retire
        self.provisioned_idle: list[Environment] = []
        self.provisioned_busy = 0
        self.epoch = 0  # bumped when a configuration starts or ends: a change of its count keeps the epoch
        self.qualifier: str | None = None  # the version or alias that holds the configuration
        self.requested = 0
        self.allocated = 0  # provisioned environments that have run their init, idle or busy
        self.status = READY
        self.status_reason: str | None = None
        self._starting = 0
        self._factory: Factory | None = None

    # invocations ------------------------------------------------------------------
    def take(self) -> Lease:
        """An idle environment, provisioned ones first (none: the caller starts one, a cold start)."""
        dead: list[Environment] = []
        with self.lock:
            lease = Lease(None, False, 0, self.generation)
            while self.provisioned_idle:
                env = self.provisioned_idle.pop()
                if env.alive:
                    self.provisioned_busy += 1
                    lease = Lease(env, True, self.provisioned_busy, self.epoch)
                    break
                self.allocated -= 1
                self._settle()  # a dead one may have been a smaller count's surplus
                dead.append(env)
            while lease.env is None and self.idle:
                env = self.idle.pop()
                if env.alive:
                    lease.env = env
                else:
                    dead.append(env)
            epoch = self.epoch
        for env in dead:
            env.stop()
        if any(env.initialization_type != ON_DEMAND for env in dead):
            self._fill(epoch)
        return lease

    def give_back(self, lease: Lease) -> None:
        """After an invocation: keep the environment for the next one, or stop it (and replace a provisioned one)."""
        env, replace = lease.env, False
        with self.lock:
            if lease.provisioned:
                self.provisioned_busy -= 1
                current = env is not None and env.generation == self.epoch
                if current and self.allocated > self.requested:  # a smaller count's surplus, free to stop now
                    self.allocated -= 1
                    self._settle()
                elif current and env.alive:
                    self.provisioned_idle.append(env)
                    return
                elif current:
                    self.allocated -= 1
                    replace = True
            elif env is not None and env.alive and env.generation == self.generation:
                env.idle_since = time.monotonic()
                self.idle.append(env)
                return
            epoch = self.epoch
        if env is not None:
            env.stop()
        if replace:
            self._fill(epoch)

    # provisioned concurrency --------------------------------------------------------
    def provision(self, qualifier: str, count: int, factory: Factory) -> None:
        """Keep `count` environments initialised ahead of traffic: IN_PROGRESS until that many have run their
        init (several start at once, as on AWS), then READY; FAILED if an init fails.

        For the configuration already held, the environments already warm stay: a larger count starts only
        the difference, a smaller one stops the surplus, idle ones at once and busy ones when their
        invocation ends. Another qualifier's configuration starts from none."""
        with self.lock:
            if qualifier != self.qualifier:
                self.epoch += 1
                stale, self.provisioned_idle = self.provisioned_idle, []
                self.allocated, self._starting = 0, 0
            else:  # the least recently used idle environments go first
                surplus = min(max(0, self.allocated - count), len(self.provisioned_idle))
                stale, self.provisioned_idle = self.provisioned_idle[:surplus], self.provisioned_idle[surplus:]
                self.allocated -= surplus
            self.qualifier, self.requested, self._factory = qualifier, count, factory
            self.status = READY if self.allocated == count else IN_PROGRESS
            self.status_reason = None
            epoch = self.epoch
        for env in stale:
            env.stop()
        self._fill(epoch)

    def unprovision(self) -> None:
        with self.lock:
            self.epoch += 1
            stale, self.provisioned_idle = self.provisioned_idle, []
            self.qualifier, self.requested, self.allocated, self._starting = None, 0, 0, 0
            self.status, self.status_reason, self._factory = READY, None, None
        for env in stale:
            env.stop()

    def _fill(self, epoch: int) -> None:
        with self.lock:
            if epoch != self.epoch:
                return
            missing = max(0, self.requested - self.allocated - self._starting)
            self._starting += missing
        for _ in range(missing):
            threading.Thread(target=self._start_one, args=(epoch,), name="lambda-provision", daemon=True).start()

    def _start_one(self, epoch: int) -> None:
        assert self._factory is not None
        try:
            env = self._factory(epoch)
        except InitFailed as exc:
            with self.lock:
                if epoch == self.epoch:
                    self._starting -= 1
                    self.status, self.status_reason = FAILED, str(exc)
            return
        with self.lock:
            current = epoch == self.epoch
            wanted = current and self.allocated < self.requested  # the count may have shrunk meanwhile
            if current:
                self._starting -= 1
            if wanted:
                self.provisioned_idle.append(env)
                self.allocated += 1
                self._settle()
        if not wanted:
            env.stop()

    def _settle(self) -> None:
        """READY once the environments match the count (called with the lock held)."""
        if self.status == IN_PROGRESS and self.allocated == self.requested:
            self.status = READY

    # lifecycle ----------------------------------------------------------------------
    def reap(self, idle_before: float) -> None:
        """Stop the on-demand environments idle since before `idle_before` (a time.monotonic() value)."""
        with self.lock:
            aged = 0
            while aged < len(self.idle) and self.idle[aged].idle_since < idle_before:
                aged += 1
            stale, self.idle = self.idle[:aged], self.idle[aged:]
        for env in stale:
            env.stop()

    def retire(self) -> None:
        """New code or configuration: idle on-demand environments stop, busy ones stop when they finish."""
        with self.lock:
            self.generation += 1
            idle, self.idle = self.idle, []
        for env in idle:
            env.stop()

    def stop(self) -> None:
        self.retire()
        self.unprovision()

    def pids(self) -> list[int]:
        with self.lock:
            envs = self.idle + self.provisioned_idle
        return [env.process.pid for env in envs if env.alive]


class Pools:
    """Every version's pool, by (function, version), and the sweep that stops long-idle environments."""

    def __init__(self, idle_limit_s: float = IDLE_LIMIT_S) -> None:
        self._pools: dict[tuple[str, str], VersionPool] = {}
        self._lock = threading.Lock()
        self.idle_limit_s = idle_limit_s
        self._stopped = threading.Event()
        threading.Thread(target=self._reap_forever, name="lambda-idle-reaper", daemon=True).start()

    def _reap_forever(self) -> None:
        while not self._stopped.wait(max(0.5, self.idle_limit_s / 10)):
            self.reap()

    def reap(self) -> None:
        """Stop every version's environments idle for longer than the limit."""
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.reap(time.monotonic() - self.idle_limit_s)

    def get(self, function: str, version: str) -> VersionPool:
        with self._lock:
            pool = self._pools.get((function, version))
            if pool is None:
                pool = self._pools[(function, version)] = VersionPool()
            return pool

    def drop(self, function: str, version: str | None = None) -> None:
        """Stop a version's environments (or, without a version, every environment of the function)."""
        with self._lock:
            keys = [k for k in self._pools if k[0] == function and version in (None, k[1])]
            pools = [self._pools.pop(k) for k in keys]
        for pool in pools:
            pool.stop()

    def stop_all(self) -> None:
        self._stopped.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.stop()

    def pids(self) -> dict[str, list[int]]:
        with self._lock:
            pools = dict(self._pools)
        found: dict[str, list[int]] = {}
        for (function, _), pool in pools.items():
            found.setdefault(function, []).extend(pool.pids())
        return found
