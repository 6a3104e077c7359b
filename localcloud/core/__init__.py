"""localcloud's core: the HTTP server, the service registry, the wire protocols (codecs), state, pagination, processes
and bootstrap, and the small interfaces through which one service reaches another (an object store, metric and log
sinks) with the helpers they share (background publishers, the metric-period clock, localcloud's log, its AWS
profile). Knows no AWS service."""
