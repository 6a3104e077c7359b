"""UI building blocks shared by the pages: settings sidebar, charts, formatting, per-session caches."""
