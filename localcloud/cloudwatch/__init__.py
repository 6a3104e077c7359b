"""Amazon CloudWatch: metrics and alarms."""
