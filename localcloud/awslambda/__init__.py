"""AWS Lambda: functions, versions and aliases, concurrency, the environment pool and the runtime that runs a
handler."""
