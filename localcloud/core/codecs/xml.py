"""XML both ways from output and input shapes, for the query, EC2 and REST-XML protocols.

The three differ only in how a list's items are named: query wraps them in `<member>`,
EC2 in `<item>`, REST-XML in the member's `locationName`; a `flattened` list repeats its
element instead of wrapping it (EC2 ignores `flattened`, as its serializer does).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from botocore.model import Shape

from localcloud.core.codecs.values import from_text, to_text, xml_escape
from localcloud.core.protocol import AwsError


def _wire_name(member: Shape, name: str) -> str:
    return member.serialization.get("name", name)


def content(shape: Shape, value: Any, *, ec2: bool = False) -> str:
    """The inside of an element holding `value`, list items named as the protocol names them."""
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            child = value.get(name)
            if child is None or "location" in member.serialization:
                continue
            parts.append(element(_wire_name(member, name), member, child, ec2=ec2))
        return "".join(parts)
    if kind == "list":
        name = shape.member.serialization.get("name", "item" if ec2 else "member")
        return "".join(element(name, shape.member, item, ec2=ec2) for item in value)
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        return "".join(
            f"<entry>{element(key_name, shape.key, k, ec2=ec2)}{element(value_name, shape.value, v, ec2=ec2)}</entry>"
            for k, v in value.items()
        )
    return xml_escape(to_text(shape, value))


def element(name: str, shape: Shape, value: Any, *, ec2: bool = False) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened") and not ec2:
        item = shape.member.serialization.get("name", name)
        return "".join(element(item, shape.member, v) for v in value)
    return f"<{name}>{content(shape, value, ec2=ec2)}</{name}>"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse(shape: Shape, body: bytes) -> Any:
    """A REST-XML request payload (`<Delete>`, `<CompleteMultipartUpload>`) as params."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise AwsError(
            "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."
        ) from exc
    return _from_node(shape, root)


def _from_node(shape: Shape, node: ElementTree.Element) -> Any:
    kind = shape.type_name
    if kind == "structure":
        params: dict[str, Any] = {}
        children = list(node)
        for name, member in shape.members.items():
            wire = _wire_name(member, name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                item = member.member.serialization.get("name", wire)
                found = [c for c in children if _local(c.tag) == item]
                if found:
                    params[name] = [_from_node(member.member, c) for c in found]
                continue
            match = next((c for c in children if _local(c.tag) == wire), None)
            if match is not None:
                params[name] = _from_node(member, match)
        return params
    if kind == "list":
        return [_from_node(shape.member, child) for child in node]
    if kind == "map":
        return {
            (entry.findtext("key") or ""): _from_node(shape.value, entry.find("value"))  # type: ignore[arg-type]
            for entry in node
        }
    return from_text(shape, node.text or "", _local(node.tag))
