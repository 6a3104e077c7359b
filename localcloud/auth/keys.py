"""The access keys localcloud accepts.

At first start localcloud mints a root access key (an `AKIA…` id and a 40-character secret) and
keeps it in its state; the AWS config files that hand it to every tool are core/profile.py's. The
table also holds temporary keys (`ASIA…`, with a session token and an expiry) for the
role sessions that IAM and STS hand out.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import asdict, dataclass

from localcloud.core.protocol import ACCOUNT_ID
from localcloud.core.registry import Identity
from localcloud.core.state import Store

KIND = "access-key"
_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # AWS key ids are base32


def new_access_key_id(prefix: str = "AKIA") -> str:
    return prefix + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()  # 40 characters, as AWS's


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    identity: Identity
    session_token: str | None = None
    expires: float | None = None  # epoch seconds; None for long-term keys

    def __repr__(self) -> str:  # never let a secret reach a log through a repr
        return f"AccessKey({self.access_key_id!r}, {self.identity.arn!r})"

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


def root_identity(access_key_id: str) -> Identity:
    return Identity(access_key_id, f"arn:aws:iam::{ACCOUNT_ID}:root", ACCOUNT_ID, ACCOUNT_ID)


class KeyTable:
    """Access keys by id, kept in the store and cached in memory (every request looks one up)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, AccessKey | None] = {}
        self._lock = threading.Lock()

    def root(self) -> AccessKey:
        """The account's root key, minted on first use."""
        with self._lock:
            record = self.store.get("localcloud", "root-access-key")
            if record is None:
                key_id = new_access_key_id()
                record = {"access_key_id": key_id}
                self._save(AccessKey(key_id, new_secret(), root_identity(key_id)))
                self.store.put("localcloud", "root-access-key", record)
        key = self.find(record["access_key_id"])
        assert key is not None, "the root key's record is missing from the key table"
        return key

    def add(self, key: AccessKey) -> None:
        with self._lock:
            self._save(key)

    def _save(self, key: AccessKey) -> None:
        record = asdict(key)
        self.store.put(KIND, key.access_key_id, record)
        self._cache[key.access_key_id] = key

    def find(self, access_key_id: str) -> AccessKey | None:
        if access_key_id in self._cache:
            return self._cache[access_key_id]
        record = self.store.get(KIND, access_key_id)
        key = None
        if record is not None:
            key = AccessKey(**{**record, "identity": Identity(**record["identity"])})
        if len(self._cache) < 10_000:  # unknown ids are cached too, within reason
            self._cache[access_key_id] = key
        return key


def client_env(endpoint_url: str, key: AccessKey) -> dict[str, str]:
    """Environment variables that point a process's AWS SDK at localcloud, signing with `key`."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
    }
    if key.session_token:
        env["AWS_SESSION_TOKEN"] = key.session_token
    return env
