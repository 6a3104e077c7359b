"""Fewer glibc malloc arenas for localcloud and the model-serving processes it starts.

glibc gives each thread that allocates its own arena (up to 8 per core), and memory freed in one stays
mapped there: a server with a thread per connection holds tens of megabytes it no longer uses. Two arenas
keep localcloud about 40 MB and an endpoint instance about 13 MB smaller, with no measurable cost in
latency, because these processes spend their time in I/O and in the model, not in malloc. Training
processes keep glibc's default arenas: PyTorch allocates from many threads.
"""

from __future__ import annotations

from classifier.allocator import M_ARENA_MAX, mallopt

MAX_ARENAS = 2
SERVING_ENV = {"MALLOC_ARENA_MAX": str(MAX_ARENAS)}  # for the processes localcloud starts to serve requests


def limit_malloc_arenas() -> None:
    """Apply the limit to this process; call it before threads start. Nothing happens outside glibc."""
    mallopt(M_ARENA_MAX, MAX_ARENAS)
