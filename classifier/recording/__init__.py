"""The training run's own recording: the writer, the reader and the system monitor."""
