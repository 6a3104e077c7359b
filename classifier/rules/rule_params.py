"""Rule parameters as Debugger took them (strings in RuleParameters, beside ``rule_to_invoke``), checked
against each parameter's type and range, so a bad value is refused with a sentence before anything runs.

Every parameter a rule accepts changes what it judges; a parameter Debugger documented that this recording
cannot honour is refused with the reason (``RuleSpec.refused``) rather than accepted and ignored."""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

RULE_STATUSES = ("InProgress", "NoIssuesFound", "IssuesFound", "Error", "Stopping", "Stopped")
"""botocore's RuleEvaluationStatus enum."""


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
    """For a string: the values allowed (any case; the value comes back spelt as here), or empty for any."""
    many: bool = False
    """For a string with choices: a comma-separated list of them (Debugger's ``collection_names``)."""
    pattern: bool = False
    """For a string: regular expressions, comma-separated as Debugger's ``tensor_regex`` takes them."""
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
            if self.pattern:
                for expression in patterns(text):
                    try:
                        re.compile(expression)
                    except re.error as exc:
                        raise RuleParameterError(
                            f"{self.name} holds {expression!r}, which is not a regular expression: {exc}."
                        ) from None
            return self._choice(text, raw) if self.choices else text
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

    def _choice(self, text: str, raw: object) -> str:
        spelt = {choice.lower(): choice for choice in self.choices}
        names = [name.strip() for name in text.split(",")] if self.many else [text]
        names = [name for name in names if name]
        wrong = [name for name in names if name.lower() not in spelt]
        if wrong or (len(names) > 1 and not self.many):
            allowed = ", ".join(self.choices)
            what = "a comma-separated list of" if self.many else "one of"
            raise RuleParameterError(f"{self.name} must be {what} {allowed} or empty, got {raw!r}.")
        return ",".join(spelt[name.lower()] for name in names)

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
    refused: Mapping[str, str] = field(default_factory=dict)
    """Parameters Debugger documented for this rule that this recording cannot honour -> why."""
    check: Callable[[dict[str, Any]], None] | None = None
    """Refuses (RuleParameterError) parameters that are each valid but make no sense together."""

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def parse(self, raw: Mapping[str, object]) -> dict[str, Any]:
        """Typed parameters: the defaults overridden by ``raw`` (``rule_to_invoke`` ignored); an unknown name, a
        refused one or a bad value raises RuleParameterError naming the parameters the rule takes."""
        known = {p.name: p for p in self.parameters}
        values = self.defaults()
        for key, value in raw.items():
            if key == "rule_to_invoke":
                continue
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                why = f" ({self.refused[key]})" if key in self.refused else ""
                raise RuleParameterError(f"{self.name} has no parameter {key!r}{why}; its parameters are {names}.")
            values[key] = known[key].parse(value)
        if self.check:
            self.check(values)
        return values


def patterns(text: str) -> list[str]:
    """The regular expressions of a ``tensor_regex`` value: split at commas, except those inside ``{m,n}``."""
    return [part.strip() for part in re.split(r",(?![^{]*\})", text) if part.strip()]
