"""CloudTrail: the event history of every authorised or refused request (LookupEvents)."""
