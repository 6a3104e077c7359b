"""Data capture: an endpoint config's DataCaptureConfig (capture_config.py) and the writer that honours it off the
request path (capture_writer.py)."""
