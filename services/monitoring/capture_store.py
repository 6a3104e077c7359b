"""Reading a day of an endpoint's captures through their summaries.

Captures are `<destination>/<endpoint>/<variant>/YYYY/MM/DD/HH/<file>.jsonl`. Each hour's file summaries are
kept beside its folder, in `.../YYYY/MM/DD/HH.summary.json`, keyed by each file's key and ETag, with their sum:
a draw lists the day (one listing per variant, which also gives every summary's ETag), reads the hour summaries it
has not read before, uses an hour's sum while its files are the ones summed, and opens only capture files no
summary has counted yet (the current hour's new ones). Summaries are a
cache: deleting them costs one slow draw, never data.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.monitoring.capture_records import UnreadableRecord, input_bytes
from services.monitoring.capture_setup import CaptureSetup
from services.monitoring.capture_summary import SUMMARY_VERSION, FileSummary, ReviewCandidate, summarize_file

SUMMARY_SUFFIX = ".summary.json"
_CAPTURE = re.compile(r"(?P<hour>\d{4}/\d{2}/\d{2}/\d{2})/[^/]+\.jsonl$")
_WORKERS = 8
_MEMO_HOURS = 2048  # parsed hour summaries kept in the process, by key and ETag
_MEMO_FILES = 8  # capture file bodies kept for the review queue's photos

_memo_lock = threading.Lock()
_hour_memo: OrderedDict[tuple[str, str, str], tuple[dict[str, Any], FileSummary]] = OrderedDict()
_file_memo: OrderedDict[tuple[str, str], bytes] = OrderedDict()


@dataclass
class DayCaptures:
    """A day of one endpoint's captures, summed, and how it was read."""

    day: date
    summary: FileSummary
    files: int = 0
    summarised_now: int = 0
    notes: list[str] = field(default_factory=list)


class CaptureStore(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def day(self, setup: CaptureSetup, day: date) -> DayCaptures:
        """The day's summary over every variant; new capture files are summarised and their summaries stored."""
        if not setup.destination:
            raise ServiceError(f"Endpoint '{setup.endpoint}' has no data capture destination.")
        listed: dict[str, dict[str, str]] = {}  # hour folder → {capture key: ETag}
        summaries: dict[str, str] = {}  # summary key → ETag
        for variant in setup.variants:
            prefix = f"{setup.prefix}{variant}/{day:%Y/%m/%d}/"
            for obj in self._list(setup.bucket, prefix):
                key = obj["Key"]
                if key.endswith(SUMMARY_SUFFIX):
                    summaries[key] = obj["ETag"]
                elif match := _CAPTURE.search(key):
                    folder = key[: match.start("hour")] + match.group("hour")
                    listed.setdefault(folder, {})[key] = obj["ETag"]
        result = DayCaptures(day, FileSummary(), files=sum(len(files) for files in listed.values()))
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            hours = list(pool.map(lambda item: self._hour(setup.bucket, *item, summaries), listed.items()))
        for summary, fresh, notes in hours:
            result.summary.add(summary)
            result.summarised_now += fresh
            result.notes += [note for note in notes if note not in result.notes]
        return result

    def photo(self, bucket: str, candidate: ReviewCandidate) -> tuple[bytes, str | None]:
        """The photo a captured request sent, read from its capture file (kept for the next few photos)."""
        body = self._capture_file(bucket, candidate.key)
        lines = body.splitlines()
        if candidate.line >= len(lines):
            raise ServiceError(f"s3://{bucket}/{candidate.key} has no line {candidate.line + 1} any more.")
        try:
            return input_bytes(lines[candidate.line])
        except UnreadableRecord as exc:
            raise ServiceError(f"The capture of request {candidate.event_id} holds no readable photo: {exc}.") from exc

    # -- one hour ----------------------------------------------------------------------------------------
    def _hour(
        self, bucket: str, folder: str, files: dict[str, str], summaries: dict[str, str]
    ) -> tuple[FileSummary, int, list[str]]:
        summary_key = folder + SUMMARY_SUFFIX
        stored, stored_total = self._stored_hour(bucket, summary_key, summaries.get(summary_key))
        known = {
            key: entry for key, entry in stored.items() if files.get(key) == entry["etag"]
        }  # a rewritten or deleted file is counted again, or no more
        missing = [key for key in files if key not in known]
        if not missing and len(known) == len(stored) and stored_total is not None:
            return stored_total, 0, []  # the hour as it was summed last time: no file summary opened
        hour_of = datetime.strptime(folder[-13:], "%Y/%m/%d/%H").replace(tzinfo=UTC)
        notes = []
        for key in missing:
            try:
                known[key] = {"etag": files[key], "summary": self._summarise(bucket, key, hour_of).to_json()}
            except ServiceError as exc:  # one unreadable file leaves the others counted
                notes.append(exc.message)
        total = FileSummary()
        for entry in known.values():
            total.add(FileSummary.from_json(entry["summary"]))
        note = self._store_hour(bucket, summary_key, known, total)
        return total, len(missing), notes + ([note] if note else [])

    def _stored_hour(self, bucket: str, key: str, etag: str | None) -> tuple[dict[str, Any], FileSummary | None]:
        """The hour's file summaries by key, and their sum as stored (None when there is none to trust)."""
        if etag is None:
            return {}, None
        with _memo_lock:
            if (bucket, key, etag) in _hour_memo:
                _hour_memo.move_to_end((bucket, key, etag))
                files, total = _hour_memo[(bucket, key, etag)]
                return dict(files), total
        try:
            data = json.loads(self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        except BOTO_ERRORS:
            return {}, None  # gone since the listing: count its files again
        except ValueError:
            return {}, None  # not ours, or cut short: recomputed and overwritten
        if not isinstance(data, dict) or data.get("version") != SUMMARY_VERSION:
            return {}, None  # written by another version of the dashboard: recomputed
        try:
            files, total = dict(data["files"]), FileSummary.from_json(data["total"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return {}, None
        self._remember(bucket, key, etag, files, total)
        return files, total

    def _store_hour(self, bucket: str, key: str, files: dict[str, Any], total: FileSummary) -> str | None:
        stored = {"version": SUMMARY_VERSION, "files": files, "total": total.to_json()}
        body = json.dumps(stored, separators=(",", ":")).encode()
        try:
            etag = self._client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except BOTO_ERRORS as exc:
            reason = from_client_error(exc, what=f"store capture summaries in s3://{bucket}").message
            return f"Summaries are recomputed on each visit: {reason}"
        self._remember(bucket, key, etag["ETag"], files, total)
        return None

    def _summarise(self, bucket: str, key: str, hour: datetime) -> FileSummary:
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read capture file s3://{bucket}/{key}") from exc
        return summarize_file(key, body, file_hour=hour)

    def _remember(self, bucket: str, key: str, etag: str, files: dict[str, Any], total: FileSummary) -> None:
        with _memo_lock:
            _hour_memo[(bucket, key, etag)] = (files, total)
            while len(_hour_memo) > _MEMO_HOURS:
                _hour_memo.popitem(last=False)

    def _capture_file(self, bucket: str, key: str) -> bytes:
        with _memo_lock:
            if (bucket, key) in _file_memo:
                return _file_memo[(bucket, key)]
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read capture file s3://{bucket}/{key}") from exc
        with _memo_lock:
            _file_memo[(bucket, key)] = body
            while len(_file_memo) > _MEMO_FILES:
                _file_memo.popitem(last=False)
        return body

    def _list(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        try:
            pages = self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [obj for page in pages for obj in page.get("Contents", [])]
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            raise from_client_error(exc, what=f"list captures in s3://{bucket}/{prefix}") from exc
