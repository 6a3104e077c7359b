"""Start and stop a real localcloud process on a free port in a temp dir, for tests and benchmarks."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from localcloud.core.profile import PROFILE, profile_paths

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass
class LocalCloudProcess:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    endpoint_url: str = ""

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
        return self.session().client(service, endpoint_url=self.endpoint_url, **kwargs)

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
