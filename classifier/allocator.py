"""glibc malloc settings for the processes that train and serve the classifier (`mallopt`; elsewhere, such as
macOS or musl, nothing happens).

Training keeps the memory PyTorch frees (`keep_freed_memory`): a CPU forward pass of EfficientNet-Lite0 allocates
and frees activation buffers of tens of megabytes per layer, and glibc serves each with a fresh ``mmap`` and unmaps
it on free, so every layer of every batch pays for page faults that zero new pages. Measured here, that was more
kernel time than compute (a batch of 32 through the trunk: 24 images/s on 2 cores; 65 with the buffers kept).
localcloud's serving processes use the same call to limit their arenas (localcloud/core/memory.py).
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers in glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
KEEP_BYTES = 2**31
"""Blocks up to this size come from the heap, and up to this much free heap top is kept."""


def mallopt(parameter: int, value: int) -> bool:
    """glibc's ``mallopt(parameter, value)``; False where it refused or there is no glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        call = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc: its allocator has no such knobs
        return False
    return bool(call(parameter, value))


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse large blocks rather than map and unmap them; True where it took."""
    return mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) and mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
