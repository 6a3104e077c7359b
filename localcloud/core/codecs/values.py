"""Scalar values between the wire's text and the Python values botocore's validator expects."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import re
from typing import Any

from botocore.model import Shape

from localcloud.core.protocol import validation


def from_text(shape: Shape, text: str, where: str) -> Any:
    """A scalar from a header, a query string, a form field or an XML element."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise validation(f"Value '{text}' at '{where}' is not a valid {kind}") from exc
    return text


def parse_timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return email.utils.parsedate_to_datetime(text)


def epoch(value: dt.datetime | float) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def iso8601(value: dt.datetime | float) -> str:
    when = dt.datetime.fromtimestamp(epoch(value), dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def rfc822(value: dt.datetime | float) -> str:
    return email.utils.formatdate(epoch(value), usegmt=True)


def to_text(shape: Shape, value: Any) -> str:
    """A scalar as XML and headers carry it."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat")
        if fmt == "rfc822" or (fmt is None and shape.serialization.get("location") == "header"):
            return rfc822(value)
        return iso8601(value)
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


# Characters XML 1.0 cannot carry even escaped (C0 controls but tab, newline and return; surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_escape(text: str) -> str:
    """Text safe inside an XML element or attribute: markup escaped, characters XML cannot hold replaced."""
    text = _NOT_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
