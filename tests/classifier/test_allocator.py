"""The training process keeps the large blocks PyTorch frees (glibc's mmap and trim thresholds raised), and
the trunk's channels-last layout computes the same features as the plain one."""

import subprocess
import sys
from pathlib import Path

import torch

from classifier.training.breed_net import BreedNet

ROOT = Path(__file__).resolve().parents[2]


def _mapped_bytes_while_holding_64_mb(keep: bool) -> int:
    """glibc's count of bytes in mmapped blocks (mallinfo2's hblkhd) while a fresh interpreter holds 64 MB."""
    program = (
        "import ctypes\n"
        "from classifier.allocator import keep_freed_memory\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in 'arena ordblks smblks hblks hblkhd usmblks fsmblks "
        "uordblks fordblks keepcost'.split()]\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.malloc.restype = ctypes.c_void_p; libc.mallinfo2.restype = Info\n"
        f"assert keep_freed_memory() if {keep} else True\n"
        "block = libc.malloc(64 << 20)\n"
        "print(libc.mallinfo2().hblkhd)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_glibc_takes_the_thresholds_and_serves_large_blocks_from_the_heap() -> None:
    # This suite runs on glibc, where the call must take: 64 MB is mapped on its own by default, not after.
    assert _mapped_bytes_while_holding_64_mb(keep=False) >= 64 << 20
    assert _mapped_bytes_while_holding_64_mb(keep=True) < 64 << 20


def test_channels_last_trunk_gives_the_plain_layouts_features() -> None:
    net = BreedNet("head")
    images = torch.rand(2, 3, 224, 224)
    features = net.trunk_features(images)
    plain = net.trunk.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        expected = plain(images.contiguous())
    assert torch.allclose(features, expected, atol=1e-4)
