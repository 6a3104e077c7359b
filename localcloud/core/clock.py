"""localcloud's sense of AWS time, shared by CloudWatch's alarms and Application Auto Scaling's cooldowns:
one "minute" lasts `--metric-period-seconds` (60 unless shortened for demos and tests), and every AWS
period and duration scales with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """How long AWS's one-minute period lasts here; AWS's durations scale with it."""

    period_s: float = 60.0

    def seconds(self, aws_seconds: float) -> float:
        return aws_seconds * self.period_s / 60.0
