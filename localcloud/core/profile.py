"""The `localcloud` AWS profile: where localcloud writes the credentials and config files that hand its root key
to every tool (`<data-dir>/aws/credentials` and `<data-dir>/aws/config`), and writing them owner-only. In core
because the process helper (core/process.py) reads them back, and it knows only core."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

PROFILE = "localcloud"


class KeyPair(Protocol):
    """An access key as a client signs with it (auth/keys.py's AccessKey is one)."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def secret_access_key(self) -> str: ...


def profile_paths(data_dir: Path) -> tuple[Path, Path]:
    """(credentials file, config file) under the data dir."""
    return data_dir / "aws" / "credentials", data_dir / "aws" / "config"


def write_profile(data_dir: Path, key: KeyPair, endpoint_url: str, region: str) -> tuple[Path, Path]:
    """Write the `localcloud` profile where AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE point.

    Both files are created owner-only before any secret is written into them.
    """
    credentials, config = profile_paths(data_dir)
    credentials.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(credentials.parent, 0o700)
    _write_private(
        credentials,
        f"[{PROFILE}]\naws_access_key_id = {key.access_key_id}\naws_secret_access_key = {key.secret_access_key}\n",
    )
    _write_private(config, f"[profile {PROFILE}]\nregion = {region}\nendpoint_url = {endpoint_url}\n")
    return credentials, config


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
