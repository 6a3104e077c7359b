"""Lambda functions: configuration, versions and aliases, concurrency, metrics and test events."""
