"""The overview: what the dashboard is connected to, what runs and what it costs."""
