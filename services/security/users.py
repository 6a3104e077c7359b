"""The dashboard's offline sign-in: a local users file with Argon2 password hashes.

The file (`.dashboard/users.json` unless DASHBOARD_USERS_FILE says otherwise) is readable by its
owner only and holds names, roles and hashes, never a password. `python -m services.security.users init`
(`./dev users init`) creates it with a first operator and prints that password once.

Wrong passwords slow a name down: after five in a row, the name is locked for 30 s, doubling with
each further failure (up to 15 minutes), and no password is checked while it is locked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.core.access import ROLES, Caller, Role
from services.core.errors import ServiceError

DEFAULT_PATH = Path(".dashboard/users.json")
FIRST_OPERATOR = "admin"
MAX_FAILURES = 5
FIRST_LOCK_S = 30.0
MAX_LOCK_S = 900.0
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_hasher = PasswordHasher()


@cache
def _unknown_name_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(12))


@dataclass(frozen=True)
class UserRecord:
    """One user as the file holds it: `sessions_after` (epoch seconds) refuses sign-in cookies issued before
    the user last signed out (services/security/sessions.py)."""

    name: str
    role: Role
    password_hash: str
    sessions_after: float = 0.0


def users_path() -> Path:
    """Where the users file lives: DASHBOARD_USERS_FILE, else `.dashboard/users.json` under the cwd."""
    return Path(os.environ.get("DASHBOARD_USERS_FILE") or DEFAULT_PATH)


class UserStore:
    """Users read from and written to one JSON file; a wrong password counts against the name."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # name -> (failures in a row, locked until)
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.is_file()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text())["users"]
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(f"The users file {self.path} is not one this dashboard wrote.") from exc

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"users": users}, out, indent=2)
        os.replace(self.path.with_suffix(".tmp"), self.path)

    def add(self, name: str, role: Role) -> str:
        """Create `name` with a generated password and return it (shown once, stored only hashed)."""
        if not _NAME.fullmatch(name):
            raise ServiceError(f"'{name}' is not a user name: 1-64 letters, digits, '_', '.', '@' or '-'.")
        if role not in ROLES:
            raise ServiceError(f"'{role}' is not a role: use one of {', '.join(ROLES)}.")
        users = self._read()
        if name in users:
            raise ServiceError(f"User '{name}' already exists.")
        password = secrets.token_urlsafe(12)
        users[name] = {"role": role, "hash": _hasher.hash(password)}
        self._write(users)
        return password

    def user(self, name: str) -> UserRecord | None:
        """The user `name` as the file holds it now, or None."""
        user = self._read().get(name)
        if user is None:
            return None
        return UserRecord(name, user["role"], user["hash"], float(user.get("sessions_after", 0.0)))

    def end_sessions(self, name: str, at: float) -> None:
        """Refuse every sign-in cookie of `name` issued before `at` (signing out ends them all)."""
        with self._lock:
            users = self._read()
            if name in users:
                users[name]["sessions_after"] = at
                self._write(users)

    def sign_in(self, name: str, password: str) -> Caller:
        """The caller for a right name and password; ServiceError (the same for a wrong name) otherwise."""
        with self._lock:
            failures, locked_until = self._failures.get(name, (0, 0.0))
            wait = locked_until - self._clock()
            if wait > 0:
                raise ServiceError(
                    f"Too many wrong passwords for this name. Try again in {math.ceil(wait)} s.", code="Locked"
                )
        user = self._read().get(name)
        try:
            # An unknown name costs a verification too, so timing does not tell which names exist.
            ok = _hasher.verify(user["hash"] if user else _unknown_name_hash(), password) and user is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._failed(name, failures + 1)
            raise ServiceError("Wrong name or password.", code="WrongPassword")
        with self._lock:
            self._failures.pop(name, None)
        return Caller(name, user["role"])

    def _failed(self, name: str, failures: int) -> None:
        lock_s = 0.0
        if failures >= MAX_FAILURES:
            lock_s = min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** (failures - MAX_FAILURES))
        with self._lock:
            self._failures[name] = (failures, self._clock() + lock_s)


def main(argv: list[str] | None = None) -> int:
    """`init`: create the file with the first operator (once); `add NAME --role R`: one more user."""
    parser = argparse.ArgumentParser(prog="./dev users", description="The dashboard's local users file.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the users file and its first operator, printing the password once")
    add = commands.add_parser("add", help="add a user, printing the password once")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    args = parser.parse_args(argv)
    store = UserStore(users_path())
    try:
        if args.command == "init":
            if store.exists():
                print(f"{store.path} exists; nothing to do.", file=sys.stderr)
                return 0
            name, password = FIRST_OPERATOR, store.add(FIRST_OPERATOR, "operator")
        else:
            name, password = args.name, store.add(args.name, args.role)
    except ServiceError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"Created user '{name}' in {store.path}. Password (shown only now): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
