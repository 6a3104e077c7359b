"""Form-encoded input (`Action=…&Name.member.1=…`) read through an operation's input shape.

The query protocol names list items `Name.member.N` (or `Name.N` when flattened) and map
entries `Name.entry.N.key`; EC2 names list items `Name.N` and uses `queryName`s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from botocore.model import Shape

from localcloud.core.codecs.values import from_text
from localcloud.core.protocol import Request, validation


def read_call(request: Request) -> tuple[str, dict[str, str]]:
    """The `Action` a query-style request names, and its other fields (the API `Version` dropped)."""
    text = request.body.decode("utf-8", "replace") if request.body else request.query
    fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    action = fields.pop("Action", "")
    fields.pop("Version", None)
    return action, fields


def action_in_query(request: Request) -> str | None:
    """The `Action` when the query string names it (a POSTed form names it in the body, not read yet)."""
    return parse_qs(request.query).get("Action", [None])[0]


def _index(text: str) -> int:
    if not text.isdigit():
        raise validation(f"Invalid list index: {text}")
    return int(text)


def _indices(form: dict[str, str], prefix: str) -> list[str]:
    found = {k[len(prefix) + 1 :].split(".", 1)[0] for k in form if k.startswith(prefix + ".")}
    return sorted(found, key=_index)


def _has(form: dict[str, str], prefix: str) -> bool:
    return prefix in form or any(k.startswith(prefix + ".") for k in form)


def decode(shape: Shape, form: dict[str, str], prefix: str, *, ec2: bool) -> Any:
    """The value under `prefix` (the top-level structure when prefix is empty)."""
    if prefix and not _has(form, prefix):
        return None
    kind = shape.type_name
    if kind == "structure":
        members = {}
        for name, member in shape.members.items():
            key = _member_key(member, name, ec2=ec2)
            value = decode(member, form, f"{prefix}.{key}" if prefix else key, ec2=ec2)
            if value is not None:
                members[name] = value
        return members
    if kind == "list":
        base = prefix if ec2 or shape.serialization.get("flattened") else f"{prefix}.member"
        if not ec2 and not shape.serialization.get("flattened") and prefix in form and form[prefix] == "":
            return []  # `Name=` is how the query protocol sends an empty list
        return [decode(shape.member, form, f"{base}.{i}", ec2=ec2) for i in _indices(form, base)]
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        return {
            form.get(f"{base}.{i}.{key_name}", ""): decode(shape.value, form, f"{base}.{i}.{value_name}", ec2=ec2)
            for i in _indices(form, base)
        }
    return from_text(shape, form[prefix], prefix)


def _member_key(member: Shape, name: str, *, ec2: bool) -> str:
    """The name a member has on the wire (botocore's QuerySerializer / EC2Serializer)."""
    if ec2:
        if "queryName" in member.serialization:
            return member.serialization["queryName"]
        wire = member.serialization.get("name")
        return wire[0].upper() + wire[1:] if wire else name
    return member.serialization.get("name", name)
