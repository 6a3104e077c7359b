"""The JSONPath subset batch transform's DataProcessing accepts (AWS's "supported JSONPath operators").

`$` the root; `.<name>` a child; `['<name>' (,'<name>')]` one child or several; `[<n> (,<n>)]` an index or
several (negative counts from the end); `[<start>:<end>]` a slice, also mixed with indexes (`$[0,5:]`); `*` or
`[*]` every child. Several names select an object of those keys, several indexes or a slice a list, one name or
index the value itself; a selection of several can only end the path, as AWS allows no nesting below one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_QUOTED = r"'[^']*'|\"[^\"]*\""
_STEP = re.compile(rf"\.(?P<dot>{_NAME}|\*)|\[(?P<bracket>[^\[\]]+)\]")
_INDEX = re.compile(r"^-?\d+$")
_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")


class PathError(ValueError):
    """A path the subset does not accept, or one that does not fit the record."""


@dataclass(frozen=True)
class _Step:
    names: tuple[str, ...] = ()  # children by name
    picks: tuple[int | slice, ...] = ()  # elements by index or slice
    every: bool = False  # `*`

    @property
    def many(self) -> bool:
        return self.every or len(self.names) > 1 or len(self.picks) > 1 or any(isinstance(p, slice) for p in self.picks)


def _bracket(text: str) -> _Step:
    parts = [part.strip() for part in text.split(",")]
    if parts == ["*"]:
        return _Step(every=True)
    if all(re.fullmatch(_QUOTED, part) for part in parts):
        return _Step(names=tuple(part[1:-1] for part in parts))
    picks: list[int | slice] = []
    for part in parts:
        if _INDEX.match(part):
            picks.append(int(part))
        elif match := _SLICE.match(part):
            start, end = (int(bound) if bound else None for bound in match.groups())
            picks.append(slice(start, end))
        else:
            raise PathError(f"[{text}] is neither names in quotes, indexes nor a slice")
    return _Step(picks=tuple(picks))


def parse(path: str) -> tuple[_Step, ...]:
    """The steps of `path`; PathError when it is outside the subset."""
    path = path.strip()
    if not path.startswith("$"):
        raise PathError(f"{path!r} does not start at the root, $")
    steps, position = [], 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise PathError(f"{path!r} cannot be read from {path[position:]!r}")
        dot = match.group("dot")
        steps.append(_Step(every=True) if dot == "*" else _Step(names=(dot,)) if dot else _bracket(match["bracket"]))
        position = match.end()
    if any(step.many for step in steps[:-1]):
        raise PathError(f"{path!r} selects several elements before its last step, which batch transform does not allow")
    return tuple(steps)


def select(value: Any, path: str) -> Any:
    """The part of a JSON value that `path` selects; PathError when the value has no such part."""
    for step in parse(path):
        value = _apply(value, step)
    return value


def _apply(value: Any, step: _Step) -> Any:
    if step.every:
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return list(value)
        raise PathError("* applies to an object or an array")
    if step.names:
        if not isinstance(value, dict):
            raise PathError(f"{list(step.names)} names keys, but the record there is not a JSON object")
        missing = [name for name in step.names if name not in value]
        if missing:
            raise PathError(f"the record has no key {missing[0]!r}")
        return value[step.names[0]] if len(step.names) == 1 else {name: value[name] for name in step.names}
    if not isinstance(value, list):
        raise PathError("an index or slice applies to a JSON array, and the record there is not one")
    if not step.many:
        index = step.picks[0]
        assert isinstance(index, int)
        if not -len(value) <= index < len(value):
            raise PathError(f"index {index} is outside the array of {len(value)}")
        return value[index]
    chosen: list[Any] = []
    for pick in step.picks:
        if isinstance(pick, slice):
            chosen.extend(value[pick])
        elif -len(value) <= pick < len(value):
            chosen.append(value[pick])
        else:
            raise PathError(f"index {pick} is outside the array of {len(value)}")
    return chosen
