"""The parts of a policy that compare text with a request: wildcards, condition operators with their set
qualifiers, and policy variables, as the IAM User Guide documents them.

- A condition on a key the request lacks is false, except for the negated operators (`StringNotEquals`,
  `ArnNotLike`, `NotIpAddress`, ...), `...IfExists` and `Null` ("condition operators").
- `ForAllValues:` is true when every value of the request's set matches, and so when the key is absent or its
  set empty; `ForAnyValue:` needs one value that matches, so it is false when the key is absent. A negated
  operator is negated per value: `ForAllValues:StringNotEquals` means no value equals any policy value
  ("single-valued vs multivalued context keys"). A plain operator on a multivalued key does not match.
- `${key}` in a Resource or in a string or ARN condition value (2012-10-17 documents only) is the request's
  value of `key`; `${key, 'default'}` falls back to the default; `${*}`, `${?}` and `${$}` are those characters
  taken literally. A variable without a value matches nothing ("policy variables").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

# Stand-ins for `*` and `?` that must match only themselves: a `${*}` or `${?}`, and any `*`/`?` inside a
# substituted value. Unicode private-use code points, so no real ARN or key value contains them.
LITERAL_STAR, LITERAL_QUESTION = "\ue000", "\ue001"
_AS_TYPED = str.maketrans({LITERAL_STAR: "*", LITERAL_QUESTION: "?"})
_LITERALLY = str.maketrans({"*": LITERAL_STAR, "?": LITERAL_QUESTION})
VARIABLES_VERSION = "2012-10-17"  # the 2008-10-17 language has no policy variables


class RequestContext:
    """A request's condition keys (names case-insensitive) and which of them hold a set of values."""

    def __init__(self, entries: Mapping[str, Sequence[str]] | None = None, multivalued: Iterable[str] = ()) -> None:
        self._values = {name.lower(): tuple(values) for name, values in (entries or {}).items()}
        self._multivalued = {name.lower() for name in multivalued}

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._values

    def values(self, key: str) -> tuple[str, ...] | None:
        """The key's values; None when the request lacks the key or holds no value for it (null)."""
        return self._values.get(key.lower()) or None

    def is_set(self, key: str) -> bool:
        """A multivalued key (a list type, or more than one value), which only set operators compare."""
        return key.lower() in self._multivalued or len(self._values.get(key.lower(), ())) > 1


# ---------------------------------------------------------------- wildcards


@lru_cache(maxsize=4096)  # bounded: resolved variables make patterns of request values
def glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """`*` any run of characters, `?` one character; the literal stand-ins only themselves."""
    parts = {"*": ".*", "?": ".", LITERAL_STAR: re.escape("*"), LITERAL_QUESTION: re.escape("?")}
    regex = "".join(parts.get(c) or re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return glob(pattern, ignore_case=True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """ARN wildcards: `*` alone matches everything; otherwise each of the six segments on its own."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return glob(pattern, ignore_case=False).fullmatch(arn) is not None
    return all(glob(w, ignore_case=False).fullmatch(h) is not None for w, h in zip(want, have, strict=True))


# ---------------------------------------------------------------- policy variables

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_INSIDE = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_SPECIAL = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}


def variable_keys(text: str) -> list[str]:
    """The context keys `${...}` variables in `text` read (not the `${*}`-style escapes)."""
    keys = []
    for inside in _VARIABLE.findall(text):
        found = _INSIDE.fullmatch(inside)
        if inside not in _SPECIAL and found:
            keys.append(found.group(1))
    return keys


def resolve(text: str, context: RequestContext, *, unresolved: str | None = None) -> str | None:
    """`text` with its variables replaced (substituted text stands for itself: its `*` is no wildcard). None
    when a variable has no value and no default, unless `unresolved` is given to stand in for it."""
    if "${" not in text:
        return text
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        inside = match.group(1)
        if inside in _SPECIAL:
            return _SPECIAL[inside]
        found = _INSIDE.fullmatch(inside)
        values = context.values(found.group(1)) if found else None
        if found and values is not None and not context.is_set(found.group(1)):
            return values[0].translate(_LITERALLY)
        if found and found.group(2) is not None:
            return found.group(2).replace("''", "'").translate(_LITERALLY)
        missing = True
        return unresolved or ""

    resolved = _VARIABLE.sub(substitute, text)
    return None if missing and unresolved is None else resolved


# ---------------------------------------------------------------- operators


def _number(text: str) -> float:
    return float(text)


def parse_date(text: str) -> float:
    """Epoch seconds or ISO 8601 (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _ip(value: str, network: str) -> bool:
    return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)


def _binary(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _equal(value: str, pattern: str) -> bool:
    return value == pattern.translate(_AS_TYPED)


def _equal_ignoring_case(value: str, pattern: str) -> bool:
    return value.lower() == pattern.translate(_AS_TYPED).lower()


def _like(value: str, pattern: str) -> bool:
    return glob(pattern, ignore_case=False).fullmatch(value) is not None


def _arn(value: str, pattern: str) -> bool:
    return resource_matches(pattern, value)


# operator -> (test(request value, policy value), negated); a negated operator is true when no policy value hits
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equal, False),
    "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (_equal_ignoring_case, False),
    "StringNotEqualsIgnoreCase": (_equal_ignoring_case, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "NumericEquals": (lambda v, p: _number(v) == _number(p), False),
    "NumericNotEquals": (lambda v, p: _number(v) == _number(p), True),
    "NumericLessThan": (lambda v, p: _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda v, p: _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda v, p: _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda v, p: _number(v) >= _number(p), False),
    "DateEquals": (lambda v, p: parse_date(v) == parse_date(p), False),
    "DateNotEquals": (lambda v, p: parse_date(v) == parse_date(p), True),
    "DateLessThan": (lambda v, p: parse_date(v) < parse_date(p), False),
    "DateLessThanEquals": (lambda v, p: parse_date(v) <= parse_date(p), False),
    "DateGreaterThan": (lambda v, p: parse_date(v) > parse_date(p), False),
    "DateGreaterThanEquals": (lambda v, p: parse_date(v) >= parse_date(p), False),
    "Bool": (lambda v, p: v.lower() == p.lower(), False),
    "BinaryEquals": (lambda v, p: _binary(v) == _binary(p), False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn, False),
    "ArnLike": (_arn, False),
    "ArnNotEquals": (_arn, True),
    "ArnNotLike": (_arn, True),
}
NULL = "Null"  # no comparison: whether the key is absent


def variables_allowed(operator: str) -> bool:
    """String and ARN operators' values may hold policy variables."""
    return parse_operator(operator)[1].startswith(("String", "Arn"))


def parse_operator(operator: str) -> tuple[str | None, str, bool]:
    """`ForAllValues:StringLikeIfExists` -> ("ForAllValues", "StringLike", True)."""
    qualifier, _, name = operator.rpartition(":")
    base = name.removesuffix("IfExists")
    return qualifier or None, base, base != name


def condition_holds(operator: str, key: str, patterns: list[str], context: RequestContext, *, variables: bool) -> bool:
    """One key of one condition operator against the request, as IAM evaluates it."""
    qualifier, base, if_exists = parse_operator(operator)
    values = context.values(key)
    if base == NULL:  # "true": the key must be absent (or null); "false": present
        return any((p.lower() == "true") == (values is None) for p in patterns)
    test, negated = OPERATORS[base]
    if variables and variables_allowed(operator):
        patterns = [text for p in patterns if (text := resolve(p, context)) is not None]

    def hits(value: str) -> bool:
        """Any policy value matches this request value (none does, for a negated operator)."""
        hit = False
        for pattern in patterns:
            try:
                hit = test(value, pattern)
            except (ValueError, TypeError, binascii.Error):  # not a number, date, address ...: no match
                hit = False
            if hit:
                break
        return hit != negated

    if qualifier == "ForAllValues":
        return values is None or all(hits(v) for v in values)
    if qualifier == "ForAnyValue":
        return values is not None and any(hits(v) for v in values)
    if values is None:
        return if_exists or negated
    return not context.is_set(key) and hits(values[0])
