"""What one localcloud service is handed of another at wiring time (cloud.py): the Protocols for an object
store, a metric sink and a log sink, and the background writers that batch per-request data through them."""
