"""Running EC2 instances: each one's user data as a process (machine.py), its console to CloudWatch Logs, and the
state changes that running brings (pending → running → an instance-initiated shutdown, a stop or a terminate
asked through the API, a restart of localcloud). The API and its checks are provider.py's.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.protocol import AwsError
from localcloud.core.state import Store
from localcloud.ec2 import machine

KIND = "ec2-instance"
CONSOLE_LOG_GROUP = "/localcloud/ec2/console"
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
ALIVE = ("pending", "running", "shutting-down", "stopping")


def gmt(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(seconds))


def state(name: str) -> dict[str, Any]:
    return {"Code": STATE_CODES[name], "Name": name}


def not_found(ids: list[str]) -> AwsError:
    if len(ids) == 1:
        return AwsError("InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist", 400)
    return AwsError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(ids)}' do not exist", 400)


def _user_reason() -> dict[str, Any]:
    return {
        "StateTransitionReason": f"User initiated ({gmt(time.time())})",
        "StateReason": {
            "Code": "Client.UserInitiatedShutdown",
            "Message": "Client.UserInitiatedShutdown: User initiated shutdown",
        },
    }


class InstanceRunner:
    """The instances' processes and the states they pass through; `lock` guards every instance record."""

    def __init__(self, store: Store, logs: LogSink, cloud_env: dict[str, str], root: Path) -> None:
        self.store, self.logs = store, logs
        self.cloud_env = cloud_env  # the instance profile's credentials, as its SDK would find them
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}
        self._requested: dict[str, str] = {}  # instance id -> "terminate" | "stop", asked through the API
        self._closing = False
        self.lock = threading.RLock()
        self._fail_interrupted()

    def _fail_interrupted(self) -> None:
        """A restart loses the processes: their instances end terminated, with the reason."""
        for record in self.store.all(KIND):
            instance = record["instance"]
            if instance["State"]["Name"] not in ALIVE:
                continue
            machine.kill_leftover(record.get("pid"), record.get("started"))
            instance.update(
                State=state("terminated"),
                StateTransitionReason="Server.InternalError",
                StateReason={"Code": "Server.InternalError", "Message": "Server.InternalError: localcloud restarted"},
            )
            self.store.put(KIND, instance["InstanceId"], record)

    def record(self, instance_id: str) -> dict[str, Any]:
        record = self.store.get(KIND, instance_id)
        if record is None:
            raise not_found([instance_id])
        return record

    def _set_state(self, instance_id: str, name: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            record = self.record(instance_id)
            record["instance"].update(State=state(name), **changes)
            self.store.put(KIND, instance_id, record)
            return record

    def boot(self, instance_id: str, user_data: bytes) -> None:
        """Run a pending instance's user data, in a thread of its own."""
        threading.Thread(target=self._run, args=(instance_id, user_data), daemon=True).start()

    def shut_down(self, record: dict[str, Any], action: str) -> dict[str, Any]:
        """Signal the instance's process group; its runner thread records the final state."""
        instance_id = record["instance"]["InstanceId"]
        with self.lock:
            previous = self.record(instance_id)["instance"]["State"]["Name"]
            process = self.processes.get(instance_id)
            # A terminate overtakes a stop in progress; a second stop or terminate changes nothing.
            if process is not None and (previous == "running" or previous == "stopping" and action == "terminate"):
                self._requested[instance_id] = action
                current = "shutting-down" if action == "terminate" else "stopping"
                self._set_state(instance_id, current)
                threading.Thread(target=machine.shut_down, args=(process,), daemon=True).start()
            elif previous == "pending" or (previous == "stopped" and action == "terminate"):
                current = "terminated" if action == "terminate" else "stopped"
                self._set_state(instance_id, current, **_user_reason())
            else:
                current = previous
        return {"InstanceId": instance_id, "PreviousState": state(previous), "CurrentState": state(current)}

    def _run(self, instance_id: str, user_data: bytes) -> None:
        record = self.record(instance_id)
        home = self.root / instance_id
        command, shims = machine.prepare(home, user_data)
        env = machine.environment(
            home,
            shims,
            {
                **self.cloud_env,
                "AWS_DEFAULT_REGION": record["region"],
                "AWS_REGION": record["region"],
                "LOCALCLOUD_INSTANCE_ID": instance_id,
            },
        )
        instance = record["instance"]
        with (home / "console.log").open("ab", buffering=0) as console:
            console.write(
                f"localcloud: booting {instance_id} ({instance['InstanceType']}, {instance['ImageId']}) "
                f"at {gmt(time.time())}\n".encode()
            )
            with self.lock:
                if self.record(instance_id)["instance"]["State"]["Name"] != "pending":
                    return  # terminated or stopped before it booted
                try:
                    process, started = machine.start(command, home, env)
                except OSError as exc:
                    console.write(f"localcloud: cannot run the user data: {exc}\n".encode())
                    process = None
                else:
                    self.processes[instance_id] = process
                    record = self.record(instance_id)
                    record["instance"]["State"] = state("running")
                    record.update(pid=process.pid, started=started)
                    self.store.put(KIND, instance_id, record)
            if process is None:
                self._finish(instance_id, None)
                return
            machine.pump_console(
                process, console, lambda lines: self.logs.put_events(CONSOLE_LOG_GROUP, instance_id, lines)
            )
            code = process.wait()
            console.write(f"localcloud: user data exited with status {code}; shutting down\n".encode())
        self._finish(instance_id, code)

    def _finish(self, instance_id: str, code: int | None) -> None:
        with self.lock:
            self.processes.pop(instance_id, None)
            if self._closing:
                return  # localcloud is stopping: the next start records the interruption
            requested = self._requested.pop(instance_id, None)
            record = self.record(instance_id)
        if requested is not None:
            final = "terminated" if requested == "terminate" else "stopped"
            self._set_state(instance_id, final, **_user_reason())
            return
        terminate = record["shutdown_behavior"] == "terminate"
        self._set_state(instance_id, "shutting-down" if terminate else "stopping")
        reason = {
            "StateTransitionReason": f"Instance initiated shutdown ({gmt(time.time())})",
            "StateReason": {
                "Code": "Client.InstanceInitiatedShutdown",
                "Message": "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
            },
        }
        if code is None:
            reason["StateReason"] = {
                "Code": "Server.InternalError",
                "Message": "Server.InternalError: the user data could not be run",
            }
        self._set_state(instance_id, "terminated" if terminate else "stopped", **reason)

    def stop_all(self) -> None:
        with self.lock:
            self._closing = True
            processes = list(self.processes.values())
        for process in processes:
            machine.kill_now(process)
