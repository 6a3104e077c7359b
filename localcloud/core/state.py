"""Durable state: one SQLite file of resources and S3 object metadata under the data dir."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    last_modified REAL NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_streams (
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_event INTEGER,
    last_event INTEGER,
    last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grp, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY,
    grp TEXT NOT NULL,
    stream TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    ingestion INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (grp, stream, timestamp, id);
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (grp, timestamp, id);
CREATE TABLE IF NOT EXISTS metric_data (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    timestamp REAL NOT NULL,
    unit TEXT NOT NULL,
    sample_count REAL NOT NULL,
    total REAL NOT NULL,
    minimum REAL NOT NULL,
    maximum REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_data_by_metric ON metric_data (namespace, name, dimensions, timestamp);
"""


MAX_SHARED_RECORDS = 1024


class Store:
    """Resources as JSON documents keyed by (kind, name); thread-safe.

    Each kind has a revision that every write of that kind advances, so that a cache built from a kind's
    records (the authorizer's compiled policies and decisions) knows at once when it is stale."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "state.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A commit reaches the WAL without an fsync of its own: the database stays consistent through a
        # crash of localcloud (only the OS losing power can undo the last commits), and a request no longer
        # waits for a disk flush behind the store's lock.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._revisions: dict[str, int] = {}
        self._shared: dict[tuple[str, str], tuple[int, dict[str, Any] | None]] = {}

    def revision(self, kind: str) -> int:
        """How many writes records of `kind` have had since this store opened."""
        return self._revisions.get(kind, 0)

    def _wrote(self, kind: str) -> None:
        """Called under the lock after a write of `kind`."""
        self._revisions[kind] = self._revisions.get(kind, 0) + 1

    # resources ------------------------------------------------------------------
    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM resources WHERE kind=? AND name=?", (kind, name)).fetchone()
        return json.loads(row[0]) if row else None

    def get_shared(self, kind: str, name: str) -> dict[str, Any] | None:
        """`get` for the request path (an endpoint's record on every InvokeEndpoint): the same decoded record
        until the next write of its kind, without a query; to read, never to change."""
        with self._lock:
            revision = self._revisions.get(kind, 0)
            kept = self._shared.get((kind, name))
            if kept is not None and kept[0] == revision:
                return kept[1]
            record = self.get(kind, name)
            if len(self._shared) >= MAX_SHARED_RECORDS:
                self._shared.clear()
            self._shared[(kind, name)] = (revision, record)
            return record

    def put(self, kind: str, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO resources (kind, name, data) VALUES (?, ?, ?)",
                (kind, name, json.dumps(data)),
            )
            self._wrote(kind)

    def insert(self, kind: str, name: str, data: dict[str, Any]) -> bool:
        """Insert unless the name is taken; False when it already exists."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO resources (kind, name, data) VALUES (?, ?, ?)", (kind, name, json.dumps(data))
                )
            except sqlite3.IntegrityError:
                return False
            self._wrote(kind)
        return True

    def update(self, kind: str, name: str, **changes: Any) -> dict[str, Any] | None:
        with self._lock:
            data = self.get(kind, name)
            if data is None:
                return None
            data.update(changes)
            self.put(kind, name, data)
            return data

    def delete(self, kind: str, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM resources WHERE kind=? AND name=?", (kind, name))
            self._wrote(kind)
        return cursor.rowcount > 0

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM resources WHERE kind=? ORDER BY name", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # tables of their own (logs, metrics) ----------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One lock and one commit for many statements: batch inserts stay fast."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # S3 objects -----------------------------------------------------------------
    def put_object(
        self, bucket: str, key: str, *, size: int, etag: str, content_type: str, last_modified: float, blob: str
    ) -> str | None:
        """Record an object; returns the blob file it replaced, if any."""
        with self._lock:
            old = self._db.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                (bucket, key, size, etag, content_type, last_modified, blob),
            )
        return old[0] if old else None

    def get_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM objects WHERE bucket=? AND key=?", (bucket, key))
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True)) if row else None

    def delete_object(self, bucket: str, key: str) -> str | None:
        with self._lock:
            old = self._db.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
            self._db.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key))
        return old[0] if old else None

    def iter_objects(self, bucket: str, prefix: str, start_after: str) -> Iterator[dict[str, Any]]:
        """Objects in key order after `start_after` whose key starts with `prefix`."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
        sql = "SELECT key, size, etag, last_modified FROM objects WHERE bucket=? AND key>? AND key>=?"
        args: list[Any] = [bucket, start_after, prefix]
        if upper:
            sql += " AND key<?"
            args.append(upper)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY key", args).fetchall()
        for key, size, etag, modified in rows:
            yield {"key": key, "size": size, "etag": etag, "last_modified": modified}

    def count_objects(self, bucket: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM objects WHERE bucket=?", (bucket,)).fetchone()[0]
