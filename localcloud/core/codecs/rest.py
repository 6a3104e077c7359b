"""What REST-JSON and REST-XML share: routing a method and path to an operation by its
`requestUri`, and reading the members bound to the URI, the query string and headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from localcloud.core.codecs.values import from_text, to_text
from localcloud.core.protocol import STATUS, AwsError, Request, Response


@dataclass(frozen=True)
class Route:
    method: str
    path: re.Pattern[str]
    literal_query: dict[str, str | None]  # `?uploads`, `?list-type=2` in the requestUri
    required_query: frozenset[str]  # querystring members the operation cannot do without
    required_headers: frozenset[str]  # likewise headers (CopyObject's x-amz-copy-source)
    operation: OperationModel

    def fits(self, request: Request, query: dict[str, list[str]]) -> re.Match[str] | None:
        if request.method != self.method:
            return None
        if not all(name in request.headers for name in self.required_headers):
            return None
        for key, value in self.literal_query.items():
            if key not in query or (value is not None and query[key][0] != value):
                return None
        if not self.required_query <= query.keys():
            return None
        return self.path.match(request.path)

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Literal segments, query keys and headers beat placeholders; try the most specific first."""
        pattern = self.path.pattern
        required = len(self.literal_query) + len(self.required_query) + len(self.required_headers)
        return (required, pattern.count("/"), -pattern.count("(?P"))


@cache
def routes(model: ServiceModel) -> list[Route]:
    table = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri, _, literal = operation.http["requestUri"].partition("?")
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", uri)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        literal_query: dict[str, str | None] = {}
        for pair in filter(None, literal.split("&")):
            key, has_value, value = pair.partition("=")
            if key != "x-id":  # the SDK's own operation hint, not something the server needs
                literal_query[key] = value if has_value else None
        table.append(
            Route(
                operation.http["method"],
                re.compile(regex.rstrip("/") + "/?$"),
                literal_query,
                _required_at(operation, "querystring"),
                frozenset(name.lower() for name in _required_at(operation, "header")),
                operation,
            )
        )
    table.sort(key=lambda r: r.specificity, reverse=True)
    return table


def _required_at(operation: OperationModel, location: str) -> frozenset[str]:
    shape = operation.input_shape
    if shape is None:
        return frozenset()
    return frozenset(
        shape.members[m].serialization.get("name", m)
        for m in shape.required_members
        if shape.members[m].serialization.get("location") == location
    )


def route(model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, str], dict[str, list[str]]]:
    """The operation a REST request calls, its URI labels and its query string."""
    query = parse_qs(request.query, keep_blank_values=True)
    for candidate in routes(model):
        match = candidate.fits(request, query)
        if match:
            return candidate.operation, {k: unquote(v) for k, v in match.groupdict().items()}, query
    raise AwsError("UnknownOperationException", f"No operation for {request.method} {request.path}", 404)


def operation_in_head(model: ServiceModel, request: Request) -> str | None:
    """The operation's name, if the method, path, query string and headers route to one."""
    try:
        return route(model, request)[0].name
    except AwsError:
        return None


def bound_members(
    shape: Shape, labels: dict[str, str], query: dict[str, list[str]], request: Request
) -> tuple[dict[str, Any], dict[str, Shape]]:
    """Members bound to the URI, query string and headers; and the members left for the body."""
    params: dict[str, Any] = {}
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif location == "querystring":
            if member.type_name == "map":
                params[name] = {k: v[0] for k, v in query.items()}
            elif wire in query:
                values = query[wire]
                params[name] = (
                    [from_text(member.member, v, wire) for v in values]
                    if member.type_name == "list"
                    else from_text(member, values[0], wire)
                )
        elif location == "header":
            text = request.header(wire)
            if text is not None:
                params[name] = from_text(member, text, wire)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in request.headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif location is None:
            body_members[name] = member
    return params, body_members


def start_response(operation: OperationModel, output: dict[str, Any]) -> Response:
    """A REST answer's status (the model's, a `statusCode` member's, or an operation's STATUS override) and
    the output members that travel as headers; the codec adds the body."""
    response = Response(output.pop(STATUS, None) or operation.http.get("responseCode", 200))
    shape = operation.output_shape
    if shape is None:
        return response
    for name, value in output.items():
        member = shape.members.get(name)
        if member is None or value is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            response.headers[member.serialization.get("name", name)] = to_text(member, value)
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            response.headers.update({f"{prefix}{k}": str(v) for k, v in value.items()})
        elif location == "statusCode":
            response.status = int(value)
    return response
