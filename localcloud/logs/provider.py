"""CloudWatch Logs: log groups, streams and events in SQLite, paged the way AWS pages them.

Training jobs and EC2 instances append through `put_events`; the dashboard reads through
the public API (GetLogEvents with its forward/backward tokens, FilterLogEvents,
DescribeLogStreams), so a tail of a 10,000-line log is a few indexed queries, never a scan.
Events are ordered by (timestamp, id): the id breaks ties between lines of the same
millisecond in the order they were written. A group's retention policy expires its old events
(retention.py).
"""

from __future__ import annotations

import re
import time
from typing import Any

from localcloud.core.clock import Clock
from localcloud.core.paginator import Paginator, opaque, unopaque
from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.registry import Call, Service
from localcloud.core.state import Store
from localcloud.logs.retention import EVENT_OVERHEAD_BYTES, Retention, check_days

MAX_EVENTS = 10_000  # GetLogEvents' and FilterLogEvents' default and maximum `limit`
PAGE = 50  # DescribeLogGroups' and DescribeLogStreams' default `limit`
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
_TERM = re.compile(r'(\?)?(?:"([^"]*)"|(\S+))')
_ARN = re.compile(r"^arn:aws[\w-]*:logs:[^:]*:\d{12}:log-group:([^:]+)(?::\*)?$")

Key = tuple[int, int]  # (timestamp, id): an event's place in its stream


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message, 400)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _token(direction: str, key: Key) -> str:
    """AWS's tokens are `f/` or `b/` and 56 digits; ours encode the (timestamp, id) key."""
    return f"{direction}/{max(key[0], 0):020d}{key[1]:036d}"


def _parse_token(token: str) -> tuple[str, Key]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or len(digits) != 56 or not digits.isdigit():
        raise invalid("The specified nextToken is invalid.")
    return direction, (int(digits[:20]), int(digits[20:]))


def _unopaque(token: str) -> str:
    try:
        return unopaque(token)
    except ValueError as exc:
        raise invalid("The specified nextToken is invalid.") from exc


def _offset(token: str) -> int:
    text = _unopaque(token)
    if not text.isdigit():
        raise invalid("The specified nextToken is invalid.")
    return int(text)


# DescribeLogGroups' and DescribeLogStreams' nextToken and limit; the tokens are opaque offsets.
PAGES = Paginator("nextToken", "nextToken", "limit", PAGE, read=_offset, write=lambda offset: opaque(str(offset)))


def _pattern_sql(pattern: str) -> tuple[str, list[str]]:
    """A filter pattern of terms and quoted phrases as SQL over ``e.message``: plain ones must all occur,
    ``?``-prefixed ones (``?ERROR ?"took too long"``) at least one of them; case-sensitive, as on AWS."""
    if pattern.lstrip().startswith(("{", "[")):
        raise invalid(
            "localcloud supports filter patterns of terms and quoted phrases, not JSON or space-delimited patterns."
        )
    every, any_of = [], []
    for optional, quoted, bare in _TERM.findall(pattern):
        (any_of if optional else every).append(quoted or bare)
    clauses = ["instr(e.message, ?) > 0"] * len(every)
    if any_of:
        clauses.append("(" + " OR ".join(["instr(e.message, ?) > 0"] * len(any_of)) + ")")
    return " AND ".join(clauses), [*every, *any_of]


class Logs(Service):
    model_name = "logs"
    validation_code = "InvalidParameterException"  # CloudWatch Logs' code for input its model refuses

    def resource_arns(self, operation: str, params: dict[str, Any], call: Call) -> list[str]:
        group, stream = params.get("logGroupName"), params.get("logStreamName")
        if not group:
            return ["*"]
        arn = f"arn:aws:logs:{call.region}:{call.identity.account}:log-group:{group}"
        return [f"{arn}:log-stream:{stream}" if stream else arn if operation == "CreateLogGroup" else f"{arn}:*"]

    """The `logs` service; `put_events` is the way localcloud's own runners write logs."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.retention = Retention(store, clock or Clock())  # days on the cloud's clock (AWS's by default)
        self.retention.start()

    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Append (timestamp ms, message) events, creating the group and stream on demand."""
        if events:
            self._append(group, stream, events, create=True)

    def _append(self, group: str, stream: str, events: list[tuple[int, str]], *, create: bool) -> None:
        now = _now_ms()
        size = sum(len(message.encode()) + EVENT_OVERHEAD_BYTES for _, message in events)
        first, last = min(ts for ts, _ in events), max(ts for ts, _ in events)
        with self.store.transaction() as db:
            if create:
                db.execute("INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)", (group, now))
                db.execute(
                    "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)", (group, stream, now)
                )
            db.executemany(
                "INSERT INTO log_events (grp, stream, timestamp, ingestion, message) VALUES (?, ?, ?, ?, ?)",
                [(group, stream, ts, now, message) for ts, message in events],
            )
            db.execute(
                "UPDATE log_streams SET first_event = min(coalesce(first_event, ?), ?), "
                "last_event = max(coalesce(last_event, ?), ?), last_ingestion = ?, "
                "stored_bytes = stored_bytes + ? WHERE grp = ? AND name = ?",
                (first, first, last, last, now, size, group, stream),
            )

    # groups and streams ---------------------------------------------------------
    def _group_name(self, params: dict[str, Any]) -> str:
        """logGroupName or logGroupIdentifier (a name or an ARN), exactly one, and it must exist."""
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if (name is None) == (identifier is None):
            raise invalid("Exactly one of logGroupName and logGroupIdentifier must be specified.")
        if identifier is not None:
            match = _ARN.match(identifier)
            name = match.group(1) if match else identifier
        assert name is not None
        if not self.store.query("SELECT 1 FROM log_groups WHERE name = ?", (name,)):
            raise AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400)
        return name

    def _require_stream(self, group: str, stream: str) -> None:
        if not self.store.query("SELECT 1 FROM log_streams WHERE grp = ? AND name = ?", (group, stream)):
            raise AwsError("ResourceNotFoundException", "The specified log stream does not exist.", 400)

    def op_CreateLogGroup(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        with self.store.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)", (p["logGroupName"], _now_ms())
            ).rowcount
        if not inserted:
            raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists", 400)
        return {}

    def op_CreateLogStream(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self._group_name({"logGroupName": p["logGroupName"]})
        with self.store.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                (group, p["logStreamName"], _now_ms()),
            ).rowcount
        if not inserted:
            raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists", 400)
        return {}

    def op_PutRetentionPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        check_days(p["retentionInDays"])
        group = self._group_name({"logGroupName": p["logGroupName"]})
        self.retention.set(group, p["retentionInDays"], _now_ms())
        return {}

    def op_DeleteRetentionPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self._group_name({"logGroupName": p["logGroupName"]})
        self.retention.set(group, None, _now_ms())
        return {}

    def op_DescribeLogGroups(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        if "logGroupNamePrefix" in p and "logGroupNamePattern" in p:
            raise invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive.")
        start, limit = PAGES.window(p)
        rows = self.store.query(
            "SELECT g.name, g.created, coalesce(sum(s.stored_bytes), 0) FROM log_groups g "
            "LEFT JOIN log_streams s ON s.grp = g.name "
            "WHERE instr(lower(g.name), lower(?)) > 0 AND substr(g.name, 1, ?) = ? "
            "GROUP BY g.name ORDER BY g.name LIMIT ? OFFSET ?",
            (
                p.get("logGroupNamePattern", ""),
                len(p.get("logGroupNamePrefix", "")),
                p.get("logGroupNamePrefix", ""),
                limit + 1,
                start,
            ),
        )
        groups = []
        for name, created, stored in rows[:limit]:
            group = {
                "logGroupName": name,
                "creationTime": created,
                "metricFilterCount": 0,
                "storedBytes": stored,
                "arn": f"arn:aws:logs:{call.region}:{ACCOUNT_ID}:log-group:{name}:*",
                "logGroupArn": f"arn:aws:logs:{call.region}:{ACCOUNT_ID}:log-group:{name}",
                "logGroupClass": "STANDARD",
            }
            days = self.retention.days(name)
            if days is not None:  # as on AWS, only a group with a policy shows one
                group["retentionInDays"] = days
            groups.append(group)
        token = PAGES.next(start, limit, len(rows) > limit)
        return {"logGroups": groups, **({"nextToken": token} if token is not None else {})}

    def op_DescribeLogStreams(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self._group_name(p)
        order = p.get("orderBy", "LogStreamName")
        prefix = p.get("logStreamNamePrefix", "")
        if order == "LastEventTime" and prefix:
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        direction = "DESC" if p.get("descending") else "ASC"
        column = "name" if order == "LogStreamName" else f"coalesce(last_event, 0) {direction}, name"
        start, limit = PAGES.window(p)
        rows = self.store.query(
            "SELECT name, created, first_event, last_event, last_ingestion, stored_bytes FROM log_streams "
            f"WHERE grp = ? AND substr(name, 1, ?) = ? ORDER BY {column} {direction} LIMIT ? OFFSET ?",
            (group, len(prefix), prefix, limit + 1, start),
        )
        streams = []
        for name, created, first, last, ingestion, stored in rows[:limit]:
            stream = {
                "logStreamName": name,
                "creationTime": created,
                "storedBytes": stored,
                "arn": f"arn:aws:logs:{call.region}:{ACCOUNT_ID}:log-group:{group}:log-stream:{name}",
            }
            if first is not None:
                stream.update(firstEventTimestamp=first, lastEventTimestamp=last, lastIngestionTime=ingestion)
            streams.append(stream)
        token = PAGES.next(start, limit, len(rows) > limit)
        return {"logStreams": streams, **({"nextToken": token} if token is not None else {})}

    # events ---------------------------------------------------------------------
    def op_PutLogEvents(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self._group_name({"logGroupName": p["logGroupName"]})
        self._require_stream(group, p["logStreamName"])
        events = [(e["timestamp"], e["message"]) for e in p["logEvents"]]
        if any(a[0] > b[0] for a, b in zip(events, events[1:], strict=False)):
            raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
        if events[-1][0] - events[0][0] > 24 * 3600 * 1000:
            raise invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
        now = _now_ms()
        rejected: dict[str, int] = {}
        too_old = [i for i, (ts, _) in enumerate(events) if ts < now - TOO_OLD_MS]
        kept_from = self.retention.oldest_kept_ms(group, now)
        expired = [i for i, (ts, _) in enumerate(events) if kept_from is not None and ts < kept_from]
        too_new = [i for i, (ts, _) in enumerate(events) if ts > now + TOO_NEW_MS]
        if too_old:
            rejected["tooOldLogEventEndIndex"] = too_old[-1] + 1
        if expired:  # older than the group's retention: rejected, as AWS does, while the rest go in
            rejected["expiredLogEventEndIndex"] = expired[-1] + 1
        if too_new:
            rejected["tooNewLogEventStartIndex"] = too_new[0]
        accepted = events[max(len(too_old), len(expired)) : too_new[0] if too_new else len(events)]
        if accepted:
            self._append(group, p["logStreamName"], accepted, create=False)
        result: dict[str, Any] = {"nextSequenceToken": f"{now:056d}"}
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    def op_GetLogEvents(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Pages as AWS does: at either end of the stream the same token comes back."""
        group = self._group_name(p)
        stream = p["logStreamName"]
        self._require_stream(group, stream)
        self.retention.expire(group, _now_ms())
        limit = p.get("limit", MAX_EVENTS)
        where, args = "grp = ? AND stream = ?", [group, stream]
        if "startTime" in p:
            where, args = where + " AND timestamp >= ?", [*args, p["startTime"]]
        if "endTime" in p:
            where, args = where + " AND timestamp < ?", [*args, p["endTime"]]
        token = p.get("nextToken")
        if token:
            direction, key = _parse_token(token)
        else:
            direction, key = ("f", (-1, -1)) if p.get("startFromHead") else ("b", (2**62, 0))
        if direction == "f":
            sql = f"WHERE {where} AND (timestamp, id) > (?, ?) ORDER BY timestamp, id"
        else:
            sql = f"WHERE {where} AND (timestamp, id) < (?, ?) ORDER BY timestamp DESC, id DESC"
        rows = self.store.query(
            f"SELECT timestamp, id, message, ingestion FROM log_events {sql} LIMIT ?", (*args, *key, limit)
        )
        if direction == "b":
            rows.reverse()
        events = [
            {"timestamp": ts, "message": message, "ingestionTime": ingestion} for ts, _, message, ingestion in rows
        ]
        if rows:
            forward, backward = _token("f", rows[-1][:2]), _token("b", rows[0][:2])
        elif token:
            forward = backward = token
        else:
            forward, backward = _token("f", (0, 0)), _token("b", (0, 0))
        return {"events": events, "nextForwardToken": forward, "nextBackwardToken": backward}

    def op_FilterLogEvents(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self._group_name(p)
        self.retention.expire(group, _now_ms())
        where, args = "e.grp = ?", [group]
        if "logStreamNames" in p and "logStreamNamePrefix" in p:
            raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")
        if "logStreamNames" in p:
            names = p["logStreamNames"]
            where, args = where + f" AND e.stream IN ({','.join('?' * len(names))})", [*args, *names]
        if "logStreamNamePrefix" in p:
            prefix = p["logStreamNamePrefix"]
            where, args = where + " AND substr(e.stream, 1, ?) = ?", [*args, len(prefix), prefix]
        if "startTime" in p:
            where, args = where + " AND e.timestamp >= ?", [*args, p["startTime"]]
        if "endTime" in p:
            where, args = where + " AND e.timestamp <= ?", [*args, p["endTime"]]
        matching, terms = _pattern_sql(p.get("filterPattern", ""))
        if matching:
            where, args = f"{where} AND {matching}", [*args, *terms]
        if p.get("nextToken"):
            after = _unopaque(p["nextToken"]).split(":")
            if len(after) != 2 or not all(part.lstrip("-").isdigit() for part in after):
                raise invalid("The specified nextToken is invalid.")
            where, args = where + " AND (e.timestamp, e.id) > (?, ?)", [*args, int(after[0]), int(after[1])]
        limit = p.get("limit", MAX_EVENTS)
        rows = self.store.query(
            f"SELECT e.stream, e.timestamp, e.id, e.message, e.ingestion FROM log_events e WHERE {where} "
            "ORDER BY e.timestamp, e.id LIMIT ?",
            (*args, limit + 1),
        )
        events = [
            {
                "logStreamName": stream,
                "timestamp": ts,
                "message": message,
                "ingestionTime": ingestion,
                "eventId": str(event_id),
            }
            for stream, ts, event_id, message, ingestion in rows[:limit]
        ]
        result: dict[str, Any] = {"events": events}
        if len(rows) > limit:
            last = rows[limit - 1]
            result["nextToken"] = opaque(f"{last[1]}:{last[2]}")
        return result
