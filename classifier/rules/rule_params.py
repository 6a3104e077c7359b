"""Rule parameters as Debugger took them (strings in RuleParameters, beside ``rule_to_invoke``), checked
against each parameter's type and range, so a bad value is refused with a sentence before anything runs."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RULE_STATUSES = ("InProgress", "NoIssuesFound", "IssuesFound", "Error", "Stopping", "Stopped")


class RuleParameterError(ValueError):
    """A rule parameter of the wrong type or out of range; the message names it and what is allowed."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """True when ``low`` itself is not allowed (a threshold that must be above 0)."""
    choices: tuple[str, ...] = ()
    help: str = ""

    def parse(self, raw: object) -> Any:
        """The typed value of ``raw`` (a RuleParameters string, or a typed value from the dashboard)."""
        text = str(raw).strip()
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise RuleParameterError(f"{self.name} must be True or False, got {raw!r}.")
        if self.kind is str:
            if self.choices and text and text.upper() not in self.choices:
                raise RuleParameterError(f"{self.name} must be one of {', '.join(self.choices)} or empty, got {raw!r}.")
            return text.upper() if self.choices else text
        try:
            value = self.kind(text) if not isinstance(raw, bool) else None
        except ValueError:
            value = None
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            kind = "an integer" if self.kind is int else "a number"
            raise RuleParameterError(f"{self.name} must be {kind}, got {raw!r}.")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        if too_low or (self.high is not None and value > self.high):
            raise RuleParameterError(f"{self.name} must be {self.range_text()}, got {raw!r}.")
        return value

    def range_text(self) -> str:
        low = "" if self.low is None else f"{'above' if self.low_open else 'at least'} {self.low:g}"
        high = "" if self.high is None else f"at most {self.high:g}"
        return " and ".join(part for part in (low, high) if part) or "any value"


@dataclass(frozen=True)
class RuleSpec:
    """A rule's name, its parameters with SageMaker's defaults, and what to do when it fires."""

    name: str
    parameters: tuple[Parameter, ...]
    advice: str
    about: str = ""
    extra: tuple[str, ...] = field(default=())
    """Parameters Debugger accepted that change nothing here (collections of smdebug's own hook)."""

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def parse(self, raw: Mapping[str, object]) -> dict[str, Any]:
        """Typed parameters: the defaults overridden by ``raw`` (``rule_to_invoke`` and the accepted extras
        ignored); an unknown name or a bad value raises RuleParameterError."""
        known = {p.name: p for p in self.parameters}
        values = self.defaults()
        for key, value in raw.items():
            if key == "rule_to_invoke" or key in self.extra:
                continue
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                raise RuleParameterError(f"{self.name} has no parameter {key!r}; its parameters are {names}.")
            values[key] = known[key].parse(value)
        return values
