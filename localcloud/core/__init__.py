"""localcloud's core: the HTTP server, the service registry, the wire protocols (codecs), state, pagination, processes
and bootstrap. Knows no AWS service."""
