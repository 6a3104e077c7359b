"""Keep the memory PyTorch frees for its next batch instead of handing it back to the kernel.

A CPU forward pass of EfficientNet-Lite0 allocates and frees activation buffers of tens of megabytes per
layer. glibc serves each such block with a fresh ``mmap`` and unmaps it on free, so every layer of every
batch pays for page faults that zero new pages: measured here, more kernel time than compute (a batch of 32
through the trunk: 24 images/s on 2 cores; 65 with the buffers kept). Raising glibc's mmap and trim
thresholds keeps them in the heap and reuses them. Elsewhere (macOS, musl) this does nothing.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 2**31
"""Blocks up to this size come from the heap, and up to this much free heap top is kept."""


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse large blocks rather than map and unmap them; True where it took."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: its allocator has no such knobs
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
